from support import login


def test_login_then_queue(client):
    assert client.get("/tasks/").status_code == 302
    response = login(client, "xf_wang")
    assert response.status_code == 302
    page = client.get("/tasks/")
    assert page.status_code == 200
    assert "我的待办" in page.get_data(as_text=True)

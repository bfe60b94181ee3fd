"""Duplicate confirmation (确认是否重复件): the task lists the suspected duplicates it asks the officer to
compare (number linked to its case, date, accused, summary), and an unknown registration number is a
form error with the input kept, never 已提交 followed by the same task again."""

from support import login, post, register


def _repeat(client, engine) -> tuple[int, int, str]:
    """An original and a restatement of it; returns (original case, repeat case, confirmation task)."""
    login(client, "xf_wang")
    original = register(client)
    repeat = register(client, summary="某街道城建办主任张某在工程招标中收受施工方的礼金", received_on="2026-03-02")
    return original, repeat, engine.find_task(repeat, "Task_confirm_duplicate")


def _number(engine, case_id: int) -> str:
    return engine.case(case_id)["data"]["registration_number"]


def test_the_task_lists_the_suspected_duplicates_to_compare(client, engine):
    original, _, task_id = _repeat(client, engine)
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    context = page[page.index('id="decision-context"'):page.index('class="task-form"')]
    assert "疑似重复件" in context
    assert f'<a href="/cases/{original}">{_number(engine, original)}</a>' in context
    assert "2026-03-02" in context and "张某（某街道城建办）" in context
    assert "某街道城建办主任张某在工程招标中收受施工方礼金" in context


def test_an_unknown_registration_number_is_a_form_error(client, engine):
    _, repeat, task_id = _repeat(client, engine)
    response = post(client, f"/tasks/{task_id}", {"is_duplicate": "true", "duplicate_of": "XF-2026-999999",
                                                  "duplicate_note": "与前件同一事项"}, token_from=f"/tasks/{task_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "已提交" not in page
    assert '<div class="field has-error" data-field="duplicate_of">' in page
    assert "登记编号 XF-2026-999999 不存在或不可关联" in page
    assert "与前件同一事项" in page and 'value="XF-2026-999999"' in page
    assert engine.find_task(repeat, "Task_confirm_duplicate") == task_id
    assert "duplicate_of_case_id" not in engine.case(repeat)["data"]


def test_a_duplicate_needs_the_number_of_its_original(client, engine):
    _, repeat, task_id = _repeat(client, engine)
    response = post(client, f"/tasks/{task_id}", {"is_duplicate": "true"}, token_from=f"/tasks/{task_id}")
    assert response.status_code == 422
    assert '<div class="field has-error" data-field="duplicate_of">' in response.get_data(as_text=True)


def test_the_number_of_a_listed_candidate_links_the_item(client, engine):
    original, repeat, task_id = _repeat(client, engine)
    response = post(client, f"/tasks/{task_id}", {"is_duplicate": "true", "duplicate_of": _number(engine, original)},
                    token_from=f"/tasks/{task_id}")
    assert response.status_code == 302
    assert engine.case(repeat)["data"]["duplicate_of_case_id"] == original


def test_only_the_officer_decides_whether_an_item_is_a_duplicate(client, engine):
    """The duplicate check's default (is_duplicate = False before anyone judged) is no decision of the
    registration in the timeline; the officer's confirmation is."""
    _, repeat, task_id = _repeat(client, engine)
    post(client, f"/tasks/{task_id}", {"is_duplicate": "false", "duplicate_note": "另一事项"},
         token_from=f"/tasks/{task_id}")
    page = client.get(f"/cases/{repeat}").get_data(as_text=True)
    timeline = page[page.index('id="timeline"'):page.index("</ol>", page.index('id="timeline"'))]
    assert timeline.count('class="decision"') == 1
    confirmed = timeline[timeline.index("确认是否重复件"):]
    assert "是重复件：<strong>否</strong>" in confirmed[:confirmed.index("</li>")]

"""Search by registration number: a whole number finds its item (in any letter case), a part of one
finds every item whose number contains it."""

import re

from support import login, register


def _numbers(client, number: str) -> set[str]:
    page = client.get(f"/search/?number={number}").get_data(as_text=True)
    results = re.search(r'<table class="results">(.*?)</table>', page, re.S)
    return set(re.findall(r"XF-2026-\d{6}", results.group(1))) if results else set()


def test_whole_and_partial_registration_numbers(client):
    login(client, "xf_wang")
    for _ in range(3):
        register(client)
    assert _numbers(client, "XF-2026-000002") == {"XF-2026-000002"}
    assert _numbers(client, "xf-2026-000002 ") == {"XF-2026-000002"}
    assert _numbers(client, "000003") == {"XF-2026-000003"}
    assert _numbers(client, "2026-00000") == {"XF-2026-000001", "XF-2026-000002", "XF-2026-000003"}
    assert _numbers(client, "XF-2026-000009") == set()

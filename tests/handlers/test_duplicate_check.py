"""duplicates.find and duplicates.link: earlier items about the same accused (name and unit, normalised)
within the window, scored by summary similarity; linking by the registration number the officer types."""

from __future__ import annotations

import pytest
from petition_support import STAFF, call, diagram, item, petition

from engine import Engine, FormErrors, IncidentRaised
from handlers.duplicates import similarity

SUMMARY = "反映某镇副镇长张三在征地拆迁中收受好处费、违规分配补偿款"
RESTATED = "张三在征地拆迁过程中收受好处，违规分配补偿款问题"
UNRELATED = "反映张三违规操办儿子婚宴，大操大办收受礼金"


def _accused(name: str = "张三", unit: str = "某镇人民政府") -> list[dict]:
    return [{"name": name, "unit": unit, "position": "副镇长"}]


@pytest.fixture
def eng(engine: Engine) -> Engine:
    narrow = diagram("duplicates.bpmn", {
        'id="duplicates"': 'id="duplicates_narrow"', 'value="365"': 'value="30"', 'value="60"': 'value="90"'})
    broken = diagram("duplicates.bpmn", {'id="duplicates"': 'id="duplicates_broken"', 'value="365"': 'value="一年"'})
    engine.deploy({"duplicates.bpmn": diagram("duplicates.bpmn"), "narrow.bpmn": narrow, "broken.bpmn": broken},
                  by="test")
    return engine


def _start(eng: Engine, received_on: str, summary: str, accused: list[dict], process: str = "duplicates",
           **extra) -> int:
    return eng.start_case(process, item(received_on=received_on, summary=summary, accused=accused, **extra), STAFF)


def _candidates(eng: Engine, case_id: int) -> list[dict]:
    data = eng.case(case_id)["data"]
    assert data["is_duplicate"] is False
    return data["duplicate_candidates"]


def test_candidates_share_an_accused_and_the_matter_within_the_window(eng):
    original = _start(eng, "2026-01-10", SUMMARY, _accused())
    assert _candidates(eng, original) == []  # nothing earlier
    _start(eng, "2026-01-11", SUMMARY, _accused(unit="某县住房和城乡建设局"))  # another person of that name
    _start(eng, "2025-02-28", SUMMARY, _accused())  # 366 days before: outside the window
    _start(eng, "2026-01-12", UNRELATED, _accused())  # same person, another matter
    # sealed: never a candidate, not even as a number with a score (the list is stored in the new case)
    _start(eng, "2026-01-13", SUMMARY + "（补充材料）", _accused(), sealed=True)
    _start(eng, "2026-03-05", SUMMARY, _accused())  # received later than the item checked below
    # 365 days before: inside; spacing differs, and this accused is the second of two
    in_window = _start(eng, "2025-03-01", RESTATED, [*_accused("李四", "某村委"), *_accused("张 三", " 某镇人民政府")])

    repeat = _start(eng, "2026-03-01", RESTATED, [{"name": "李四"}, *_accused(" 张　三 ", "某镇人民政府 ")])
    candidates = _candidates(eng, repeat)
    assert [c["registration_number"] for c in candidates] == [
        petition(eng, in_window).registration_number,  # the same wording scores 100
        petition(eng, original).registration_number,
    ]
    best, first = candidates
    assert best == {"case_id": in_window, "registration_number": "XF-2026-000007", "received_on": "2025-03-01",
                    "summary": RESTATED, "accused": "张 三（某镇人民政府）", "score": 100}
    assert first["case_id"] == original and first["received_on"] == "2026-01-10"
    assert first["summary"] == SUMMARY and first["accused"] == "张三（某镇人民政府）"
    assert isinstance(first["score"], int) and 60 <= first["score"] < 100
    assert first["score"] == similarity(RESTATED, SUMMARY)


def test_window_and_minimum_score_come_from_the_diagram(eng):
    _start(eng, "2026-01-10", SUMMARY, _accused())  # 50 days before: outside a 30-day window
    near = _start(eng, "2026-02-20", RESTATED, _accused())  # similar, but below 90
    same = _start(eng, "2026-02-25", SUMMARY, _accused())
    checked = _start(eng, "2026-03-01", SUMMARY, _accused(), process="duplicates_narrow")
    assert [c["case_id"] for c in _candidates(eng, checked)] == [same]
    assert near not in [c["case_id"] for c in _candidates(eng, checked)]


def test_at_most_ten_candidates_best_first_and_long_summaries_cut(eng):
    long_summary = SUMMARY * 5
    for day in range(1, 13):
        _start(eng, f"2026-02-{day:02d}", long_summary if day % 2 else SUMMARY, _accused())
    candidates = _candidates(eng, _start(eng, "2026-03-01", SUMMARY, _accused()))
    assert len(candidates) == 10
    scores = [c["score"] for c in candidates]
    assert scores == sorted(scores, reverse=True) and scores[0] == 100
    assert all(len(c["summary"]) <= 100 for c in candidates)
    # equal scores: the most recently received first
    hundreds = [c["received_on"] for c in candidates if c["score"] == 100]
    assert hundreds == sorted(hundreds, reverse=True)


def test_no_accused_no_candidates(eng):
    _start(eng, "2026-01-10", SUMMARY, _accused())
    assert _candidates(eng, _start(eng, "2026-03-01", SUMMARY, [])) == []
    assert _candidates(eng, _start(eng, "2026-03-01", SUMMARY, [{"name": "张三"}])) == []  # a name alone


def test_bad_configuration_is_an_incident_with_a_clear_message(eng):
    with pytest.raises(IncidentRaised) as raised:
        _start(eng, "2026-03-01", SUMMARY, _accused(), process="duplicates_broken")
    assert "window_days 应为整数" in raised.value.message and "一年" in raised.value.message
    with pytest.raises(ValueError, match="min_score"):
        call(eng, "duplicates.find", 1, item(), {"min_score": "150"})
    with pytest.raises(ValueError, match="window_days"):
        call(eng, "duplicates.find", 1, item(), {"window_days": "-1"})


def _decide(eng: Engine, case_id: int, number: str) -> dict:
    eng.complete(eng.find_task(case_id, "Task_decide"), STAFF, {"is_duplicate": "true", "duplicate_of": number})
    return eng.case(case_id)["data"]


def test_link_to_the_original(eng):
    original = _start(eng, "2026-01-10", SUMMARY, _accused())
    repeat = _start(eng, "2026-03-01", RESTATED, _accused())
    data = _decide(eng, repeat, "  xf-2026-000001 ")
    assert (data["duplicate_of_case_id"], data["duplicate_of_registration_number"]) == (original, "XF-2026-000001")
    assert petition(eng, repeat).duplicate_of_id == petition(eng, original).id
    assert petition(eng, original).repeat_count == 1

    # a repeat of the repeat counts on the original matter
    third = _start(eng, "2026-03-02", RESTATED, _accused())
    data = _decide(eng, third, "XF-2026-000002")
    assert data["duplicate_of_case_id"] == original
    assert petition(eng, original).repeat_count == 2
    assert petition(eng, repeat).repeat_count == 0


def test_linking_again_counts_once_and_a_correction_moves_the_count(eng):
    first = _start(eng, "2026-01-10", SUMMARY, _accused())
    second = _start(eng, "2026-01-11", SUMMARY, _accused())
    repeat = _start(eng, "2026-03-01", SUMMARY, _accused())
    _decide(eng, repeat, "XF-2026-000001")
    assert call(eng, "duplicates.link", repeat, {"duplicate_of": "XF-2026-000001"})["duplicate_of_case_id"] == first
    assert petition(eng, first).repeat_count == 1
    call(eng, "duplicates.link", repeat, {"duplicate_of": "XF-2026-000002"})
    assert (petition(eng, first).repeat_count, petition(eng, second).repeat_count) == (0, 1)
    assert petition(eng, repeat).duplicate_of_id == petition(eng, second).id


def _refused(eng: Engine, case_id: int, number: str) -> str:
    """The form error for `number`; the task stays open and nothing is linked."""
    with pytest.raises(FormErrors) as refused:
        _decide(eng, case_id, number)
    assert [item["bpmn_id"] for item in eng.case(case_id)["work_items"]] == ["Task_decide"]
    assert set(refused.value.errors) == {"duplicate_of"}
    return refused.value.errors["duplicate_of"]


@pytest.mark.parametrize(("typed", "message"), [
    ("XF-2026-000999", "登记编号 XF-2026-000999 不存在或不可关联，请核对疑似重复件列表中的编号"),
    ("", "此项为必填项"),
    ("XF-2026-000002", "登记编号 XF-2026-000002 是本件自身，不能关联为重复件"),
])
def test_bad_numbers_are_refused_in_the_form(eng, typed, message):
    original = _start(eng, "2026-01-10", SUMMARY, _accused())
    repeat = _start(eng, "2026-03-01", SUMMARY, _accused())
    assert _refused(eng, repeat, typed) == message
    assert "duplicate_of_case_id" not in eng.case(repeat)["data"]
    assert petition(eng, repeat).duplicate_of_id is None and petition(eng, original).repeat_count == 0


def test_a_number_is_not_checked_when_the_item_is_not_a_duplicate(eng):
    repeat = _start(eng, "2026-03-01", SUMMARY, _accused())
    assert call(eng, "duplicates.check_link", repeat, {"is_duplicate": False, "duplicate_of": "无"}) == {}
    assert call(eng, "duplicates.check_link", repeat, {"is_duplicate": True, "duplicate_of": "无"}) == {
        "error": "登记编号 无 不存在或不可关联，请核对疑似重复件列表中的编号"}


def test_the_link_handler_raises_what_the_form_check_refuses(eng):
    repeat = _start(eng, "2026-03-01", SUMMARY, _accused())
    with pytest.raises(ValueError, match="不存在或不可关联"):
        call(eng, "duplicates.link", repeat, {"duplicate_of": "XF-2026-000999"})


def test_a_sealed_item_answers_a_link_as_a_missing_one(eng):
    sealed = _start(eng, "2026-01-10", SUMMARY, _accused(), sealed=True)
    repeat = _start(eng, "2026-03-01", SUMMARY, _accused())
    assert _refused(eng, repeat, "XF-2026-000001").startswith("登记编号 XF-2026-000001 不存在或不可关联")
    assert petition(eng, repeat).duplicate_of_id is None and petition(eng, sealed).repeat_count == 0


def test_two_items_cannot_be_repeats_of_each_other(eng):
    first = _start(eng, "2026-01-10", SUMMARY, _accused())
    second = _start(eng, "2026-01-11", SUMMARY, _accused())
    _decide(eng, second, "XF-2026-000001")
    assert "不能互相关联" in _refused(eng, first, "XF-2026-000002")
    assert petition(eng, first).repeat_count == 1 and petition(eng, first).duplicate_of_id is None


def test_similarity_works_on_unsegmented_chinese():
    assert similarity(SUMMARY, SUMMARY) == 100
    assert similarity(SUMMARY, RESTATED) >= 60
    assert similarity(SUMMARY, "张三收受好处费") >= 60  # a brief restatement of the same matter
    assert similarity(SUMMARY, UNRELATED) < 60
    assert similarity(SUMMARY, "") == similarity(None, SUMMARY) == 0
    assert similarity("张三，收受 好处费！", "张三收受好处费") == 100  # punctuation and spacing ignored

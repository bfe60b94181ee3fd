from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from SpiffWorkflow.camunda.parser import CamundaParser

from engine.bpmn.form_checks import form_problems
from engine.bpmn.forms import (
    Form,
    FormErrors,
    FormField,
    Option,
    form_from_spiff,
    validate_submission,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
JAN_1, JAN_2 = date(2026, 1, 1), date(2026, 1, 2)
UTC_0130 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)

# The stock CamundaParser reads camunda:formData only when the task has a camunda:formKey.
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="petition" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="register"/>
    <bpmn:userTask id="register" name="登记" camunda:formKey="register">
      <bpmn:extensionElements>
        <camunda:formData>
          {fields}
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="register" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

REGISTER_FIELDS = """
<camunda:formField id="reporter_name" label="举报人姓名" type="string">
  <camunda:properties>
    <camunda:property id="confidential" value="true"/>
    <camunda:property id="help" value="实名举报请填写"/>
  </camunda:properties>
  <camunda:validation>
    <camunda:constraint name="required"/>
    <camunda:constraint name="minlength" config="2"/>
    <camunda:constraint name="maxlength" config="5"/>
  </camunda:validation>
</camunda:formField>
<camunda:formField id="summary" label="反映问题" type="text">
  <camunda:properties><camunda:property id="rows" value="6"/></camunda:properties>
  <camunda:validation><camunda:constraint name="maxlength" config="10"/></camunda:validation>
</camunda:formField>
<camunda:formField id="age" label="年龄" type="long">
  <camunda:validation>
    <camunda:constraint name="min" config="1"/>
    <camunda:constraint name="max" config="120"/>
  </camunda:validation>
</camunda:formField>
<camunda:formField id="amount" label="涉及金额（万元）" type="decimal">
  <camunda:validation>
    <camunda:constraint name="min" config="0.5"/>
    <camunda:constraint name="max" config="99.99"/>
  </camunda:validation>
</camunda:formField>
<camunda:formField id="anonymous" label="匿名" type="boolean" defaultValue="false"/>
<camunda:formField id="received_on" label="收件日期" type="date">
  <camunda:validation>
    <camunda:constraint name="required"/>
    <camunda:constraint name="min" config="2026-01-01"/>
    <camunda:constraint name="max" config="2026-12-31"/>
  </camunda:validation>
</camunda:formField>
<camunda:formField id="visited_at" label="来访时间" type="datetime">
  <camunda:validation><camunda:constraint name="min" config="2026-01-01"/></camunda:validation>
</camunda:formField>
<camunda:formField id="channel" label="来源" type="enum" defaultValue="letter">
  <camunda:value id="letter" name="来信"/>
  <camunda:value id="visit" name="来访"/>
  <camunda:value id="online" name="网络举报"/>
  <camunda:validation><camunda:constraint name="required"/></camunda:validation>
</camunda:formField>
<camunda:formField id="accused" label="被反映人" type="list"/>
<camunda:formField id="office" label="受理机关" type="string" defaultValue="区纪委监委信访室">
  <camunda:validation><camunda:constraint name="readonly"/></camunda:validation>
</camunda:formField>
<camunda:formField id="note" type="string" defaultValue=""/>
"""


def parse_form(fields_xml: str) -> Form:
    parser = CamundaParser()
    parser.add_bpmn_xml(etree.fromstring(BPMN.format(fields=fields_xml).encode()), filename="test.bpmn")
    return form_from_spiff(parser.get_spec("petition").task_specs["register"].form)


@pytest.fixture(scope="module")
def form() -> Form:
    return parse_form(REGISTER_FIELDS)


def errors_of(form: Form, submitted: dict) -> dict[str, str]:
    with pytest.raises(FormErrors) as info:
        validate_submission(form, submitted)
    return info.value.errors


def one_field(type_: str, **kwargs) -> Form:
    return Form((FormField(id="x", label="X", type=type_, **kwargs),))


VALID_HTML = {
    "reporter_name": " 张三 ",
    "summary": "第一行\r\n第二行",
    "age": "42",
    "amount": "1.50",
    "anonymous": "on",
    "received_on": "2026-11-23",
    "visited_at": "2026-11-23T09:30",
    "channel": "visit",
    "accused": "李四\r\n\r\n 王五 ",
}

EXPECTED = {
    "reporter_name": "张三",
    "summary": "第一行\n第二行",
    "age": 42,
    "amount": Decimal("1.50"),
    "anonymous": True,
    "received_on": date(2026, 11, 23),
    "visited_at": datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI),
    "channel": "visit",
    "accused": ["李四", "王五"],
}


# ---------------------------------------------------------------- form_from_spiff


def test_form_from_spiff_converts_every_field(form):
    assert [(f.id, f.type) for f in form.fields] == [
        ("reporter_name", "string"),
        ("summary", "text"),
        ("age", "long"),
        ("amount", "decimal"),
        ("anonymous", "boolean"),
        ("received_on", "date"),
        ("visited_at", "datetime"),
        ("channel", "enum"),
        ("accused", "list"),
        ("office", "string"),
        ("note", "string"),
    ]
    name = form.field("reporter_name")
    assert (name.label, name.required, name.readonly) == ("举报人姓名", True, False)
    assert (name.min_length, name.max_length) == (2, 5)
    assert name.confidential is True
    assert dict(name.properties) == {"confidential": "true", "help": "实名举报请填写"}
    assert form.field("summary").properties["rows"] == "6"
    assert form.field("summary").confidential is False
    age = form.field("age")
    assert (age.min, age.max) == (Decimal(1), Decimal(120))
    assert (form.field("amount").min, form.field("amount").max) == (Decimal("0.5"), Decimal("99.99"))
    received = form.field("received_on")
    assert (received.min_date, received.max_date, received.min, received.max) == (
        date(2026, 1, 1), date(2026, 12, 31), None, None,
    )
    assert form.field("visited_at").min_date == date(2026, 1, 1)
    channel = form.field("channel")
    assert channel.options == (
        Option("letter", "来信"), Option("visit", "来访"), Option("online", "网络举报"),
    )
    assert (channel.default, channel.required) == ("letter", True)
    assert form.field("anonymous").default == "false"
    office = form.field("office")
    assert (office.readonly, office.default) == (True, "区纪委监委信访室")
    assert all(f.invalid_constraints == () for f in form.fields)


def test_form_from_spiff_fallbacks(form):
    note = form.field("note")
    assert note.label == "note"  # no label attribute: the id is shown instead
    assert note.default is None  # defaultValue="" means no default
    assert note.options == () and dict(note.properties) == {}


def test_parsed_form_has_no_problems(form):
    assert form_problems(form) == []


def test_form_field_lookup(form):
    assert form.field("age").label == "年龄"
    assert form.field("nope") is None
    assert Form().field("age") is None


def test_form_from_spiff_keeps_bad_constraints_for_form_problems():
    form = parse_form("""
<camunda:formField id="age" label="年龄" type="long">
  <camunda:validation>
    <camunda:constraint name="min" config="abc"/>
    <camunda:constraint name="max" config="120"/>
    <camunda:constraint name="pattern" config="[0-9]+"/>
  </camunda:validation>
</camunda:formField>
<camunda:formField id="name" label="姓名" type="string">
  <camunda:validation><camunda:constraint name="maxlength" config="ten"/></camunda:validation>
</camunda:formField>
<camunda:formField id="day" label="日期" type="date">
  <camunda:validation><camunda:constraint name="min" config="2026/01/01"/></camunda:validation>
</camunda:formField>
<camunda:formField id="kind" label="类别" type="enum"/>
<camunda:formField id="colour" label="颜色" type="color"/>
""")
    age = form.field("age")
    assert (age.min, age.max) == (None, Decimal(120))
    assert age.invalid_constraints == (("min", "abc"), ("pattern", "[0-9]+"))
    assert form.field("name").max_length is None
    assert form_problems(form) == [
        "字段 age：校验规则 min 的配置 'abc' 不是数字",
        "字段 age：不支持的校验规则 'pattern'",
        "字段 name：校验规则 maxlength 的配置 'ten' 不是非负整数",
        "字段 day：校验规则 min 的配置 '2026/01/01' 不是日期（YYYY-MM-DD）",
        "字段 kind：枚举字段没有可选项",
        "字段 colour：未知类型 'color'",
    ]


def test_unparsable_constraints_are_not_enforced_at_runtime():
    form = parse_form("""
<camunda:formField id="age" label="年龄" type="long">
  <camunda:validation><camunda:constraint name="max" config="many"/></camunda:validation>
</camunda:formField>""")
    assert validate_submission(form, {"age": "1000"}) == {"age": 1000}


# ---------------------------------------------------------------- validate_submission: whole forms


def test_html_strings_are_coerced(form):
    cleaned = validate_submission(form, VALID_HTML)
    assert cleaned == EXPECTED
    assert type(cleaned["age"]) is int
    assert cleaned["visited_at"].utcoffset().total_seconds() == 8 * 3600


def test_json_values_are_accepted(form):
    submitted = {
        "reporter_name": "张三",
        "summary": "第一行\n第二行",
        "age": 42,
        "amount": 1.5,
        "anonymous": True,
        "received_on": "2026-11-23",
        "visited_at": "2026-11-23T01:30:00Z",
        "channel": "visit",
        "accused": ["李四", " 王五", ""],
    }
    assert validate_submission(form, submitted) == {**EXPECTED, "amount": Decimal("1.5")}


def test_submission_is_not_mutated(form):
    submitted = dict(VALID_HTML)
    validate_submission(form, submitted)
    assert submitted == VALID_HTML


def test_all_errors_are_reported_at_once(form):
    submitted = {
        "reporter_name": "张",
        "summary": "这段文字一共有十一个字啊",
        "age": "四十二",
        "amount": "100",
        "anonymous": "maybe",
        "received_on": "2026/11/23",
        "visited_at": "2025-06-01T08:00",
        "channel": "phone",
        "accused": [1, 2],
        "office": "别的机关",
        "hacker": "<script>",
    }
    errors = errors_of(form, submitted)
    assert errors == {
        "reporter_name": "不能少于 2 个字符",
        "summary": "不能超过 10 个字符",
        "age": "应为整数",
        "amount": "不能大于 99.99",
        "anonymous": "是/否 取值无效",
        "received_on": "应为日期（YYYY-MM-DD）",
        "visited_at": "不能早于 2026-01-01",
        "channel": "请从可选项中选择",
        "accused": "应为文本列表",
        "office": "只读字段不能修改",
        "hacker": "表单中没有此字段",
    }


def test_missing_required_fields(form):
    errors = errors_of(form, {"reporter_name": "   ", "received_on": ""})
    assert errors == dict.fromkeys(("reporter_name", "received_on", "channel"), "此项为必填项")


def test_missing_optional_fields_are_absent_except_booleans(form):
    submitted = {"reporter_name": "张三", "received_on": "2026-03-02", "channel": "letter"}
    submitted |= {"age": "", "amount": None}
    cleaned = validate_submission(form, submitted)
    assert cleaned == {
        "reporter_name": "张三",
        "received_on": date(2026, 3, 2),
        "channel": "letter",
        "anonymous": False,
    }


def test_form_errors_summary(form):
    with pytest.raises(FormErrors) as info:
        validate_submission(form, {"age": "x", "bogus": 1})
    error = info.value
    assert isinstance(error, Exception)
    assert set(error.errors) == {"age", "bogus", "reporter_name", "received_on", "channel"}
    text = str(error)
    assert text.startswith("表单有 5 处错误")
    assert "age：应为整数" in text and "bogus：表单中没有此字段" in text


# ---------------------------------------------------------------- unknown keys and empty forms


def test_unknown_key_rejected_even_when_everything_else_is_valid(form):
    assert errors_of(form, {**VALID_HTML, "case_status": "closed"}) == {"case_status": "表单中没有此字段"}


def test_form_without_fields_accepts_only_empty_submission():
    assert validate_submission(Form(), {}) == {}
    assert errors_of(Form(), {"x": ""}) == {"x": "表单中没有此字段"}


# ---------------------------------------------------------------- per type coercion


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("string", "  信访  ", "信访"),
        ("text", " a\r\nb ", "a\nb"),
        ("long", "12", 12),
        ("long", " -3 ", -3),
        ("long", "+7", 7),
        ("long", 7, 7),
        ("long", "１２", 12),  # full-width digits from a Chinese IME
        ("decimal", "1.50", Decimal("1.50")),
        ("decimal", "-.5", Decimal("-0.5")),
        ("decimal", "3", Decimal(3)),
        ("decimal", 2, Decimal(2)),
        ("decimal", 0.1, Decimal("0.1")),
        ("decimal", Decimal("2.25"), Decimal("2.25")),
        ("boolean", True, True),
        ("boolean", False, False),
        ("boolean", "true", True),
        ("boolean", "FALSE", False),
        ("boolean", "on", True),
        ("boolean", "off", False),
        ("boolean", "1", True),
        ("boolean", "0", False),
        ("boolean", 1, True),
        ("boolean", 0, False),
        ("boolean", "是", True),
        ("boolean", "否", False),
        ("date", "2026-11-23", date(2026, 11, 23)),
        ("date", date(2026, 2, 28), date(2026, 2, 28)),
        ("datetime", "2026-11-23T09:30", datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)),
        ("datetime", "2026-11-23 09:30:15", datetime(2026, 11, 23, 9, 30, 15, tzinfo=SHANGHAI)),
        ("datetime", "2026-11-23T01:30:00+00:00", datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)),
        ("datetime", UTC_0130, datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)),
        ("enum", "b", "b"),
        ("list", ["甲", " 乙 ", "  "], ["甲", "乙"]),
        ("list", ("甲",), ["甲"]),
        ("list", "甲\n乙\r\n\n 丙 ", ["甲", "乙", "丙"]),
    ],
)
def test_coercion(type_, raw, expected):
    form = one_field(type_, options=(Option("a", "甲"), Option("b", "乙")))
    cleaned = validate_submission(form, {"x": raw})
    assert cleaned == {"x": expected}
    assert type(cleaned["x"]) is type(expected)


def test_naive_datetime_is_shanghai_and_aware_is_converted():
    form = one_field("datetime")
    naive = validate_submission(form, {"x": "2026-11-23T09:30"})["x"]
    assert naive.tzinfo is not None and naive.utcoffset().total_seconds() == 8 * 3600
    assert naive == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    aware = validate_submission(form, {"x": "2026-11-23T09:30:00-05:00"})["x"]
    assert aware == datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    assert aware.hour == 22  # re-expressed in Beijing time


@pytest.mark.parametrize(
    ("type_", "raw", "message"),
    [
        ("string", 123, "应为文本"),
        ("text", ["a"], "应为文本"),
        ("long", "12.5", "应为整数"),
        ("long", "abc", "应为整数"),
        ("long", "1_000", "应为整数"),
        ("long", "1e3", "应为整数"),
        ("long", 12.0, "应为整数"),
        ("long", True, "应为整数"),
        ("decimal", "abc", "应为数字"),
        ("decimal", "NaN", "应为数字"),
        ("decimal", "1e5", "应为数字"),
        ("decimal", "1,5", "应为数字"),
        ("decimal", float("inf"), "应为数字"),
        ("decimal", True, "应为数字"),
        ("boolean", "maybe", "是/否 取值无效"),
        ("boolean", "yes", "是/否 取值无效"),
        ("boolean", 2, "是/否 取值无效"),
        ("date", "2026/11/23", "应为日期（YYYY-MM-DD）"),
        ("date", "2026-02-30", "应为日期（YYYY-MM-DD）"),
        ("date", "20261123", "应为日期（YYYY-MM-DD）"),
        ("date", "2026-11-23T09:00", "应为日期（YYYY-MM-DD）"),
        ("date", datetime(2026, 11, 23, 9, 0), "应为日期（YYYY-MM-DD）"),
        ("date", 20261123, "应为日期（YYYY-MM-DD）"),
        ("datetime", "2026-11-23", "应为日期时间（YYYY-MM-DD HH:MM）"),
        ("datetime", "tomorrow", "应为日期时间（YYYY-MM-DD HH:MM）"),
        ("datetime", "2026-11-23T25:00", "应为日期时间（YYYY-MM-DD HH:MM）"),
        ("enum", "c", "请从可选项中选择"),
        ("enum", "甲", "请从可选项中选择"),  # the label is not the id
        ("enum", 1, "请从可选项中选择"),
        ("list", [1, 2], "应为文本列表"),
        ("list", {"a": "b"}, "应为文本列表"),
    ],
)
def test_invalid_values(type_, raw, message):
    form = one_field(type_, options=(Option("a", "甲"), Option("b", "乙")))
    assert errors_of(form, {"x": raw}) == {"x": message}


@pytest.mark.parametrize("type_", ["string", "text", "long", "decimal", "date", "datetime", "enum", "list"])
@pytest.mark.parametrize("raw", [None, "", "   ", "\r\n"])
def test_empty_values_count_as_missing(type_, raw):
    options = (Option("a", "甲"),)
    assert validate_submission(one_field(type_, options=options), {"x": raw}) == {}
    assert errors_of(one_field(type_, options=options, required=True), {"x": raw}) == {"x": "此项为必填项"}


def test_empty_list_is_missing_for_list_but_invalid_for_string():
    assert errors_of(one_field("list", required=True), {"x": []}) == {"x": "此项为必填项"}
    assert errors_of(one_field("list", required=True), {"x": ["", " "]}) == {"x": "此项为必填项"}
    assert validate_submission(one_field("list"), {"x": []}) == {}
    assert errors_of(one_field("string"), {"x": []}) == {"x": "应为文本"}


# ---------------------------------------------------------------- booleans


def test_missing_boolean_is_false():
    assert validate_submission(one_field("boolean"), {}) == {"x": False}
    assert validate_submission(one_field("boolean"), {"x": ""}) == {"x": False}


def test_required_boolean_must_be_supplied():
    required = one_field("boolean", required=True)
    assert errors_of(required, {}) == {"x": "此项为必填项"}
    # An explicit answer, even "no", satisfies `required`.
    assert validate_submission(required, {"x": "false"}) == {"x": False}
    assert validate_submission(required, {"x": "on"}) == {"x": True}


# ---------------------------------------------------------------- constraints


def test_length_limits_count_characters_and_are_inclusive():
    form = one_field("string", min_length=2, max_length=5)
    assert validate_submission(form, {"x": "纪检监察室"}) == {"x": "纪检监察室"}  # 5 characters, 15 bytes
    assert validate_submission(form, {"x": " ab "}) == {"x": "ab"}  # stripped before counting
    assert errors_of(form, {"x": "纪检监察委员会"}) == {"x": "不能超过 5 个字符"}
    assert errors_of(form, {"x": " a "}) == {"x": "不能少于 2 个字符"}


def test_crlf_line_break_counts_as_one_character():
    form = one_field("text", max_length=3)
    assert validate_submission(form, {"x": "a\r\nb"}) == {"x": "a\nb"}
    assert errors_of(form, {"x": "a\r\nbc"}) == {"x": "不能超过 3 个字符"}


def test_long_bounds_are_inclusive():
    form = one_field("long", min=Decimal(1), max=Decimal(120))
    assert validate_submission(form, {"x": "1"}) == {"x": 1}
    assert validate_submission(form, {"x": 120}) == {"x": 120}
    assert errors_of(form, {"x": "0"}) == {"x": "不能小于 1"}
    assert errors_of(form, {"x": 121}) == {"x": "不能大于 120"}


def test_decimal_bounds():
    form = one_field("decimal", min=Decimal("0.5"), max=Decimal("99.99"))
    assert validate_submission(form, {"x": "0.50"}) == {"x": Decimal("0.5")}
    assert validate_submission(form, {"x": "99.99"}) == {"x": Decimal("99.99")}
    assert errors_of(form, {"x": "0.49"}) == {"x": "不能小于 0.5"}
    assert errors_of(form, {"x": 100}) == {"x": "不能大于 99.99"}


def test_date_bounds():
    form = one_field("date", min_date=date(2026, 1, 1), max_date=date(2026, 12, 31))
    assert validate_submission(form, {"x": "2026-01-01"}) == {"x": date(2026, 1, 1)}
    assert validate_submission(form, {"x": "2026-12-31"}) == {"x": date(2026, 12, 31)}
    assert errors_of(form, {"x": "2025-12-31"}) == {"x": "不能早于 2026-01-01"}
    assert errors_of(form, {"x": "2027-01-01"}) == {"x": "不能晚于 2026-12-31"}


def test_datetime_bounds_use_the_shanghai_date():
    form = one_field("datetime", min_date=date(2026, 1, 1), max_date=date(2026, 1, 31))
    # 17:00 UTC on 31 Dec is 01:00 on 1 Jan in Beijing.
    assert validate_submission(form, {"x": "2025-12-31T17:00:00Z"})
    assert errors_of(form, {"x": "2025-12-31T15:00:00Z"}) == {"x": "不能早于 2026-01-01"}
    assert validate_submission(form, {"x": "2026-01-31T23:59"})
    assert errors_of(form, {"x": "2026-01-31T16:00:00Z"}) == {"x": "不能晚于 2026-01-31"}


def test_type_error_is_reported_instead_of_bound_error():
    form = one_field("long", min=Decimal(5))
    assert errors_of(form, {"x": "3.5"}) == {"x": "应为整数"}


# ---------------------------------------------------------------- readonly


def test_readonly_field_not_submitted_is_fine_and_never_in_result(form):
    cleaned = validate_submission(form, VALID_HTML)
    assert "office" not in cleaned
    assert validate_submission(form, {**VALID_HTML, "office": " 区纪委监委信访室 "}) == EXPECTED


def test_readonly_value_must_equal_default(form):
    assert errors_of(form, {**VALID_HTML, "office": "市纪委"}) == {"office": "只读字段不能修改"}


def test_readonly_compares_cleaned_values():
    form = Form((
        FormField(id="n", label="N", type="long", readonly=True, default="12"),
        FormField(id="b", label="B", type="boolean", readonly=True, default="true"),
    ))
    assert validate_submission(form, {"n": 12, "b": "on"}) == {}
    assert validate_submission(form, {}) == {}  # a readonly boolean is not turned into False
    assert errors_of(form, {"n": "13", "b": "false"}) == {"n": "只读字段不能修改", "b": "只读字段不能修改"}
    assert errors_of(form, {"n": "abc"}) == {"n": "只读字段不能修改"}


def test_readonly_without_default_rejects_any_value():
    form = one_field("string", readonly=True, required=True)
    assert validate_submission(form, {}) == {}  # the client cannot be asked for it
    assert validate_submission(form, {"x": ""}) == {}
    assert errors_of(form, {"x": "something"}) == {"x": "只读字段不能修改"}


# ---------------------------------------------------------------- form_problems


def field(id_: str = "x", type_: str = "string", **kwargs) -> FormField:
    return FormField(id=id_, label=id_, type=type_, **kwargs)


def test_form_problems_accepts_good_direct_form():
    form = Form((
        field("a", min_length=0, max_length=3, default="abc"),
        field("b", "long", min=Decimal(1), max=Decimal(1), default="1"),
        field("c", "date", min_date=date(2026, 1, 1), default="2026-01-01"),
        field("d", "enum", options=(Option("y", "是"),), default="y"),
        field("e", "boolean", default="否"),
        field("f", "list", default="甲\n乙"),
        field("g", "datetime", default="2026-01-01T08:00"),
    ))
    assert form_problems(form) == []


def test_form_problems_duplicate_and_missing_ids():
    form = Form((field("a"), field("b"), field("a"), FormField(id="", label="无名", type="string")))
    assert form_problems(form) == ["字段 a：id 重复", "字段（标签 '无名'）：缺少 id"]


def test_form_problems_unknown_type():
    assert form_problems(Form((field("a", "number"),))) == ["字段 a：未知类型 'number'"]
    assert form_problems(Form((field("a", ""),))) == ["字段 a：未知类型 ''"]


def test_form_problems_enum_options():
    assert form_problems(Form((field("a", "enum"),))) == ["字段 a：枚举字段没有可选项"]
    twice = (Option("x", "一"), Option("x", "二"))
    assert form_problems(Form((field("a", "enum", options=twice),))) == ["字段 a：可选项 id 重复"]


NEGATIVE_LENGTH = (("minlength", "-1"),)


@pytest.mark.parametrize(
    ("type_", "kwargs", "problem"),
    [
        ("long", {"min": Decimal(10), "max": Decimal(1)}, "校验规则 min/max 下限大于上限"),
        ("string", {"min_length": 10, "max_length": 2}, "校验规则 minlength/maxlength 下限大于上限"),
        ("date", {"min_date": JAN_2, "max_date": JAN_1}, "校验规则 min/max 下限大于上限"),
        ("text", {"max_length": -1}, "校验规则 minlength/maxlength 不能为负数"),
        ("long", {"min_length": 3}, "校验规则 minlength/maxlength 不适用于 long 类型"),
        ("string", {"max": Decimal(3)}, "校验规则 min/max 不适用于 string 类型"),
        ("long", {"min_date": date(2026, 1, 1)}, "校验规则 min/max 不适用于 long 类型"),
        ("date", {"min": Decimal(3)}, "校验规则 min/max 不适用于 date 类型"),
        ("long", {"invalid_constraints": (("max", "x"),)}, "校验规则 max 的配置 'x' 不是数字"),
        ("text", {"invalid_constraints": NEGATIVE_LENGTH}, "校验规则 minlength 的配置 '-1' 不是非负整数"),
        ("string", {"invalid_constraints": (("validator", None),)}, "不支持的校验规则 'validator'"),
    ],
)
def test_form_problems_constraints(type_, kwargs, problem):
    assert form_problems(Form((field("a", type_, **kwargs),))) == [f"字段 a：{problem}"]


@pytest.mark.parametrize(
    ("type_", "kwargs", "default", "reason"),
    [
        ("long", {}, "abc", "应为整数"),
        ("long", {"max": Decimal(10)}, "11", "不能大于 10"),
        ("decimal", {}, "1,5", "应为数字"),
        ("boolean", {}, "yes", "是/否 取值无效"),
        ("date", {}, "23/11/2026", "应为日期（YYYY-MM-DD）"),
        ("date", {"min_date": date(2026, 1, 1)}, "2025-12-31", "不能早于 2026-01-01"),
        ("string", {"max_length": 2}, "信访室", "不能超过 2 个字符"),
        ("enum", {"options": (Option("a", "甲"),)}, "甲", "请从可选项中选择"),
    ],
)
def test_form_problems_invalid_default(type_, kwargs, default, reason):
    form = Form((field("a", type_, default=default, **kwargs),))
    assert form_problems(form) == [f"字段 a：默认值 {default!r} 无效：{reason}"]


def test_form_problems_rejects_expression_defaults():
    form = Form((field("a", default="${reporterName}"), field("b", "long", default="#{count}")))
    assert form_problems(form) == ["字段 a：默认值不支持表达式", "字段 b：默认值不支持表达式"]


def test_form_problems_reports_every_problem_of_every_field():
    form = Form((
        field("a", "enum", default="z"),
        field("b", "long", min=Decimal(5), max=Decimal(1), default="x"),
        field("a", "color"),
    ))
    assert form_problems(form) == [
        "字段 a：枚举字段没有可选项",
        "字段 a：默认值 'z' 无效：请从可选项中选择",
        "字段 b：校验规则 min/max 下限大于上限",
        "字段 b：默认值 'x' 无效：应为整数",
        "字段 a：id 重复",
        "字段 a：未知类型 'color'",
    ]


def test_unknown_type_at_runtime_is_a_programming_error():
    with pytest.raises(ValueError, match="未知类型"):
        validate_submission(one_field("color"), {"x": "red"})


# --- repeating records (several accused) -----------------------------------------------------------------

ACCUSED = Form((
    FormField("summary", "问题摘要", "text", required=True),
    FormField("accused.name", "姓名", "string", required=True, max_length=20),
    FormField("accused.unit", "单位", "string"),
    FormField("accused.party_member", "中共党员", "boolean"),
))


def test_records_are_cleaned_one_by_one_and_blank_rows_dropped() -> None:
    cleaned = validate_submission(ACCUSED, {"summary": "摘要", "accused": [
        {"name": " 张三 ", "unit": "某局", "party_member": "on"},
        {"name": "", "unit": "  "},
        {"name": "李四"},
    ]})
    assert cleaned == {"summary": "摘要", "accused": [
        {"name": "张三", "unit": "某局", "party_member": True},
        {"name": "李四", "party_member": False},
    ]}


def test_record_errors_name_the_row_and_field() -> None:
    with pytest.raises(FormErrors) as errors:
        validate_submission(ACCUSED, {"summary": "摘要", "accused": [
            {"name": "张三"}, {"unit": "某局"}, {"name": "王" * 21, "age": "40"}]})
    assert errors.value.errors == {"accused.1.name": "此项为必填项", "accused.2.name": "不能超过 20 个字符",
                                   "accused.2.age": "表单中没有此字段"}


def test_a_group_with_a_required_field_needs_one_record() -> None:
    with pytest.raises(FormErrors) as errors:
        validate_submission(ACCUSED, {"summary": "摘要", "accused": [{"name": " "}]})
    assert errors.value.errors == {"accused": "至少填写一条"}


def test_records_must_be_a_list_and_dotted_ids_are_not_top_level_fields() -> None:
    with pytest.raises(FormErrors) as errors:
        validate_submission(ACCUSED, {"summary": "摘要", "accused": "张三", "accused.name": "张三"})
    assert errors.value.errors == {"accused": "应为记录列表", "accused.name": "表单中没有此字段"}


def test_a_group_may_not_share_its_name_with_a_field() -> None:
    form = Form((FormField("accused", "被反映人", "string"), FormField("accused.name", "姓名", "string")))
    assert form_problems(form) == ["字段 accused：与记录组 accused.* 重名"]


# ---------------------------------------------------------------- conditionally required fields

CONDITIONAL_FIELDS = """
<camunda:formField id="action" label="本次提交" type="enum">
  <camunda:validation><camunda:constraint name="required"/></camunda:validation>
  <camunda:value id="report" name="提交调查报告"/>
  <camunda:value id="extension" name="申请延期"/>
</camunda:formField>
<camunda:formField id="finding" label="属实情况" type="string">
  <camunda:properties><camunda:property id="required_when" value="action=report"/></camunda:properties>
</camunda:formField>
<camunda:formField id="urgent" label="加急" type="boolean"/>
<camunda:formField id="reason" label="加急理由" type="string">
  <camunda:properties><camunda:property id="required_when" value="urgent=true"/></camunda:properties>
</camunda:formField>
"""


def test_a_field_is_required_only_while_its_condition_holds():
    form = parse_form(CONDITIONAL_FIELDS)
    assert form.field("finding").required_when == ("action", ("report",))
    assert form.required_hint(form.field("finding")) == "本次提交为“提交调查报告”时必填"
    assert form.required_hint(form.field("reason")) == "加急为“是”时必填"
    assert form_problems(form) == []
    assert errors_of(form, {"action": "report"}) == {"finding": "此项为必填项"}
    assert validate_submission(form, {"action": "extension"}) == {"action": "extension", "urgent": False}
    assert errors_of(form, {"action": "extension", "urgent": "true"}) == {"reason": "此项为必填项"}
    # the condition's own field is wrong: that error alone, not a second one on the dependent field
    assert errors_of(form, {"action": "nonsense"}) == {"action": "请从可选项中选择"}


@pytest.mark.parametrize(("condition", "problem"), [
    ("action", "条件必填 required_when='action' 应写作 字段id=取值[,取值]"),
    ("nobody=report", "条件必填引用的字段 nobody 不是本表单的单个字段"),
    ("action=approve", "条件必填的取值 'approve' 不是字段 action 的可选项"),
    ("note=x", "条件必填只能引用枚举或是/否字段，note 是 string"),
])
def test_form_problems_check_the_condition(condition, problem):
    form = parse_form(f"""
        <camunda:formField id="action" label="本次提交" type="enum">
          <camunda:value id="report" name="报告"/>
        </camunda:formField>
        <camunda:formField id="note" label="备注" type="string"/>
        <camunda:formField id="finding" label="属实情况" type="string">
          <camunda:properties><camunda:property id="required_when" value="{condition}"/></camunda:properties>
        </camunda:formField>""")
    assert form_problems(form) == [f"字段 finding：{problem}"]

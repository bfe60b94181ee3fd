"""The administration forms. Choices that come from the database (departments, roles) are filled in by
the view; an unknown value is refused by engine/org/administration.py with a Chinese message, so the
fields do not check choices themselves (WTForms' own message is English)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, PasswordField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Regexp
from wtforms.widgets import CheckboxInput

from engine.api import CODE_PATTERN, CODE_RULE, MIN_PASSWORD_LENGTH, USER_NAME_PATTERN, USER_NAME_RULE


def _password(label: str) -> PasswordField:
    return PasswordField(label, validators=[
        DataRequired("请输入密码"),
        Length(min=MIN_PASSWORD_LENGTH, message=f"密码至少需要 {MIN_PASSWORD_LENGTH} 位")])


class DepartmentForm(FlaskForm):
    code = StringField("部门代码", validators=[
        DataRequired("请填写部门代码"), Length(max=60, message="部门代码最多 60 个字符"),
        Regexp(CODE_PATTERN, message=f"部门代码{CODE_RULE}")])
    name = StringField("部门名称", validators=[
        DataRequired("请填写部门名称"), Length(max=100, message="部门名称最多 100 个字")])
    kind = SelectField("部门类别", validate_choice=False)


class UserDetailsForm(FlaskForm):
    display_name = StringField("姓名", validators=[
        DataRequired("请填写姓名"), Length(max=100, message="姓名最多 100 个字")])
    department = SelectField("所在部门", validate_choice=False)
    roles = SelectMultipleField("角色", validate_choice=False, option_widget=CheckboxInput())


class UserCreateForm(UserDetailsForm):
    name = StringField("用户名（登录名）", validators=[
        DataRequired("请填写用户名"), Length(max=100, message="用户名最多 100 个字符"),
        Regexp(USER_NAME_PATTERN, message=f"用户名{USER_NAME_RULE}")])
    password = _password("初始密码")


class UserEditForm(UserDetailsForm):
    active = BooleanField("启用（停用后不能登录，历史记录保留）")


class PasswordResetForm(FlaskForm):
    password = _password("新密码")


class RoleLabelForm(FlaskForm):
    label = StringField("角色名称（中文）", validators=[
        DataRequired("请填写角色名称"), Length(max=100, message="角色名称最多 100 个字")])
    notify_on_arrival = BooleanField("任务到达时通知该角色人员")


class RoleForm(RoleLabelForm):
    name = StringField("角色标识", validators=[
        DataRequired("请填写角色标识"), Length(max=60, message="角色标识最多 60 个字符"),
        Regexp(CODE_PATTERN, message=f"角色标识{CODE_RULE}")])


class CalendarDayEditForm(FlaskForm):
    workday = RadioField("类型", choices={"0": "休息（节假日）", "1": "上班（调休工作日）"}, validate_choice=False,
                         validators=[DataRequired("请选择上班或休息"), AnyOf(["0", "1"], "请选择上班或休息")])
    note = StringField("说明", validators=[Length(max=200, message="说明最多 200 个字")])


class CalendarDayForm(CalendarDayEditForm):
    # InputRequired, not DataRequired: the latter would replace "invalid date" with "missing" for 2026-02-30
    day = DateField("日期", validators=[InputRequired("请填写日期")],
                    invalid_value_message="日期无效，应为 YYYY-MM-DD 格式")


class CalendarImportForm(FlaskForm):
    file = FileField("安排文件", validators=[
        FileRequired("请选择要导入的文件"), FileAllowed(["csv", "json"], "只接受 .csv 或 .json 文件")])

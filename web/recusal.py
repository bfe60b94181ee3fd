"""Recusal (回避): each user's own declarations of relations and interests, recusal requests filed on a
case page, and the petition-office head's decisions. The rules, matching and audit events live in
engine/runtime/recusal.py; this module turns forms into calls and refusals into messages by the field."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField

from engine.api import RECUSAL_KINDS, RecusalInvalid
from web.auth import require_role
from web.current import current_engine

bp = Blueprint("recusal", __name__, url_prefix="/recusal")
INVALID = 422


class DeclarationForm(FlaskForm):
    # lengths and "name or unit" are checked by the engine, whose messages are Chinese
    kind = SelectField("关系类别", choices={"": "请选择", **RECUSAL_KINDS}, validate_choice=False)
    person_name = StringField("相关人员姓名")
    unit = StringField("相关单位")
    note = TextAreaField("说明")


class RequestForm(FlaskForm):
    staff_name = SelectField("应当回避的工作人员", validate_choice=False)
    raised_by = RadioField("提出人", validate_choice=False, default="self")
    reason = TextAreaField("回避理由")


class DecisionForm(FlaskForm):
    note = TextAreaField("决定意见")


def refuse_on(form: FlaskForm, refused: RecusalInvalid) -> None:
    field = getattr(form, refused.field, None)
    if field is None:
        flash(refused.message, "error")
    else:
        field.errors = [*field.errors, refused.message]


def request_form(case_id: int) -> RequestForm:
    """The case page's request form with its choices for the reader (the engine checks them again)."""
    offered = current_engine().staff.recusal_form(case_id, g.actor)
    form = RequestForm()
    form.staff_name.choices = {"": "请选择", **{s["name"]: s["display_name"] for s in offered["staff"]}}
    form.raised_by.choices = dict(offered["raisers"])
    form.requests = offered["requests"]
    return form


# ---- declarations ----------------------------------------------------------------------------------------


def _declarations_page(form: DeclarationForm, status: int = 200):
    rows = current_engine().staff.recusal_declarations(g.actor)
    return render_template("recusal/declarations.html", form=form, rows=rows), status


@bp.get("/")
def declarations():
    return _declarations_page(DeclarationForm())


@bp.post("/")
def declare():
    form = DeclarationForm()
    if form.validate_on_submit():
        try:
            current_engine().staff.declare_recusal(g.actor, form.kind.data or "", form.person_name.data or "",
                                                   form.unit.data or "", form.note.data or "")
        except RecusalInvalid as refused:
            refuse_on(form, refused)
        else:
            flash("已申报。与申报人员或单位有关的件，您将不能领取、办理或被转交", "info")
            return redirect(url_for("recusal.declarations"))
    return _declarations_page(form, INVALID)


@bp.post("/<int:declaration_id>/withdraw")
def withdraw(declaration_id: int):
    if FlaskForm().validate_on_submit():
        current_engine().staff.withdraw_recusal(g.actor, declaration_id)
        flash("已撤回该申报（记录保留）", "info")
    return redirect(url_for("recusal.declarations"))


# ---- decisions (requests are filed on the case page, web/cases.py) -----------------------------------------


def _requests_page(forms: dict[int, DecisionForm] | None = None, status: int = 200):
    rows = current_engine().staff.recusal_requests(g.actor)
    forms = forms or {}
    return render_template("recusal/requests.html", rows=rows,
                           forms={row["id"]: forms.get(row["id"]) or DecisionForm(formdata=None)
                                  for row in rows}), status


@bp.get("/requests")
@require_role("petition_head")
def requests():
    return _requests_page()


@bp.post("/requests/<int:request_id>")
@require_role("petition_head")
def decide(request_id: int):
    form = DecisionForm()
    decision = request.form.get("decision")
    if form.validate_on_submit():
        if decision not in ("approve", "reject"):
            form.note.errors = ["请选择批准回避或不予回避"]
        else:
            try:
                current_engine().staff.decide_recusal(request_id, g.actor, decision == "approve",
                                                      form.note.data or "")
            except RecusalInvalid as refused:
                refuse_on(form, refused)
            else:
                flash("已批准回避，该工作人员不再能查阅和办理本件" if decision == "approve" else "已决定不予回避",
                      "info")
                return redirect(url_for("recusal.requests"))
    return _requests_page({request_id: form}, INVALID)

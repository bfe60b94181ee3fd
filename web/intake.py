"""Intake (受理登记): the registration form of letters, visits and calls, with attachments. Submitting
starts the case and completes its registration; the page then shows the number and possible duplicates."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine import FormErrors, IncidentRaised
from engine.api import AttachmentRejected, check_attachment
from web.auth import require_role
from web.current import current_engine
from web.formdata import initial_values, row_errors, submission, upload_limits

bp = Blueprint("intake", __name__, url_prefix="/intake")


def _page(values, errors=None, attachment_error=None, status=200, incident=None):
    form = current_engine().staff.intake_form()
    errors = errors or {}
    return render_template(
        "intake/new.html", form=form, values=values, errors=errors, incident=incident, resubmit=True,
        row_errors={group: row_errors(errors, group) for group in form.groups()},
        attachment_error=attachment_error, **upload_limits(),
    ), status


@bp.get("/new")
@require_role("petition_staff")
def new():
    return _page(initial_values(current_engine().staff.intake_form(), {}, False))


@bp.post("/new")
@require_role("petition_staff")
def create():
    engine = current_engine()
    data = submission(engine.staff.intake_form(), request.form)
    files = [(upload.filename, upload.read()) for upload in request.files.getlist("attachments") if upload.filename]
    try:
        for name, content in files:
            check_attachment(name, len(content))
        case_id = engine.staff.register(data, files, g.actor)
    except FormErrors as invalid:
        flash(f"登记表有 {len(invalid.errors)} 处需要修改，请查看标红的项目（附件需重新选择）", "error")
        return _page(data, invalid.errors, status=422)
    except AttachmentRejected as rejected:
        flash("附件未通过检查，登记尚未保存", "error")
        return _page(data, attachment_error=str(rejected), status=422)
    except IncidentRaised as incident:
        if incident.input_kept:  # the registration itself failed: the incident holds the form (web/errors.py)
            raise
        return _page(data, status=202, incident=incident)
    return redirect(url_for("intake.registered", case_id=case_id))


@bp.get("/registered/<int:case_id>")
@require_role("petition_staff")
def registered(case_id: int):
    engine = current_engine()
    page = engine.staff.case_page(case_id, g.actor)
    data = page["context"].data
    # taking is a write: only items that were issued a code need it
    query_code = engine.staff.take_query_code(case_id, g.actor) if data.get("query_code_issued") else None
    return render_template("intake/registered.html", page=page, ctx=page["context"],
                           candidates=data.get("duplicate_candidates") or [], query_code=query_code)

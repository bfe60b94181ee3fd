"""The case page, its diagram data, the printable assignment slip, the case's attachments and comments,
all within the reader's scope (the engine raises NotFound for a case outside it)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, flash, g, jsonify, redirect, render_template, request, url_for

from engine.api import COMMENT_MAX_LENGTH, AttachmentRejected, CommentRejected, RecusalInvalid
from web import recusal
from web.current import current_engine
from web.formdata import upload_limits
from web.tasks import CATEGORIES, CHANNELS

bp = Blueprint("cases", __name__, url_prefix="/cases")


@bp.get("/<int:case_id>")
def show(case_id: int):
    return case_page(case_id)


def case_page(case_id: int, recusal_form=None, status: int = 200, **given):
    """The case page; `recusal_form` is a request form given back with what was typed and its messages,
    `given` a refused comment (comment_text, comment_error) or upload (upload_error)."""
    page = current_engine().staff.case_page(case_id, g.actor)
    # the reporter-view and download lines are audit records beside the work: left out unless asked for
    with_access = request.args.get("timeline") == "all"
    access_lines = sum(1 for entry in page["timeline"] if entry["access"])
    timeline = [entry for entry in page["timeline"] if with_access or not entry["access"]]
    return render_template("cases/show.html", page=page, ctx=page["context"], channels=CHANNELS,
                           categories=CATEGORIES, recusal=recusal_form or recusal.request_form(case_id),
                           timeline=timeline, with_access=with_access, access_lines=access_lines,
                           **upload_limits(), comment_max=COMMENT_MAX_LENGTH, **given), status


@bp.post("/<int:case_id>/attachments")
def upload(case_id: int):
    purpose = request.form.get("purpose", "")
    files = [(f.filename, f.read(), purpose) for f in request.files.getlist("files") if f.filename]
    try:
        added = current_engine().staff.upload_attachments(case_id, g.actor, files)
    except AttachmentRejected as rejected:
        flash("附件未上传", "error")
        return case_page(case_id, status=422, upload_error=str(rejected))
    flash(f"已上传 {len(added)} 个附件", "info")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.post("/<int:case_id>/comments")
def add_comment(case_id: int):
    text = request.form.get("text", "")
    try:
        current_engine().staff.add_comment(case_id, g.actor, text)
    except CommentRejected as rejected:
        return case_page(case_id, status=422, comment_text=text, comment_error=rejected.message)
    flash("评论已发表", "info")
    return redirect(url_for("cases.show", case_id=case_id) + "#comments")


@bp.post("/<int:case_id>/recusal")
def request_recusal(case_id: int):
    form = recusal.request_form(case_id)
    if form.validate_on_submit():
        try:
            current_engine().staff.request_recusal(case_id, g.actor, form.staff_name.data or "",
                                                   form.raised_by.data or "", form.reason.data or "")
        except RecusalInvalid as refused:
            recusal.refuse_on(form, refused)
        else:
            flash("回避申请已提交，由信访室主任决定", "info")
            return redirect(url_for("cases.show", case_id=case_id))
    return case_page(case_id, form, recusal.INVALID)


@bp.get("/<int:case_id>/diagram.json")
def diagram(case_id: int):
    response = jsonify(current_engine().staff.case_diagram(case_id, g.actor))
    response.headers["Cache-Control"] = "no-store"  # the state changes with every command on the case
    return response


@bp.get("/<int:case_id>/slip")
def slip(case_id: int):
    return render_template("cases/slip.html", case_id=case_id, slip=current_engine().staff.assignment_slip(
        case_id, g.actor), channels=CHANNELS)


@bp.get("/attachments/<int:attachment_id>")
def attachment(attachment_id: int):
    filename, content_type, content = current_engine().staff.attachment(attachment_id, g.actor)
    response = Response(content, mimetype=content_type)
    # always a download: an uploaded file must never run as a page of this site
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

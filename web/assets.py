"""Front-end packages installed from npm (package.json), served from node_modules — only the files
listed here, never the whole folder."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("assets", __name__, url_prefix="/assets")

FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "bpmn-navigated-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-font/css/bpmn.css": "bpmn-js/dist/assets/bpmn-font/css/bpmn.css",
    # the icon font the stylesheet above refers to (as ../font/bpmn.<ext>)
    **{f"bpmn-font/font/bpmn.{ext}": f"bpmn-js/dist/assets/bpmn-font/font/bpmn.{ext}"
       for ext in ("eot", "woff2", "woff", "ttf", "svg")},
}


@bp.get("/<path:name>")
def file(name: str):
    # Only exact names of the list: nothing a request spells ("..", encoded slashes) reaches the folder.
    path = FILES.get(name)
    if path is None:
        abort(404)
    return send_from_directory(current_app.config["NODE_MODULES"], path, max_age=86400)

"""Deployments: validated BPMN stored in the database with a content hash and a version per process.

A case is pinned to the deployment it started on. Each deployment row keeps every file its process needs
(the files of the processes it calls, transitively), so a deployment can be parsed on its own forever.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine import audit
from engine.bpmn import decisions
from engine.bpmn.decisions import DmnFile
from engine.bpmn.forms import FormField
from engine.bpmn.safe_xml import BPMN_NS, load
from engine.bpmn.validation import BpmnFile, Problem, build_parser, read_files
from engine.store.models import Deployment


class ValidationFailed(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems
        self.message = f"流程图校验未通过（{len(problems)} 个问题）"


@dataclass(frozen=True)
class DeployOutcome:
    process_id: str
    version: int
    deployment_id: int
    created: bool  # False: the content was already deployed as this version


def read_paths(paths: list[Path]) -> dict[str, bytes]:
    """Files named on the command line; folders contribute their *.bpmn and *.dmn files."""
    files: dict[str, bytes] = {}
    for path in paths:
        for file in sorted([*path.glob("*.bpmn"), *path.glob("*.dmn")]) if path.is_dir() else [path]:
            files[file.name] = file.read_bytes()
    return files


def _process(bpmn_file: BpmnFile, process_id: str):
    return next(p for p in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}process") if p.get("id") == process_id)


def _bundle(parsed: dict[str, BpmnFile | DmnFile], process_id: str) -> dict[str, str]:
    """The files a process needs: its own, those of every process it calls, transitively, and the `.dmn`
    files of the decisions they call (so a changed table is a new version of every process using it)."""
    owner = {pid: bpmn_file for bpmn_file in parsed.values() for pid in bpmn_file.process_ids()}
    needed, pending = {}, [process_id]
    seen: set[str] = set()
    refs: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen or current not in owner:
            continue
        seen.add(current)
        bpmn_file = owner[current]
        needed[bpmn_file.name] = bpmn_file.text
        process = _process(bpmn_file, current)
        pending.extend(call.get("calledElement") for call in process.iter(f"{{{BPMN_NS}}}callActivity"))
        refs |= decisions.decision_refs(bpmn_file.tree, process)
    needed |= decisions.needed_files(parsed, refs)
    return dict(sorted(needed.items()))


def content_hash(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name, text in sorted(files.items()):
        digest.update(name.encode("utf-8") + b"\0" + text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def _owner_file(deployment: Deployment) -> str:
    """The file of a deployment that defines its process (the others are the files of called processes)."""
    for name, text in deployment.files.items():
        processes = load(text).getroot().iter(f"{{{BPMN_NS}}}process")
        if any(process.get("id") == deployment.process_id for process in processes):
            return name
    return ""


def _taken_ids(bpmn_file: BpmnFile, process_id: str, latest: Deployment) -> Problem | None:
    owner = _owner_file(latest)
    if owner == bpmn_file.name:
        return None
    line = next((p.sourceline for p in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}process")
                 if p.get("id") == process_id), 1)
    return Problem(bpmn_file.name, line, process_id,
                   f"流程 id“{process_id}”已由文件 {owner} 部署（第 {latest.version} 版），本文件会成为它的新版本；"
                   "若确是同一流程换了文件名，请确认后强制部署（xinfang deploy --force），否则请换一个流程 id")


def store(session: Session, parsed: dict[str, BpmnFile | DmnFile], by: str, now: datetime,
          force: bool = False) -> list[DeployOutcome]:
    """Store a new version of each executable process whose files changed; unchanged content is a no-op.
    A process id deployed from another file is refused unless `force`: two diagrams would share versions.
    A `.dmn` file no deployed process calls would be stored nowhere: it is refused, not dropped silently."""
    bundles = {process_id: _bundle(parsed, process_id)
               for bpmn_file in parsed.values() for process_id in bpmn_file.process_ids(executable_only=True)}
    stored = {name for files in bundles.values() for name in files}
    unused = [Problem(name, 1, "", "没有一起部署的流程调用这个决策表文件，请与调用它的流程一起部署")
              for name, dmn in parsed.items() if isinstance(dmn, DmnFile) and name not in stored]
    if unused:
        raise ValidationFailed(unused)
    outcomes, taken = [], []
    for bpmn_file in parsed.values():
        for process_id in bpmn_file.process_ids(executable_only=True):
            files = bundles[process_id]
            digest = content_hash(files)
            latest = session.scalars(
                sa.select(Deployment).where(Deployment.process_id == process_id)
                .order_by(Deployment.version.desc()).limit(1)
            ).first()
            problem = _taken_ids(bpmn_file, process_id, latest) if latest is not None and not force else None
            if problem:
                taken.append(problem)
                continue
            if latest is not None and latest.content_hash == digest:
                outcomes.append(DeployOutcome(process_id, latest.version, latest.id, False))
                continue
            name = _process(bpmn_file, process_id).get("name")
            deployment = Deployment(
                process_id=process_id, name=name, version=(latest.version + 1) if latest else 1,
                content_hash=digest, files=files, deployed_by=by, deployed_at=now,
            )
            session.add(deployment)
            session.flush()
            audit.append(session, kind="deploy", actor=by, at=now, deployment_id=deployment.id,
                         payload={"process_id": process_id, "version": deployment.version, "hash": digest,
                                  "files": sorted(files)})
            outcomes.append(DeployOutcome(process_id, deployment.version, deployment.id, True))
    if taken:
        raise ValidationFailed(taken)
    return outcomes


def timer_started(parsed: dict[str, BpmnFile]) -> set[str]:
    """The executable processes with a timer start event of their own (cases created on a schedule)."""
    found = set()
    for bpmn_file in parsed.values():
        executable = set(bpmn_file.process_ids(executable_only=True))
        for process in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}process"):
            timer = process.find(f"{{{BPMN_NS}}}startEvent/{{{BPMN_NS}}}timerEventDefinition")
            if timer is not None and process.get("id") in executable:
                found.add(process.get("id"))
    return found


@dataclass(frozen=True)
class LoadedSpec:
    process_id: str
    spec: object  # BpmnProcessSpec
    subprocess_specs: dict


def _fields(loaded: LoadedSpec) -> Iterator[FormField]:
    for spec in (loaded.spec, *loaded.subprocess_specs.values()):
        for task in spec.task_specs.values():
            form = getattr(task, "xinfang_form", None)
            yield from form.fields if form else ()


def confidential_fields(loaded: LoadedSpec) -> dict[str, str]:
    """Every form field marked confidential in the deployment (the reporter's identity): id -> label."""
    found: dict[str, str] = {}
    for field in _fields(loaded):
        if field.confidential:
            found.setdefault(field.id, field.label)
    return found


def field_labels(loaded: LoadedSpec) -> dict[str, str]:
    """Every form field of the deployment: id -> label (what a date bound naming it says in a message)."""
    found: dict[str, str] = {}
    for field in _fields(loaded):
        found.setdefault(field.id, field.label)
    return found


def option_names(loaded: LoadedSpec) -> dict[str, dict[str, str]]:
    """The names of every enum field's values across the deployment's forms, field id -> value -> name:
    how a coded value (a rank, a disposal) reads on a page."""
    found: dict[str, dict[str, str]] = {}
    for spec in (loaded.spec, *loaded.subprocess_specs.values()):
        for task in spec.task_specs.values():
            form = getattr(task, "xinfang_form", None)
            for field in form.fields if form else ():
                if field.options:
                    found.setdefault(field.id, {}).update({option.id: option.name for option in field.options})
    return found


class SpecCache:
    """Parsed specs per deployment; deployments never change, so entries never go stale."""

    def __init__(self, size: int = 64) -> None:
        self._entries: OrderedDict[int, LoadedSpec] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, deployment: Deployment) -> LoadedSpec:
        with self._lock:
            if deployment.id in self._entries:
                self._entries.move_to_end(deployment.id)
                return self._entries[deployment.id]
        loaded = self._parse(deployment)
        with self._lock:
            self._entries[deployment.id] = loaded
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return loaded

    def for_id(self, session: Session, deployment_id: int) -> LoadedSpec:
        """Like `get`, but reads the deployment row (with all its XML) only when the spec isn't cached."""
        with self._lock:
            if deployment_id in self._entries:
                self._entries.move_to_end(deployment_id)
                return self._entries[deployment_id]
        return self.get(session.get(Deployment, deployment_id))

    @staticmethod
    def _parse(deployment: Deployment) -> LoadedSpec:
        parsed, problems = read_files(deployment.files)
        if problems:
            raise ValidationFailed(problems)
        parser = build_parser(parsed.values())
        return LoadedSpec(
            deployment.process_id,
            parser.get_spec(deployment.process_id),
            parser.get_subprocess_specs(deployment.process_id),
        )

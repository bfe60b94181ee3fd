"""Helpers shared by the handler tests: the diagrams, a typical registration, registry rows, direct calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import make_actor

from engine import Engine
from engine.runtime.handlers_registry import HandlerContext, registry
from engine.store.models import Petition, PetitionAccused

DIAGRAMS = Path(__file__).parent / "diagrams"
STAFF = make_actor("xf_wang", "petition_staff", department="petition_office")


def diagram(name: str, replacements: Mapping[str, str] | None = None) -> str:
    text = (DIAGRAMS / name).read_text(encoding="utf-8")
    for old, new in (replacements or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def deploy(engine: Engine, *names: str) -> None:
    engine.deploy({name: diagram(name) for name in names}, by="test")


def item(**overrides: Any) -> dict[str, Any]:
    """Case data as the registration form leaves it (a letter with one accused, real-name reporter)."""
    data = {
        "received_on": date(2026, 3, 1),
        "channel": "letter",
        "source": "direct",
        "summary": "反映某镇副镇长张三在征地拆迁中收受好处费、违规分配补偿款",
        "problem_type": "integrity",
        "real_name": True,
        "accused": [{"name": "张三", "unit": "某镇人民政府", "position": "副镇长", "rank": "科级",
                     "region": "某镇", "party_member": True, "supervised_person": True}],
        "reporter_name": "李四",
        "reporter_phone": "13800000000",
    }
    data.update(overrides)
    return data


def petition(engine: Engine, case_id: int) -> Petition:
    with engine.db.read() as session:
        return session.scalars(sa.select(Petition).where(Petition.case_id == case_id)).one()


def petitions(engine: Engine) -> list[Petition]:
    with engine.db.read() as session:
        return list(session.scalars(sa.select(Petition).order_by(Petition.id)))


def accused_rows(engine: Engine, case_id: int) -> list[PetitionAccused]:
    with engine.db.read() as session:
        return list(session.scalars(
            sa.select(PetitionAccused).join(Petition, Petition.id == PetitionAccused.petition_id)
            .where(Petition.case_id == case_id).order_by(PetitionAccused.position)))


def call(engine: Engine, name: str, case_id: int, data: Mapping[str, Any],
         properties: Mapping[str, str] | None = None, now: datetime | None = None,
         hand_over: Callable[[str, str], None] | None = None) -> Any:
    """Calls a registered handler directly in a transaction of its own, as a service task would; `hand_over`
    receives what the handler hands to the person running the command (else the context's default)."""
    handler = registry.get(name)
    assert handler is not None, name
    with engine.db.write() as session:
        return handler(HandlerContext(case_id, dict(data), now or engine.clock.now(), "test", session,
                                      dict(properties or {}), **({"hand_over": hand_over} if hand_over else {})))

"""A small office for the notice tests: the petition office, leaders, two handling departments."""

from __future__ import annotations

from common import make_actor

from engine import Engine
from engine.org.organisation import apply_organisation

HANDLER = make_actor("s1_liu", "handling_staff", department="supervision_1")

OFFICE = {
    "departments": [
        {"code": "petition_office", "name": "信访室"},
        {"code": "supervision_1", "name": "第一监督检查室"},
        {"code": "supervision_2", "name": "第二监督检查室"},
        {"code": "office", "name": "办公室"},
    ],
    "users": [
        {"name": "xf_wang", "department": "petition_office", "roles": ["petition_staff"]},
        {"name": "xf_chen", "department": "petition_office", "roles": ["petition_staff", "petition_head"]},
        {"name": "leader_li", "department": "office", "roles": ["leader_in_charge"]},
        {"name": "leader_zhao", "department": "office", "roles": ["principal_leader"]},
        {"name": "s1_liu", "department": "supervision_1", "roles": ["handling_staff"]},
        {"name": "s1_ma", "department": "supervision_1", "roles": ["handling_staff"], "active": False},
        {"name": "s1_sun", "department": "supervision_1", "roles": ["handling_leader"]},
        {"name": "s2_zhou", "department": "supervision_2", "roles": ["handling_staff", "handling_leader"]},
        {"name": "loose_he", "roles": ["handling_staff"]},
    ],
}


def load_office(engine: Engine) -> None:
    with engine.db.write() as session:
        apply_organisation(session, OFFICE)

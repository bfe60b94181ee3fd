"""The department routing table (processes/department_routing.dmn): the proposal opens with the department
the table picks by category, the accused's rank and region, and a process owner changes the routing by
redeploying the table alone — no diagram is touched, running cases keep the table they started with."""

from __future__ import annotations

import pytest
from chain import PROCESSES, REGISTRATION, Chain, seed_organisation

from engine.bpmn.deployments import read_paths


@pytest.fixture
def chain(engine, clock) -> Chain:
    seed_organisation(engine)
    return Chain(engine, clock)


def _accused(rank: str | None, region: str | None) -> list[dict[str, str]]:
    person = dict(REGISTRATION["accused"][0])
    if rank:
        person["rank"] = rank
    if region:
        person["region"] = region
    return [person]


@pytest.mark.parametrize(("category", "rank", "region", "department"), [
    ("appeal", "county", "开发区", "supervision_2"),  # first rule: appeals, whatever the rank
    ("accusation", "bureau", None, "supervision_1"),
    ("suggestion", "county", "开发区", "supervision_1"),  # the rank rule comes before the region rule
    ("accusation", "village", None, "township_group"),
    ("accusation", "township", "高新区", "supervision_2"),
    ("accusation", "general", "城关镇", "supervision_1"),
    ("accusation", None, None, "supervision_1"),  # nothing known: the last rule
])
def test_the_proposal_opens_with_the_department_of_the_routing_table(chain, category, rank, region, department):
    chain.start(accused=_accused(rank, region))
    chain.accept(category)
    assert "Task_propose" in chain.open_tasks()
    data = chain.data
    assert data["handling_department"] == department
    assert "rank" not in data and "region" not in data  # the table's inputs are local to its task
    chain.sign_off(handling_department=data["handling_department"])
    assert "Task_investigate" in chain.open_tasks()
    assert chain.work_item("Task_investigate")["department"] == department


def test_a_changed_table_routes_new_cases_and_leaves_running_ones(chain):
    chain.start(accused=_accused("village", None))
    chain.accept()
    running = chain.case_id
    files = read_paths([PROCESSES])
    diagrams = {name: text for name, text in files.items() if name.endswith(".bpmn")}
    table = files["department_routing.dmn"].decode("utf-8")
    changed = table.replace('<outputEntry id="Out_village"><text>"township_group"</text>',
                            '<outputEntry id="Out_village"><text>"social_affairs"</text>')
    assert changed != table
    outcomes = {o.process_id: o for o in chain.engine.deploy({**diagrams, "department_routing.dmn": changed},
                                                              by="owner")}
    assert outcomes["signoff"].created and outcomes["petition"].created  # both carry the table
    assert not outcomes["handling"].created  # it does not route by the table
    other = [{**_accused("village", None)[0], "name": "王某", "unit": "某村村委会"}]  # not a duplicate
    chain.start(accused=other, summary="某村村委会主任王某虚报冒领补贴资金")
    chain.accept()
    assert chain.data["handling_department"] == "social_affairs"
    assert chain.engine.case(running)["data"]["handling_department"] == "township_group"

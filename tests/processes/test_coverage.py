"""Every flow node and sequence flow of processes/ is taken by some path scenario."""

from __future__ import annotations

from chain import Chain, Coverage, diagram_elements, seed_organisation
from scenarios import SCENARIOS

from engine import Engine, FakeClock
from engine.store import schema
from engine.store.db import Database


def test_every_element_of_the_diagrams_is_taken(tmp_path) -> None:
    coverage = Coverage()
    with coverage.recording():
        for name, run in SCENARIOS.items():
            database = Database(f"sqlite:///{tmp_path / name}.db")  # each path starts from an empty office
            schema.upgrade(database)
            clock = FakeClock("2026-03-02T09:00:00+08:00")
            engine = Engine(database, clock)
            seed_organisation(engine)
            run(Chain(engine, clock))
            database.dispose()
    nodes, flows = diagram_elements()
    # A cycle timer never completes (it waits for its next round); its outgoing flow shows it fired.
    ran = coverage.nodes | {(process, source) for process, source, _ in coverage.edges}
    missed_nodes = sorted(f"{process}:{node_id} ({name})" for (process, node_id), name in nodes.items()
                          if (process, node_id) not in ran)
    missed_flows = sorted(f"{key[0]}:{flow_id}" for key, flow_id in flows.items() if key not in coverage.edges)
    taken = len(nodes) - len(missed_nodes), len(flows) - len(missed_flows)
    print(f"\nBPMN coverage: {taken[0]}/{len(nodes)} flow nodes, {taken[1]}/{len(flows)} sequence flows")
    assert not missed_nodes and not missed_flows, "\n".join(["never taken:", *missed_nodes, *missed_flows])

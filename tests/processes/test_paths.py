"""One test per path of the petition chain (DOMAIN.md), driving the real processes/ diagrams."""

from __future__ import annotations

import pytest
from chain import Chain, seed_organisation
from scenarios import SCENARIOS


@pytest.fixture
def chain(engine, clock) -> Chain:
    seed_organisation(engine)
    return Chain(engine, clock)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_path(chain: Chain, name: str) -> None:
    SCENARIOS[name](chain)
    assert not chain.engine.case(chain.case_id)["incidents"]

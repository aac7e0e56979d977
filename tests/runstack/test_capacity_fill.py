"""capacity.fill on the run stack's shared pool: Studio cannot launch while it is full, and can after
rollback; a hold nobody rolls back still ends at its TTL."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pydantic import TypeAdapter

from chaos.backends.state import StackState
from chaos.faults import FaultContext
from chaos.run.journal import Journal
from chaos.run.reconcile import rollback_journal, verify_gone
from chaos.spec.experiment import FaultSpec
from chaos.stack import load_stack
from runstack.traffic import drive
from tests.runstack.helpers import COMPOSE, FAST, runstack, url, wait_until

# Run-stack experiments under load: one xdist lane for all of them (see tests/conftest.py).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("runstack")]

parse_fault = TypeAdapter(FaultSpec).validate_python


def held(state: StackState, pool: str) -> int:
    return requests.get(url(state, pool) + "/slots", timeout=5).json()["busy"].get("chaos-hold", 0)


def test_fill_blocks_studio_until_rolled_back_and_a_forgotten_hold_expires(tmp_path: Path) -> None:
    with runstack(tmp_path / "stack") as state:
        stack = load_stack(COMPOSE, FAST, use_environ=False)
        journal = Journal(tmp_path)
        ctx = FaultContext("t", stack, state, journal)
        parse_fault({"type": "capacity.fill", "service": "shared-pool", "slots": 12}).inject(ctx)
        assert wait_until(lambda: held(state, "shared-pool") == 12, 30), "every shared slot is held"
        assert verify_gone(journal) != [], "while held, the fault is reported in place"
        full = drive(url(state, "scheduler"), seconds=4, runs_per_s=0, studio_per_s=2)
        assert full["studio_failed"] > 0 and full["studio_launched"] == 0, full

        assert rollback_journal(journal) == [] and verify_gone(journal) == []
        assert held(state, "shared-pool") == 0
        freed = drive(url(state, "scheduler"), seconds=4, runs_per_s=0, studio_per_s=2)
        assert freed["studio_failed"] == 0 and freed["studio_launched"] > 0, freed

        # The safety net: a hold whose rollback never comes ends by itself.
        parse_fault({"type": "capacity.fill", "service": "run-pool", "slots": 3, "ttl": "2s"}).inject(ctx)
        assert wait_until(lambda: held(state, "run-pool") == 3, 30)
        assert wait_until(lambda: held(state, "run-pool") == 0, 30, pause_s=0.5), "the TTL ended the hold"

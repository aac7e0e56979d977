"""Undo records are typed, and journals written by earlier chaosgate versions still reconcile.

`tests/data/journal-0.1.0/journal.db` was written by chaosgate 0.1.0, when undo records were plain
dicts: one outstanding fault of every undo kind, each pointing at components that no longer
exist (a closed port, a dead pid, a missing run directory), as after a SIGKILL whose stack died
with it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chaos.faults import Undo, UnknownUndo, parse_undo
from chaos.faults.base import FaultError
from chaos.faults.network import RemoveToxic
from chaos.faults.process import Resume, StartAgain
from chaos.run.journal import Journal, Reconciled
from chaos.run.reconcile import reconcile_run

FIXTURE = Path(__file__).parent.parent / "data" / "journal-0.1.0" / "journal.db"
KINDS_OF_0_1_0 = {
    "toxiproxy.remove_toxic", "toxiproxy.enable", "toxiproxy.delete_proxy", "process.resume", "container.unpause",
    "process.restart", "broker.close_connections", "broker.restore_limit", "capacity.release", "config.restore",
    "resource.cpu_release", "resource.cpu_restore",
}


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "runs" / "20261201-000000-fixture-abcd1234"
    run_dir.mkdir(parents=True)
    shutil.copy(FIXTURE, run_dir / "journal.db")
    return run_dir


def test_every_record_of_an_old_journal_reads_as_its_typed_kind(old_run: Path) -> None:
    journal = Journal(old_run)
    try:
        entries = journal.entries()
    finally:
        journal.close()
    assert {e.undo.kind for e in entries} == KINDS_OF_0_1_0
    assert not [e for e in entries if isinstance(e.undo, UnknownUndo)]
    toxic = next(e.undo for e in entries if e.undo.kind == "toxiproxy.remove_toxic")
    assert isinstance(toxic, RemoveToxic) and toxic.toxic == "chaosgate-abcd1234-timeout-0f0f0f0f"
    paused = next(e.undo for e in entries if e.undo.kind == "process.resume")
    assert isinstance(paused, Resume) and paused.process.pid == 999999


def test_an_old_journal_reconciles_after_its_stack_died(old_run: Path) -> None:
    said: list[str] = []
    done = reconcile_run(old_run, said.append)
    assert len(done) == len(KINDS_OF_0_1_0)
    assert not [line for line in done if "FAILED" in line], done
    journal = Journal(old_run)
    try:
        assert journal.outstanding() == []
        (reconciled,) = journal.events(Reconciled)
        assert isinstance(reconciled, Reconciled) and len(reconciled.actions) == len(KINDS_OF_0_1_0)
    finally:
        journal.close()


def test_a_record_is_written_and_read_back_as_the_same_typed_value(tmp_path: Path) -> None:
    undo = StartAgain(run_dir=str(tmp_path), service="api", backend="docker")
    journal = Journal(tmp_path)
    try:
        journal.intend("process.kill", "api", undo)
        (entry,) = journal.entries()
    finally:
        journal.close()
    assert entry.undo == undo and type(entry.undo) is StartAgain
    assert entry.model_dump()["undo"]["backend"] == "docker"  # dumped with its kind's fields


def test_a_record_of_an_unknown_kind_is_kept_and_refuses_to_roll_back() -> None:
    undo = parse_undo({"kind": "from.the.future", "whatever": 1})
    assert isinstance(undo, UnknownUndo) and undo.kind == "from.the.future"
    with pytest.raises(FaultError, match="from.the.future"):
        undo.rollback()


def test_a_record_missing_a_field_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="toxic"):
        parse_undo({"kind": "toxiproxy.remove_toxic", "url": "http://127.0.0.1:9", "proxy": "a->b"})
    assert issubclass(RemoveToxic, Undo)

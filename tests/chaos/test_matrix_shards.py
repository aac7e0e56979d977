"""A matrix sharded over two real Docker engines (this machine's, and a second dockerd with its own
data root and socket reached over TCP: scripts/second-engine) equals the same matrix on one engine,
cell for cell, and leaves nothing on either engine."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.matrix.shards import engines_of, split
from tests.conftest import ROOT, STACKS, chaosgate, require_docker

MINI = STACKS / "mini"
COMPOSE = MINI / "docker-compose.yml"
ARGS = ["-f", str(COMPOSE), "--backend", "docker", "--surfaces", "mini-matrix", "--load", str(MINI / "matrix_load.py"),
        "--target", "front", "--users", "4", "--cells", "hang:front->echo", "--cells", "down:front->echo",
        "--window", "6s", "--baseline", "5s", "--recovery", "3s", "--set", "FRONT_ECHO_TIMEOUT_S=1"]


def test_cells_are_dealt_in_turn_and_engines_are_named_once() -> None:
    assert [len(s) for s in split(list(range(5)), 2)] == [3, 2]  # type: ignore[arg-type]
    assert split([1], 3) == [[1]], "no empty share"  # type: ignore[list-item]
    assert engines_of(["local,tcp://h:2375", " unix:///x.sock "]) == ["", "tcp://h:2375", "unix:///x.sock"]
    with pytest.raises(Exception, match="named twice"):
        engines_of(["local", "default"])


def test_engines_need_the_docker_backend(out: Path) -> None:
    base = ["-f", str(COMPOSE), "--surfaces", "mini-matrix", "--load", str(MINI / "matrix_load.py"), "--target",
            "front", "--engines", "local,tcp://127.0.0.1:9", "--dry-run", "--out", str(out)]
    r = chaosgate("matrix", *base)
    assert r.code == 3 and "--engines" in r.err and "--backend docker" in r.err and "Traceback" not in r.err, r.err
    r = chaosgate("matrix", *base, "--backend", "docker", "--candidate", "FRONT_ECHO_TIMEOUT_S=none")
    assert r.code == 0 and "then the same cells for the candidate (FRONT_ECHO_TIMEOUT_S=none)" in r.out, r.err
    r = chaosgate("matrix", *base, "--backend", "docker", "--faults", "down")
    assert r.code == 0, r.err
    assert "on local: down:" in r.out and "on tcp://127.0.0.1:9: down:" in r.out, r.out


def test_a_load_sli_without_load_is_named_in_the_surface_set(out: Path) -> None:
    r = chaosgate("matrix", "-f", str(COMPOSE), "--surfaces", "mini-matrix", "--dry-run", "--out", str(out))
    assert r.code == 3 and "Traceback" not in r.err, r.err
    assert "mini-matrix.yaml:6: relay.slis.failures.source:" in r.err and "--load PROFILE" in r.err, r.err


@pytest.fixture(scope="module")
def second_engine() -> Iterator[str]:
    """A second dockerd on this machine, over TCP, with chaosgate's images copied to it."""
    require_docker()
    start = subprocess.run(["bash", str(ROOT / "scripts" / "second-engine"), "start"], capture_output=True, text=True,
                           timeout=900, stdin=subprocess.DEVNULL)
    assert start.returncode == 0, start.stderr[-3000:]
    yield start.stdout.strip().splitlines()[-1]
    subprocess.run(["bash", str(ROOT / "scripts" / "second-engine"), "stop"], capture_output=True, timeout=120)


def outcome(status: str) -> str:
    """An entry as far as the statistics can be asked to repeat it: how large a fall is, is not."""
    return "worse" if status in ("DEGRADED", "UNAVAILABLE") else status


def agree(x: str, y: str) -> bool:
    """Two runs of one cell agree unless one says worse and the other OK. UNKNOWN (an interval
    straddling the tolerance, as a few seconds of 4 users give) contradicts neither."""
    return "UNKNOWN" in (x, y) or outcome(x) == outcome(y)


@pytest.mark.integration
@pytest.mark.docker
def test_a_matrix_sharded_over_two_engines_equals_it_on_one(second_engine: str, tmp_path: Path) -> None:
    import docker

    one, two = tmp_path / "one", tmp_path / "two"
    single = chaosgate("matrix", *ARGS, "--out", str(one), timeout=600)
    sharded = chaosgate("matrix", *ARGS, "--engines", f"local,{second_engine}", "--out", str(two), timeout=600)
    assert sharded.code == single.code, (single.out, sharded.out, sharded.err[-3000:])
    (a_file,), (b_file,) = list(one.glob("matrices/*/matrix.json")), list(two.glob("matrices/*/matrix.json"))
    a, b = json.loads(a_file.read_text()), json.loads(b_file.read_text())

    assert [s["engine"] for s in b["shards"]] == ["", second_engine]
    assert [s["cells"] for s in b["shards"]] == [["hang:front->echo"], ["down:front->echo"]]
    assert all(s["status"] == "done" for s in b["shards"]), b["shards"]
    assert b["family_alpha"] == a["family_alpha"] == 0.025, "each share judged at the whole matrix's level"
    assert [c["cell"]["id"] for c in b["cells"]] == [c["cell"]["id"] for c in a["cells"]]
    for x, y in zip(a["cells"], b["cells"]):
        assert x["landed"] is y["landed"] is True, (x["landing"], y["landing"])
        xs, ys = ({e["surface"]: e["status"] for e in c["entries"]} for c in (x, y))
        assert set(xs) == set(ys) == {"relay", "greeting"}
        assert all(agree(xs[k], ys[k]) for k in xs), (x["cell"]["id"], xs, ys)
        assert outcome(xs["relay"]) == outcome(ys["relay"]) == "worse", "echo's fault is front's relay's damage"
        assert (x["calls"] or {}).get("bounded") == (y["calls"] or {}).get("bounded"), (x["calls"], y["calls"])
    # Each share's kept stack ran on its own engine, and each cell's run on its share's stack.
    kept = {json.loads(p.read_text())["engine"] or "" for p in two.glob("runs/*-stack-*/stack.json")}
    assert kept == {"", second_engine}, kept
    summary = (b_file.parent / "summary.md").read_text()
    assert second_engine in summary
    for engine in ("", second_engine):
        client = docker.DockerClient(base_url=engine or "unix:///var/run/docker.sock", timeout=30)
        left = client.containers.list(all=True, filters={"label": "io.chaosgate.run"})
        assert [c for c in left if str(two) in c.labels.get("io.chaosgate.run", "")] == [], (engine, left)


@pytest.mark.integration
@pytest.mark.docker
def test_the_matrix_gate_sharded_over_two_engines_fails_on_the_call_that_stops_giving_up(
        second_engine: str, out: Path) -> None:
    # Each side is a sharded matrix of its own: the baseline's shares (front gives up on echo after
    # 1 s), then the candidate's (no timeout), each share on a stack of its own on its engine.
    r = chaosgate("matrix", *ARGS, "--candidate", "FRONT_ECHO_TIMEOUT_S=none", "--engines", f"local,{second_engine}",
                  "--out", str(out), timeout=900)
    assert r.code == 1 and "matrix gate: FAIL" in r.out, (r.out, r.err[-3000:])
    assert "hang:front->echo, calls: gives up -> never gives up" in r.out, r.out
    base, cand = (json.loads(p.read_text()) for p in sorted(out.glob("matrices/*/matrix.json")))
    for m in (base, cand):
        assert [s["engine"] for s in m["shards"]] == ["", second_engine] and all(
            s["status"] == "done" for s in m["shards"]), m["shards"]
    # The candidate's own DEGRADED claims get half the error; the fault windows compared, the other half.
    assert base["family_alpha"] == 0.025 and cand["family_alpha"] == 0.0125
    comparison = json.loads((out / "matrices" / Path(r.out.split("candidate matrix: ")[1].split()[0]).name
                             / "comparison.json").read_text())
    assert comparison["verdict"] == "FAIL" and "calls" in [c["surface"] for c in comparison["changes"] if c["fails"]]
    assert _ours("", out) == [] and _ours(second_engine, out) == [], "every share took its stack down"


def _ours(engine: str, out: Path) -> list:
    """Containers on `engine` labelled with a run directory under `out`."""
    import docker

    client = docker.DockerClient(base_url=engine or "unix:///var/run/docker.sock", timeout=30)
    try:
        found = client.containers.list(all=True, filters={"label": "io.chaosgate.run"})
        return [c.name for c in found if str(out) in c.labels.get("io.chaosgate.run", "")]
    finally:
        client.close()


@pytest.mark.integration
@pytest.mark.docker
def test_shards_whose_parent_is_sigkilled_roll_back_and_leave_nothing(second_engine: str, out: Path) -> None:
    """The matrix is SIGKILLed while each share's fault is in: each share notices its parent gone,
    rolls its fault back and takes its stack down; `chaosgate rollback` then finds nothing of them."""
    import signal
    import sys
    import time

    from tests.chaos.engine_helpers import journal_states, reconciled_of

    proc = subprocess.Popen([sys.executable, "-m", "chaos", "matrix", *ARGS[:ARGS.index("--cells")],
                             "--cells", "pause:echo", "--cells", "down:front->echo", "--window", "60s",
                             "--baseline", "3s", "--recovery", "2s", "--engines", f"local,{second_engine}",
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, runs = time.monotonic() + 240, []
        while time.monotonic() < deadline:
            shares = [json.loads(p.read_text()) for p in out.glob("matrices/*/shards/*/matrix.json")]
            runs = [Path(c["run_dir"]) for m in shares for c in m["cells"] if c["run_dir"]]
            if len(runs) == 2 and all("injected" in journal_states(r) for r in runs if (r / "journal.db").exists()) \
                    and all((r / "journal.db").exists() for r in runs):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"both shares' faults were never in: {runs}")
        assert _ours("", out) and _ours(second_engine, out), "each share has its stack up"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    end = time.monotonic() + 180
    while time.monotonic() < end and (_ours("", out) or _ours(second_engine, out)):
        time.sleep(1)
    assert _ours("", out) == [] and _ours(second_engine, out) == [], "each share took its stack down"
    for run in runs:
        states = journal_states(run)
        assert states and all(s == "rolled_back" for s in states), (run, states)
        # Stopped, not run out: left alone, a share would have finished its 60 s window first.
        res = json.loads((run / "result.json").read_text())
        assert res["status"] == "aborted" and "interrupted" in res["reason"], (res["status"], res["reason"])
    r = chaosgate("rollback", "--out", str(out))
    assert r.code == 0 and reconciled_of(r.err, out) == [], r.err

"""Hostile input: files no test generator produced (alias bombs, deep nesting, huge files,
duplicate keys, binary and non-UTF-8 bytes) for every kind of file chaosgate reads; answers over
the wire that are endless, huge, garbage or 500; a rollback given an --out folder; and a
workspace wiped after a SIGKILL."""

from __future__ import annotations

import http.server
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from chaos.backends.state import ServiceState
from chaos.components.rabbitmq import ManagementClient
from chaos.components.toxiproxy import ToxiproxyClient
from chaos.errors import InfraError
from chaos.faults.broker import CloseConnections, RestoreLimit
from chaos.faults.network import RemoveToxic
from chaos.measure.metrics.sources import SourceError, prometheus
from chaos.run.journal import Journal
from chaos.run.reconcile import rollback_journal
from tests.chaos.engine_helpers import journal_states, only_run_dir, stack_pids, start_run_until_injected
from tests.conftest import STACKS, chaosgate, group_pids, live

#: Any hostile file is refused far faster than this; without the limits an alias bomb spins forever.
BOUND_S = 60
MINI = STACKS / "mini"

HOSTILE = {
    "alias bomb": ('a: &a ["x","x","x","x","x","x","x","x","x"]\n'
                   + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)),
                   "aliases expand the document past"),
    "deep brackets": ("[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels"),
    "deep mappings": ("".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n", "nested deeper than"),
    "huge scalar": ('name: "' + "x" * (1 << 20) + '"\n', "larger than 1024 KiB"),
    "duplicate keys": ("name: a\ndeadline: 4m\ndescription: x\ndeadline: 100m\n",
                       ":4: duplicate key 'deadline' (first at line 2)"),
    "NUL byte": ("name: a\n\x00\n", ":2: a NUL byte at offset 8"),
    "recursive alias": ("a: &a [1, *a]\n", "an alias refers to the node that contains it"),
    "control character": ("name: éééééééééé\nd: \x07\n", ":2: invalid YAML: character #x0007 is not allowed"),
}


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _kinds(tmp_path: Path, hostile: str) -> dict[str, list[str]]:
    """For each kind of file chaosgate reads, the command that reads a hostile one of that kind."""
    exp = _write(tmp_path / "experiment.yaml", hostile)
    compose = _write(tmp_path / "docker-compose.yml", hostile)
    (tmp_path / "surfaces").mkdir(exist_ok=True)
    _write(tmp_path / "surfaces" / "hostile.yaml", hostile)
    uses_surfaces = _write(tmp_path / "uses-surfaces.yaml", (MINI / "experiment.yaml").read_text()
                           .replace("stack: docker-compose.yml", f"stack: {MINI / 'docker-compose.yml'}")
                           .split("surfaces:")[0] + "surfaces: hostile\n")
    policy = _write(tmp_path / "gate.yaml", hostile)
    good_policy = _write(tmp_path / "good-gate.yaml", f"name: g\nexperiments: ['{MINI / 'experiment.yaml'}']\n"
                         "criteria: [{name: c, blast_radius: {contained: true}}]\n")
    waivers = _write(tmp_path / "waivers.yaml", hostile)
    out = str(tmp_path / "reports")
    return {
        "experiment": ["validate", str(exp)],
        "stack file": ["stack", "up", "-f", str(compose), "--out", out],
        "surface set": ["validate", str(uses_surfaces)],
        "gate policy": ["gate", str(policy), "--out", out],
        "waivers": ["gate", str(good_policy), "--waivers", str(waivers), "--out", out],
        # `validate` reads a file before it can tell its kind; a dry run reads the waivers it would apply.
        "any file, validated": ["validate", str(compose)],
        "waivers, dry run": ["gate", str(good_policy), "--waivers", str(waivers), "--dry-run", "--out", out],
    }


@pytest.mark.parametrize("case", list(HOSTILE))
def test_every_file_kind_refuses_hostile_yaml_with_one_located_message(tmp_path: Path, case: str) -> None:
    text, expected = HOSTILE[case]
    for kind, argv in _kinds(tmp_path, text).items():
        res = chaosgate(*argv, timeout=BOUND_S)
        assert res.code == 3, (kind, res.err[-500:])
        errors = [line for line in res.err.splitlines() if line.startswith("chaosgate: error:")]
        assert len(errors) == 1 and expected in errors[0], (kind, res.err[-800:])
        assert "Traceback" not in res.err, (kind, res.err[-2000:])
        assert not (tmp_path / "reports").exists(), f"{kind}: something was started"


def test_non_utf8_is_refused_and_a_byte_order_mark_or_mixed_line_endings_are_fine(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    res = chaosgate("validate", str(latin))
    assert res.code == 3 and f"{latin}:1: not UTF-8 text (byte 0xe9 at offset 9)" in res.err, res.err
    # The mini experiment and its stack, saved by an editor that writes a BOM and mixes line endings.
    compose = tmp_path / "docker-compose.yml"
    compose.write_bytes(b"\xef\xbb\xbf" + (MINI / "docker-compose.yml").read_bytes().replace(b"\n", b"\r\n", 5)
                        .replace(b"[python, app.py]", f"[python, {MINI / 'app.py'}]".encode()))
    exp = tmp_path / "experiment.yaml"
    exp.write_bytes(b"\xef\xbb\xbf" + (MINI / "experiment.yaml").read_bytes().replace(b"\n", b"\r\n"))
    res = chaosgate("validate", str(exp))
    assert res.code == 0, res.err


# --- over the wire --------------------------------------------------------------------------------
class _Hostile(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "garbage"

    def _answer(self) -> None:
        if self.mode == "500":
            body = b"internal error"
            self.send_response(500)
        elif self.mode == "endless":
            self.send_response(200)
            self.send_header("Content-Length", str(10 << 20))
            self.end_headers()
            try:
                for _ in range(600):  # a byte a tenth of a second: bounded here too, ends by itself
                    self.wfile.write(b"#")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            return
        elif self.mode == "huge":
            body = b"# " + b"x" * (20 << 20) + b"\n"
            self.send_response(200)
        else:
            body = b"\x00\xff{not json, not prometheus text\n"
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(mode: str) -> str:
        _Hostile.mode = mode
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    server.shutdown()


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["endless", "huge", "garbage", "500"])
def test_a_metrics_endpoint_that_answers_badly_is_missing_data_within_the_read_bound(hostile_server, mode) -> None:
    url = hostile_server(mode)
    port = int(url.rsplit(":", 1)[1])
    source = prometheus("svc", ServiceState(name="svc", kind="process", ports={8000: port}, health_url=url + "/healthz"))
    t0 = time.monotonic()
    with pytest.raises(SourceError) as err:
        source.read(time.time())
    took = time.monotonic() - t0
    print(f"\n{mode}: SourceError after {took:.2f} s: {err.value}")
    assert took < 30, "the read ended by its own bound, not the server's"


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["500", "garbage", "endless"])
def test_a_toxiproxy_api_that_answers_badly_gives_a_clear_error_and_rollback_still_completes(
        tmp_path: Path, hostile_server, mode) -> None:
    url = hostile_server(mode)
    with pytest.raises(InfraError) as err:
        ToxiproxyClient(url).proxies()
    assert url in str(err.value) or "toxiproxy" in str(err.value)
    journal = Journal(tmp_path)
    for i in range(2):
        entry = journal.intend("network.latency", f"link-{i}", RemoveToxic(url=url, proxy=f"link-{i}", toxic="t"))
        journal.mark(entry, "injected")
    failures = rollback_journal(journal)
    assert len(failures) == 2, "every entry was tried, though the first failed"
    assert journal_states(tmp_path) == ["rollback_failed", "rollback_failed"]
    assert all(url in f for f in failures), failures  # each names the endpoint that misbehaved


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["500", "garbage", "endless"])
def test_a_rabbitmq_api_that_answers_badly_gives_a_clear_error_and_rollback_still_completes(
        tmp_path: Path, hostile_server, mode) -> None:
    url = hostile_server(mode)
    with pytest.raises(InfraError) as err:
        ManagementClient(url).connections()
    assert url in str(err.value)
    journal = Journal(tmp_path)
    for undo in (RestoreLimit(management=url, vhost="/", previous=None),
                 CloseConnections(management=url, name="chaosgate-hold-x-0")):
        journal.mark(journal.intend("broker.fault", "broker", undo), "injected")
    failures = rollback_journal(journal)
    assert len(failures) == 2 and all(url in f for f in failures), failures
    assert journal_states(tmp_path) == ["rollback_failed", "rollback_failed"]


# --- rollback given an --out folder, and a wiped workspace --------------------------------------------
def _killed_mid_fault(out: Path) -> Path:
    proc = start_run_until_injected(MINI / "experiment.yaml", out, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return only_run_dir(out)


@pytest.mark.integration
def test_rollback_of_an_out_folder_reconciles_its_runs_and_a_wrong_path_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    run_dir = _killed_mid_fault(out)
    pids = stack_pids(run_dir)
    assert live(pids), "the killed run left its stack up"
    res = chaosgate("rollback", str(out))
    assert res.code == 0, res.err
    assert "is an output folder" in res.err and f"reconcile {run_dir.name}: stopped leftover stack" in res.err
    assert live(pids) == [] and group_pids(pids) == []
    assert all(s == "rolled_back" for s in journal_states(run_dir))
    empty = tmp_path / "empty"
    empty.mkdir()
    res = chaosgate("rollback", str(empty))
    assert res.code == 3 and "not a run directory" in res.err, res.err


@pytest.mark.integration
def test_a_wiped_workspace_leaves_no_process_behind(tmp_path: Path) -> None:
    out = tmp_path / "workspace" / "reports"
    run_dir = _killed_mid_fault(out)
    pids = stack_pids(run_dir)
    assert live(pids)
    shutil.rmtree(tmp_path / "workspace")  # the CI job's workspace is deleted
    other = chaosgate("rollback", "--out", str(tmp_path / "elsewhere"))  # the next command, anywhere
    assert other.code == 0, other.err
    assert "stopped orphan process group" in other.err and "is gone" in other.err
    assert live(pids) == [] and group_pids(pids) == []

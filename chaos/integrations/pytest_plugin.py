"""chaosgate in a pytest suite (registered through the `pytest11` entry point: installing
chaosgate is enough).

- `chaosgate_stack` (session fixture): the compose stack of `--chaosgate-compose` started once
  for the session and stopped at its end, faults injected through it healed first.
- `chaosgate_fault(spec)` (fixture returning a context manager): inject one fault — the same
  registry and journal as experiments — and roll it back on leaving the block, on a failure and
  on Ctrl-C.
- `@pytest.mark.chaosgate_experiment(FILE, set={…})`: run an experiment file as the test. It
  passes when the run completed and its blast radius is contained, fails with the radius in the
  message when it is not, and errors when the run was inconclusive or could not run. The
  `chaosgate_result` fixture gives the test body the run's result to assert more.

Each test's run directory and report path (or the stack's directory) become JUnit properties.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the plugin loads with every pytest run: it imports chaosgate only when a test uses it
    from chaos.measure.result import RunResult

RESULT_KEY: pytest.StashKey[RunResult] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options (also settable in the ini file)."""
    group = parser.getgroup("chaosgate", "chaosgate: stacks, faults and experiments in tests")
    group.addoption("--chaosgate-compose", help="compose file of the session's stack (default: docker-compose.yml)")
    group.addoption("--chaosgate-backend", choices=["local", "docker"], help="backend of the session's stack")
    group.addoption("--chaosgate-set", action="append", default=[], metavar="VAR=VALUE",
                    help="a variable of the session's stack (repeatable)")
    group.addoption("--chaosgate-out", help="folder for run and stack directories (default: reports)")
    parser.addini("chaosgate_compose", "compose file of the session's stack", default="docker-compose.yml")
    parser.addini("chaosgate_backend", "backend of the session's stack", default="local")
    parser.addini("chaosgate_out", "folder for run and stack directories", default="reports")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker."""
    config.addinivalue_line("markers", "chaosgate_experiment(file, set=None, backend=None): run a chaosgate "
                                       "experiment as this test (pass: completed and contained)")


def _option(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"--chaosgate-{name}")
    return value if value else config.getini(f"chaosgate_{name}")


def _out(config: pytest.Config) -> Path:
    return Path(config.rootpath, _option(config, "out"))


def _sets(pairs: list[str]) -> dict[str, str]:
    from chaos.errors import InputError

    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise InputError("--chaosgate-set", f"{bad[0]!r} is not VAR=VALUE")
    return dict(p.split("=", 1) for p in pairs)


class StackHandle:
    """The session's running stack: where its services listen, and its state."""

    def __init__(self, state):
        self.state = state

    @property
    def run_dir(self) -> Path:
        return Path(self.state.run_dir)

    def port(self, service: str) -> int:
        """The published port of a service's main port (on 127.0.0.1, or a remote engine's host)."""
        return self.state.services[service].port

    def url(self, service: str, path: str = "") -> str:
        """http://HOST:PORT/path of a service."""
        return self.state.services[service].url(path)


@pytest.fixture(scope="session")
def chaosgate_stack(request: pytest.FixtureRequest) -> Iterator[StackHandle]:
    """The compose stack started once for the session, stopped (faults healed first) at its end."""
    from chaos import backends
    from chaos.gameday import heal, outstanding
    from chaos.run.reconcile import sweep_orphans
    from chaos.stack import load_stack
    from chaos.util.rundirs import STACKS, new_dir

    config = request.config
    compose = Path(config.rootpath, _option(config, "compose"))
    stack = load_stack(compose, _sets(config.getoption("--chaosgate-set")))
    backend = backends.get(_option(config, "backend"))
    sweep_orphans(lambda m: None)
    run_dir = new_dir(_out(config), STACKS, "pytest", stack.name)
    state = backend.up(stack, run_dir)
    try:
        yield StackHandle(state)
    finally:
        try:
            if outstanding(state):
                heal(state, None)
        finally:
            backend.down(state)


@pytest.fixture
def chaosgate_fault(chaosgate_stack: StackHandle, request: pytest.FixtureRequest):
    """`with chaosgate_fault({type: …} or "YAML"):` — a fault for the block, rolled back on any exit."""
    from chaos import gameday

    request.node.user_properties.append(("chaosgate_stack_dir", str(chaosgate_stack.run_dir)))

    @contextlib.contextmanager
    def fault(spec: dict | str) -> Iterator[list[int]]:
        import yaml

        text = spec if isinstance(spec, str) else yaml.safe_dump(spec, default_flow_style=True)
        parsed, doc = gameday.parse_fault(text, None)
        ids, _ = gameday.inject(chaosgate_stack.state, parsed, doc)
        try:
            yield ids
        finally:  # the block's end, an assertion failing in it, Ctrl-C: always healed
            _, failures = gameday.heal(chaosgate_stack.state, ids)
            if failures:
                raise RuntimeError(f"chaosgate could not roll back {parsed.type}: {failures}")

    return fault


@pytest.fixture
def chaosgate_result(request: pytest.FixtureRequest):
    """The RunResult of the test's `chaosgate_experiment` run."""
    result = request.node.stash.get(RESULT_KEY, None)
    if result is None:
        pytest.fail("chaosgate_result needs @pytest.mark.chaosgate_experiment(FILE) on the test", pytrace=False)
    return result


class ExperimentNotRun(Exception):
    """The experiment was inconclusive, or could not run: the test errors, it does not fail."""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Run the marked experiment before the test's fixtures: an inconclusive run is an error."""
    marker = item.get_closest_marker("chaosgate_experiment")
    if marker is None:
        return
    from chaos.run.engine import Engine
    from chaos.spec.experiment import load_experiment

    file = Path(marker.args[0]) if marker.args else Path(marker.kwargs["file"])
    if not file.is_absolute():  # relative to the rootdir, or else to the test's own folder
        file = next((c for c in (Path(item.config.rootpath) / file, Path(item.path).parent / file) if c.exists()),
                    Path(item.config.rootpath) / file)
    exp = load_experiment(file, marker.kwargs.get("set") or {}, backend=marker.kwargs.get("backend"))
    engine = Engine(exp, _out(item.config), lambda m: None)
    result = engine.run()
    item.user_properties.append(("chaosgate_run_dir", str(engine.run_dir)))
    report = _report(engine.run_dir, _out(item.config))
    if report:
        item.user_properties.append(("chaosgate_report", str(report)))
    item.stash[RESULT_KEY] = result
    if result.status in ("inconclusive", "failed"):
        raise ExperimentNotRun(f"experiment {exp.spec.name} {result.status}: {result.reason} "
                               f"(run directory {engine.run_dir})")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A marked test fails when its run was cut short or its radius is not contained."""
    result = item.stash.get(RESULT_KEY, None)
    if result is None:
        return
    if result.status != "completed":
        pytest.fail(f"experiment {result.experiment} {result.status}: {result.reason}", pytrace=False)
    radius = result.blast_radius
    if radius is None or not radius.contained:
        if radius is None:
            what = "no blast radius was measured"
        else:
            worse = [f"{s.surface} ({s.classification}" + (", from a perfect baseline)" if s.magnitude == float("inf")
                                                            else f", {s.magnitude:.0%} worse)" if s.magnitude else ")")
                     for s in radius.surfaces if s.surface in radius.radius]
            what = (f"degraded {', '.join(worse) or 'nothing'}"
                    + (f"; unknown {', '.join(radius.unknown)}" if radius.unknown else "")
                    + f"; expected only {', '.join(radius.expected) or 'nothing'}")
        # Unknown fails the test as NOT contained does (fail closed), but says it could not tell.
        verdict = "containment unknown" if radius is not None and radius.contained is None else "NOT contained"
        pytest.fail(f"blast radius of {result.experiment} {verdict}: {what} (run directory {result.run_dir})",
                    pytrace=False)


def _report(run_dir: Path, out: Path) -> Path | None:
    try:
        from chaos import report

        path = report.render_run(run_dir)
        report.render_index(out)
        return path
    except Exception:  # noqa: BLE001 - a test's verdict never depends on drawing its page
        return None

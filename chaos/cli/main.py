"""The `chaosgate` command. Heavy libraries are imported inside subcommands to keep start-up fast."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from chaos import __version__
from chaos.errors import EXIT_FAIL, EXIT_INVALID, ChaosgateError, InputError

if TYPE_CHECKING:  # the commands import what they need when they run: starting the CLI stays quick
    from contextlib import AbstractContextManager

    from pydantic import BaseModel

    from chaos.backends.status import ServiceStatus
    from chaos.run.engine import Engine

DEFAULT_COMPOSE = "docker-compose.yml"
DEFAULT_OUT = "reports"
#: A/A pairs `calibrate` runs by default: enough for a first variance (the file says how many it rests on).
DEFAULT_PAIRS = 5


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived; unwinding runs every rollback on the way out."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def say(msg: str) -> None:
    """Progress for a person watching: to stderr, so stdout stays parseable. Never raises."""
    try:
        print(f"[chaosgate {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
    except OSError:
        # The reader went away (a parent killed, `2>&1 | head`). Progress is for a person: losing it
        # must not stop the rollback or the stack's stop it was reporting on. A BrokenPipeError here
        # once aborted a kept stack's stop at its first "stopping" line and left the stack running.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
        except OSError:
            pass


def parse_sets(pairs: list[str] | None) -> dict[str, str]:
    """--set VAR=VALUE pairs as a dict; a pair without '=' is an InputError."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError("--set", f"{pair!r} is not VAR=VALUE")
        out[key] = value
    return out


# --- stack ---------------------------------------------------------------------------------------
def cmd_stack(args: argparse.Namespace) -> int:
    from chaos import backends
    from chaos.backends.state import clear_active, find_active, mark_active
    from chaos.run.reconcile import sweep_orphans
    from chaos.stack import load_stack

    stack = load_stack(args.file, parse_sets(args.set))
    out = Path(args.out)
    sweep_orphans(say)  # processes and containers whose run directory was deleted
    backend = backends.get(args.backend, say=say)
    active = find_active(out, stack.name)
    if args.action == "up":
        if active is not None and active.status in ("starting", "up", "stopping"):
            raise ChaosgateError(f"stack {stack.name!r} is already up (run dir {active.run_dir}); "
                                 f"run `chaosgate stack down -f {args.file}` first")
        backend.check(stack)
        run_dir = out / "stacks" / f"{time.strftime('%Y%m%d-%H%M%S')}-{stack.name}"
        say(f"bringing up stack {stack.name!r} ({len(stack.services)} services) in {run_dir}")
        state = backend.up(stack, run_dir)
        mark_active(out, state)
        _print_status(backend.status(state))
        say(f"stack {stack.name!r} is up; stop it with: chaosgate stack down -f {args.file}")
        return 0
    if active is None:
        raise ChaosgateError(f"no stack {stack.name!r} is up (nothing recorded under {out})")
    backend = backends.get(active.backend, say=say)  # whichever backend started it
    if args.action == "status":
        rows = backend.status(active)
        _print_status(rows)
        return 0 if all(row.healthy for row in rows.values()) else 1
    _heal_hand_faults(active)
    killed = backend.down(active)
    clear_active(out, active)
    if killed:
        say("needed SIGKILL: " + ", ".join(killed))
    say(f"stack {stack.name!r} is down")
    return 0


def _heal_hand_faults(state) -> None:
    """Before a stack goes down, what was injected on it by hand is rolled back (nothing left behind
    outside it: a toxic in a shared toxiproxy, a vhost limit, held connections)."""
    from chaos.run.journal import JOURNAL_FILE, Journal
    from chaos.run.reconcile import rollback_journal

    if not (Path(state.run_dir) / JOURNAL_FILE).exists():
        return
    journal = Journal(state.run_dir)
    try:
        pending = journal.outstanding()
        for failure in rollback_journal(journal):
            say(f"FAILED to heal before stopping: {failure}")
        if pending:
            say(f"healed {len(pending)} fault(s) injected by hand")
    finally:
        journal.close()


def _print_status(rows: dict[str, ServiceStatus]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("service", "pid / container", "port", "pool", "running", "healthy")
    for row in rows.values():
        table.add_row(*_status_cells(row))
    console = Console(width=100)
    console.print(table)
    for row in rows.values():
        if row.management_url:
            console.print(f"{row.name} management: {row.management_url}", highlight=False, soft_wrap=True)


def _status_cells(row: ServiceStatus) -> list[str]:
    """One service's cells in the status table; its state is said when it is not plainly running."""
    where = str(row.pid) if row.pid is not None else row.container_name or (row.container_id or "")[:12]
    running = "yes" if row.running else "NO"
    if row.state != "running":
        running += f" ({row.state})"
    return [row.name, where or "-", str(row.port or "-"), row.pool or "-", running, "yes" if row.healthy else "NO"]


# --- experiments ---------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from chaos.errors import InputErrors
    from chaos.gate.filecheck import check_file

    problems: list[str] = []
    for path in args.files:
        try:
            checked = check_file(path, parse_sets(args.set), args.kind)
            print(f"{path}: ok: {checked.summary}")
            for warning in checked.warnings:
                print(f"chaosgate: warning: {warning}", file=sys.stderr)
        except InputErrors as exc:
            problems += [str(e) for e in exc.errors]
        except InputError as exc:
            problems.append(str(exc))
    # Files that share a surface set or a stack would repeat its problems once per file.
    for line in dict.fromkeys(problems):
        print(f"chaosgate: error: {line}", file=sys.stderr)
    if problems:
        print(f"chaosgate: {len(dict.fromkeys(problems))} problem(s); nothing was started", file=sys.stderr)
    return EXIT_INVALID if problems else 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    model: type[BaseModel]
    if args.kind == "policy":
        from chaos.gate.policy import GatePolicy as model
    elif args.kind == "waivers":
        from chaos.gate.waivers import WaiverFile as model
    else:
        from chaos.spec.experiment import Experiment as model

    print(json.dumps(model.model_json_schema(by_alias=True), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if args.dry_run:
        from chaos.run.plan import describe_plan
        from chaos.spec.experiment import load_experiment

        print(describe_plan(load_experiment(args.file, parse_sets(args.set), backend=args.backend)))
        return 0
    from chaos.api import run_experiment
    from chaos.cli.live import engine_status, live_console
    from chaos.cli.summary import print_summary
    from chaos.report import REPORT_FILE

    def around(engine: Engine) -> AbstractContextManager[object]:
        return live_console(args.live, engine.exp.surfaces, engine.run_dir, lambda: engine_status(engine), say, engine)

    result = run_experiment(args.file, out=args.out, variables=parse_sets(args.set), backend=args.backend,
                            attach=args.attach, around=around, say=say)
    print_summary(result)
    print(f"run directory: {result.run_dir}")
    report = Path(result.run_dir) / REPORT_FILE
    if report.exists():
        print(f"report: {report}")
    return result.exit_code


def cmd_rollback(args: argparse.Namespace) -> int:
    from chaos.backends.state import STATE_FILE
    from chaos.run.journal import JOURNAL_FILE
    from chaos.run.reconcile import needs_reconcile, reconcile_all, reconcile_run, reconcile_stacks, sweep_orphans

    if args.run_dir:
        run_dir = Path(args.run_dir)
        if not run_dir.is_dir():
            raise InputError(run_dir, "no such run directory")
        if (run_dir / JOURNAL_FILE).exists() or (run_dir / STATE_FILE).exists():
            done = reconcile_run(run_dir, say, args.keep_stack) if needs_reconcile(run_dir) else []
            done += sweep_orphans(say)
        elif (run_dir / "runs").is_dir():
            # An --out folder, given in good faith: reconcile every run below it, never "nothing to do".
            say(f"{run_dir} is an output folder: reconciling every run under {run_dir / 'runs'}")
            done = reconcile_all(run_dir, say) + reconcile_stacks(run_dir, say)
        else:
            raise InputError(run_dir, "not a run directory (no journal.db or stack.json) nor an output folder "
                             "(no runs/ inside): give a run directory, e.g. reports/runs/<run>, or the --out folder")
    else:
        done = reconcile_all(Path(args.out), say) + reconcile_stacks(Path(args.out), say)
    failed = [d for d in done if d.startswith("FAILED")]
    say("nothing to reconcile" if not done else f"reconciled: {len(done)} actions, {len(failed)} failed")
    return 3 if failed else 0


def cmd_gameday(args: argparse.Namespace) -> int:
    from chaos.api import report_run
    from chaos.cli.gameday import dispatch

    return dispatch(args.gameday, args, say, parse_sets, lambda run_dir: report_run(run_dir, args.out, say))


def cmd_import(args: argparse.Namespace) -> int:
    from chaos.integrations.ctk_import import run_import

    out, _ = run_import(Path(args.file), Path(args.stack), Path(args.output) if args.output else None,
                        args.target, say)
    print(out)
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _gate_dry_run(args)
    from chaos.api import run_gate

    verdict = run_gate(args.policy, candidate=parse_sets(args.candidate), baseline=parse_sets(args.baseline),
                       variables=parse_sets(args.set), backend=args.backend, only=args.only, out=args.out,
                       waivers=args.waivers, seed=args.seed, fail_fast=False if args.no_fail_fast else None,
                       repeats=args.repeats, reuse_stack=not args.no_reuse_stack, from_dir=args.from_dir, say=say)
    _print_verdict(verdict)
    if verdict.verdict == "WARN" and args.fail_on == "warn":
        return EXIT_FAIL
    return verdict.exit_code


def cmd_calibrate(args: argparse.Namespace) -> int:
    from chaos.api import calibrate_policy

    cal, path = calibrate_policy(args.policy, pairs=args.pairs, variables=parse_sets(args.set), backend=args.backend,
                                 only=args.only, out=args.out, say=say)
    print(f"calibration of {cal.policy}: {cal.pairs} A/A pair(s)")
    print(f"  {'criterion':28} {'experiment':30} {'level':>9} {'A/A sd':>9} {'run-to-run sd':>13} "
          f"{'false blocks':>12} {'sees (80 %)':>12}")
    for n in cal.noise:
        spread = (sum(e * e for e in n.aa_effects) / len(n.aa_effects)) ** 0.5
        sees = f"{n.detectable:.3g}" if n.detectable is not None else "-"
        print(f"  {n.criterion[:28]:28} {n.experiment[:30]:30} {n.level:9.4g} {spread:9.3g} "
              f"{n.between_variance ** 0.5:13.3g} {n.false_blocks:>5} of {len(n.aa_effects):<4} {sees:>12}")
    if not cal.noise:
        print("  no vs_baseline criterion had usable runs: nothing was measured")
    print(f"calibration: {path} (commit it beside the policy; every gate of the policy uses it)")
    return 0 if cal.noise else 2


def _gate_dry_run(args: argparse.Namespace) -> int:
    """The gate's plan, with the caller's choices applied as `chaos.api.run_gate` applies them; nothing runs."""
    from chaos.api import REPEATS_RANGE
    from chaos.gate.plan import describe_gate_plan
    from chaos.gate.policy import load_policy
    from chaos.gate.waivers import load_waivers

    if args.from_dir:
        raise InputError("--dry-run", "--from re-judges stored runs and runs nothing: there is no plan to show")
    policy = load_policy(args.policy, parse_sets(args.candidate), parse_sets(args.baseline), parse_sets(args.set),
                         args.backend, args.only)
    if args.repeats is not None:
        low, high = REPEATS_RANGE
        if not low <= args.repeats <= high:
            raise InputError("--repeats", f"{args.repeats} is not between {low} and {high}")
        policy.spec.repeats = args.repeats
    if args.no_reuse_stack:
        policy.spec.reuse_stack = False
    waiver_file = args.waivers or (policy.path.parent / policy.spec.waivers if policy.spec.waivers else None)
    waivers = load_waivers(str(waiver_file)) if waiver_file else []
    print(describe_gate_plan(policy, fail_fast=False if args.no_fail_fast else None, waivers=waivers, out=args.out))
    return 0


def _print_verdict(v) -> None:
    from chaos.gate.outputs import MEANING

    print(f"gate {v.policy}: {v.verdict} — {MEANING[v.verdict]} (exit {v.exit_code})")
    lead, folded = v.split_reasons()
    for reason in lead:
        print(f"  {reason}")
    if folded:  # criteria never judged: one line, not a bullet each (summary.md lists them)
        print(f"  and {len(folded)} more not judged: the gate stopped early (listed in summary.md)")
    print("criteria:")
    for c in v.criteria:
        print(f"  {c.verdict:<12} {c.criterion} [{c.experiment}]{' (critical)' if c.critical else ''}")
    for w in v.warnings:
        print(f"  warning: {w}")
    if v.wall_s is not None:
        print(f"wall time {v.wall_s:.0f}s for {v.declared_s:.0f}s of declared phases")
    print(f"gate directory: {v.gate_dir}")
    if v.report:
        print(f"report: {v.report}")


def cmd_matrix(args: argparse.Namespace) -> int:
    from chaos.cli.matrix import cmd_matrix as run

    return run(args, say, parse_sets)


def cmd_report(args: argparse.Namespace) -> int:
    from chaos import report
    from chaos.gate.outputs import VERDICT_FILE

    folder = Path(args.dir)
    if (folder / "result.json").exists():
        path = report.render_run(folder)
    elif (folder / VERDICT_FILE).exists():
        path = report.render_gate(folder)
    elif (folder / "runs").is_dir() or (folder / "gates").is_dir():
        path = report.render_index(folder)
    else:
        raise InputError(folder, "not a run directory (result.json), a gate directory (verdict.json) nor a "
                         "reports folder (runs/ or gates/ inside)")
    print(f"report: {path}")
    return 0


# --- parser --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subcommand per job, each with its own --help."""
    parser = argparse.ArgumentParser(
        prog="chaosgate",
        description="Chaos experiments that measure blast radius, and a release gate that obeys them.",
        epilog="Exit codes: 0 pass/ok, 1 fail, 2 inconclusive, 3 invalid input or infrastructure error.",
    )
    parser.add_argument("--version", action="version", version=f"chaosgate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    stack = sub.add_parser("stack", help="start, inspect or stop a run stack (up | status | down)",
                           description="Start, inspect or stop a stack described by a compose file.")
    stack.add_argument("action", choices=["up", "status", "down"],
                       help="up: start and wait for health; status: pid, port, health; down: stop all")
    stack.add_argument("-f", "--file", default=DEFAULT_COMPOSE, metavar="COMPOSE_FILE",
                       help="compose file (default: %(default)s)")
    stack.add_argument("--backend", default="local", choices=["local", "docker"],
                       help="up: where services run, local processes or containers (default: %(default)s); "
                            "status and down use the backend that started the stack")
    stack.add_argument("--set", action="append", metavar="VAR=VALUE",
                       help="override a ${VAR} of the compose file (repeatable)")
    stack.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                       help="folder for run directories (default: %(default)s)")
    stack.set_defaults(func=cmd_stack)

    run = sub.add_parser("run", help="run one experiment: stack, load, phases, faults, rollback, result",
                         description="Run an experiment. Exit 0 completed, 1 aborted, 2 inconclusive, 3 failed/invalid.")
    run.add_argument("file", help="experiment YAML")
    run.add_argument("--backend", choices=["local", "docker"],
                     help="override the experiment's backend: local processes or containers (images built "
                          "by scripts/build-images)")
    run.add_argument("--set", action="append", metavar="VAR=VALUE", help="override a stack variable (repeatable)")
    run.add_argument("--dry-run", action="store_true", help="print the plan; start and inject nothing")
    run.add_argument("--attach", action="store_true",
                     help="run on the stack `chaosgate stack up` started (same name), and leave it up")
    run.add_argument("--live", action="store_true",
                     help="a live console: phase and time left, SLIs with sparklines, radius so far, active faults")
    run.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="folder for run directories (default: %(default)s)")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser(
        "validate", help="check experiments, gate policies, waivers, stacks, surface sets; every problem located",
        description="Check files before they run. Each file's kind is told by its top-level keys: an experiment "
                    "(stack, phases, faults) is checked against its stack and surfaces, a gate policy (experiments, "
                    "criteria) with every experiment it names on both sides, a waiver file (waivers), a stack "
                    "(services) against both backends, a surface set (NAME: {services, slis}). Every problem is "
                    "one line, FILE:LINE: field.path: message. Nothing is started. Exit 3 on any problem.")
    validate.add_argument("files", nargs="+", metavar="FILE",
                          help="YAML files of any of the kinds above (several at once)")
    validate.add_argument("--set", action="append", metavar="VAR=VALUE",
                          help="override a stack variable (repeatable)")
    validate.add_argument("--kind", choices=["experiment", "policy", "waivers", "stack", "surfaces"],
                          help="check every FILE as this kind instead of telling it by its keys")
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser("schema", help="print the JSON Schema of a file kind (for editors)",
                            description="Print the JSON Schema of an experiment, gate policy or waiver file, for "
                                        "an editor's completion and checks (e.g. yaml-language-server's "
                                        "`# yaml-language-server: $schema=...`). `chaosgate validate` checks what a "
                                        "schema cannot: references, stacks, durations' bounds.")
    schema.add_argument("kind", nargs="?", default="experiment", choices=["experiment", "policy", "waivers"],
                        help="which file (default: %(default)s)")
    schema.set_defaults(func=cmd_schema)

    gate = sub.add_parser(
        "gate", help="judge a candidate against the baseline: PASS / WARN / FAIL / INCONCLUSIVE",
        description="Run a gate policy's experiments for the baseline and the candidate (interleaved), compare "
                    "them, and decide whether the candidate may be promoted. Writes verdict.json, junit.xml and "
                    "summary.md into the gate directory.",
        epilog="Exit codes: 0 PASS (and WARN unless --fail-on warn), 1 FAIL, 2 INCONCLUSIVE (blocks: chaosgate "
               "could not tell), 3 invalid input or chaosgate's own failure.")
    gate.add_argument("policy", help="gate policy YAML (e.g. gates/pre-promotion.yaml)")
    gate.add_argument("--candidate", action="append", metavar="VAR=VALUE",
                      help="the candidate, as you name it, e.g. TELEMETRY_RELEASE=1.5.0-rc1 (repeatable)")
    gate.add_argument("--baseline", action="append", metavar="VAR=VALUE",
                      help="override a variable of the policy's baseline set (repeatable)")
    gate.add_argument("--set", action="append", metavar="VAR=VALUE",
                      help="an experiment variable for both sides (repeatable)")
    gate.add_argument("--backend", choices=["local", "docker"], help="override the experiments' backend")
    gate.add_argument("--only", action="append", metavar="NAME",
                      help="run only the policy's experiments with this name (glob; repeatable)")
    gate.add_argument("--repeats", type=int, metavar="N", help="runs per experiment and side (default: the policy's)")
    gate.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the bootstrap (default: %(default)s)")
    gate.add_argument("--fail-on", choices=["fail", "warn"], default="fail",
                      help="warn: a WARN verdict exits 1 too (default: %(default)s)")
    gate.add_argument("--no-fail-fast", action="store_true",
                      help="run everything even after a critical criterion failed")
    gate.add_argument("--no-reuse-stack", action="store_true",
                      help="start a fresh stack for every run instead of keeping one between runs")
    gate.add_argument("--waivers", metavar="FILE", help="waivers file (default: the policy's 'waivers')")
    gate.add_argument("--dry-run", action="store_true",
                      help="print the plan (runs in order, declared time, each comparison's alpha, the samples "
                           "each criterion will get) and start nothing")
    gate.add_argument("--from", dest="from_dir", metavar="GATE_DIR",
                      help="judge a gate directory's stored runs again; nothing is run")
    gate.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                      help="folder for gate and run directories; --dry-run estimates event counts from the runs "
                           "stored there (default: %(default)s)")
    gate.set_defaults(func=cmd_gate)

    cal = sub.add_parser(
        "calibrate", help="measure a gate policy's run-to-run noise on your stack (A/A pairs)",
        description="Run N A/A pairs of every experiment of a gate policy — its baseline against itself, "
                    "interleaved, on one kept stack — and measure per vs_baseline criterion and experiment the A/A "
                    "effects, the run-to-run variance beyond sampling noise, the pairs a gate would have blocked, "
                    "and the worsening a gate of this policy could see (80 %% power). Writes "
                    "<policy>.calibration.json beside the policy: commit it. Every gate of the policy then adds "
                    "the run-to-run variance to its intervals and warns when a floor is below the noise.",
        epilog="Each pair is one gate's worth of runs (the shipped policy: ~9 minutes a pair on 2 cores); "
               "use --only for one experiment. Exit codes: 0 measured, 2 nothing usable, 3 invalid input.")
    cal.add_argument("policy", help="gate policy YAML")
    cal.add_argument("--pairs", type=int, default=DEFAULT_PAIRS, metavar="N", help="A/A pairs to run (default: %(default)s)")
    cal.add_argument("--set", action="append", metavar="VAR=VALUE", help="an experiment variable (repeatable)")
    cal.add_argument("--backend", choices=["local", "docker"], help="override the experiments' backend")
    cal.add_argument("--only", action="append", metavar="NAME",
                     help="calibrate only the policy's experiments with this name (glob; repeatable)")
    cal.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="folder for the runs (default: %(default)s)")
    cal.set_defaults(func=cmd_calibrate)

    rep = sub.add_parser("report", help="render the HTML report of a run, a gate or a reports folder again",
                         description="Render report.html from stored data: a run directory, a gate directory, "
                                     "or a reports folder (then its index.html, every run and gate, newest first).")
    rep.add_argument("dir", metavar="DIR",
                     help="a run directory (result.json), a gate directory (verdict.json) or a reports folder")
    rep.set_defaults(func=cmd_report)

    rollback = sub.add_parser("rollback", help="reconcile after a crash: undo every fault a journal lists",
                              description="Undo faults that journals say may still be injected, and stop "
                                          "their stacks. Without RUN_DIR, every run under --out.")
    rollback.add_argument("run_dir", nargs="?", metavar="RUN_DIR",
                          help="a run directory (reports/runs/<run>), or an --out folder: every run under it")
    rollback.add_argument("--keep-stack", action="store_true",
                          help="undo faults but leave the run's stack running (with RUN_DIR)")
    rollback.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                          help="folder of run directories (default: %(default)s)")
    rollback.set_defaults(func=cmd_rollback)

    imp = sub.add_parser(
        "import", help="translate another tool's experiment into a chaosgate experiment (chaostoolkit)",
        description="Translate a Chaos Toolkit experiment (JSON or YAML): HTTP steady-state probes become a "
                    "locust profile and a failure-ratio SLI, toxiproxy actions become network faults on the "
                    "stack's links (a proxy named like a link, e.g. front->echo), pauses set the timing. "
                    "Everything else is listed with its path in the source. The output validates.",
        epilog="example:\n  chaosgate import chaostoolkit experiment.json --stack docker-compose.yml --target front "
               "-o experiments/imported.yaml", formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("format", choices=["chaostoolkit"], help="the source's tool")
    imp.add_argument("file", help="the source experiment (.json, .yaml)")
    imp.add_argument("--stack", default=DEFAULT_COMPOSE, metavar="COMPOSE_FILE",
                     help="compose file the experiment runs on (default: %(default)s)")
    imp.add_argument("--target", metavar="SERVICE", help="service the source's HTTP probes address")
    imp.add_argument("-o", "--output", metavar="FILE",
                     help="output file (default: FILE's name + .chaosgate.yaml, beside it)")
    imp.set_defaults(func=cmd_import)

    from chaos.cli.gameday import add_parsers
    from chaos.cli.matrix import add_parser as add_matrix

    add_parsers(sub, DEFAULT_OUT, cmd_gameday)
    add_matrix(sub, DEFAULT_OUT, DEFAULT_COMPOSE, cmd_matrix)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `chaosgate` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INVALID
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return args.func(args)
    except ChaosgateError as exc:
        # Several problems are several lines: each carries the prefix, so a reader (or grep) sees every one.
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"chaosgate: error: {line}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        print(f"chaosgate: interrupted by {exc}; everything started was stopped", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours; keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    sys.exit(main())

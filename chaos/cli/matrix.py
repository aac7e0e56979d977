"""`chaosgate matrix`: every link and service of a stack faulted in turn, every surface judged."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from chaos.cli.options import duration
from chaos.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, InputError
from chaos.matrix.cells import KINDS, MEANING


def _kinds(text: str) -> list:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise InputError("--faults", f"{', '.join(bad) or text!r}: the fault kinds are {', '.join(KINDS)}")
    return kinds


def cmd_matrix(args: argparse.Namespace, say: Callable[[str], None], parse_sets) -> int:
    """Prepare (everything checked), then print the plan or run the matrix."""
    from chaos.matrix.runner import prepare

    given = {"window_s": duration("--window", args.window), "baseline_s": duration("--baseline", args.baseline),
             "recovery_s": duration("--recovery", args.recovery),
             "unbounded_after_s": duration("--unbounded-after", args.unbounded_after)}
    windows = {k: v for k, v in given.items() if v is not None}
    variables, candidate = parse_sets(args.set), parse_sets(args.candidate)

    def prepared(values: dict[str, str]):
        return prepare(Path(args.file), args.surfaces, kinds=_kinds(args.faults), patterns=args.cells or [],
                       backend=args.backend, variables=values, load=args.load, target=args.target, users=args.users,
                       load_environment=parse_sets(args.load_env), **windows)

    p = prepared(variables)
    engines = _engines(args)
    # Both sides checked before either runs: a candidate that cannot load stops here.
    cand = prepared({**variables, **candidate}) if candidate else None
    if args.dry_run:
        import tempfile

        from chaos.matrix.runner import write_cells

        with tempfile.TemporaryDirectory(prefix="chaosgate-matrix-") as scratch:
            write_cells(p, Path(scratch))  # every cell's experiment checked, as a run checks them first
        s = p.settings
        print(f"matrix of {p.stack.name} ({s.stack}): {len(p.cells)} cell(s), surfaces {', '.join(p.surfaces)}")
        print(f"each cell: warmup {s.warmup_s:g}s, baseline {s.baseline_s:g}s, fault {s.window_s:g}s, "
              f"recovery up to {s.recovery_s:g}s ({s.cell_s():g}s of phases)")
        for n, cell in enumerate(p.cells, 1):
            print(f"  {n:3}. {cell.id:40} {MEANING[cell.kind]}")
        for k in p.skipped:
            print(f"  skipped {k.id}: {k.why}")
        if engines:
            from chaos.matrix.shards import split

            shares = split(p.cells, len(engines))
            for engine, share in zip(engines, shares):
                print(f"  on {engine or 'local'}: {', '.join(c.id for c in share)}")
            print(f"declared time: {max(len(x) for x in shares) * s.cell_s() / 60:.1f} min of phases (the longest "
                  f"of {len(shares)} shares at the same time), plus each stack's start and a reset check between cells")
        else:
            print(f"declared time: {len(p.cells) * s.cell_s() / 60:.1f} min of phases, plus the stack's start "
                  "and a reset check between cells")
        print(f"error control: a DEGRADED entry at alpha {0.05 / len(p.cells):.2g} per cell (0.05 over the cells); "
              f"a call held {s.unbounded_after_s:g}s and still open at the heal never gives up")
        if cand is not None:
            print(f"then the same cells for the candidate ({', '.join(f'{k}={v}' for k, v in candidate.items())}), "
                  "compared cell by cell: twice the time above")
        return EXIT_PASS
    if cand is not None:
        return _gate(p, cand, candidate, args.out, say, engines)
    from chaos.api import run_matrix

    matrix, folder = run_matrix(p, out=args.out, say=say, engines=engines)
    unbounded = matrix.unbounded()
    print(f"matrix of {matrix.stack_name}: {len(matrix.cells)} cell(s) run")
    for b in unbounded:
        print(f"  UNBOUNDED {b.edge}: {b.finding}")
    for c in matrix.cells:
        bad = [f"{e.surface} {e.status}" for e in c.entries if e.status != "OK"]
        print(f"  {c.cell.id:40} {'; '.join(bad) or 'all OK'}")
    for shard in matrix.shards:
        print(f"  share on {shard.engine or 'local'}: {len(shard.cells)} cell(s), {shard.status}"
              + (f" in {shard.wall_s:.0f}s" if shard.wall_s is not None else "") + (f" ({shard.reason})" if shard.reason else ""))
    print(f"matrix directory: {folder}")
    print(f"summary: {folder / 'summary.md'}")
    if (folder / "report.html").exists():
        print(f"report: {folder / 'report.html'}")
    if unbounded or any(e.status in ("DEGRADED", "UNAVAILABLE") and e.classification != "target"
                        for c in matrix.cells for e in c.entries):
        return EXIT_FAIL
    if matrix.stopped or any(e.status == "UNKNOWN" for c in matrix.cells for e in c.entries):
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


def _engines(args: argparse.Namespace) -> list[str]:
    """--engines, checked against the options it cannot go with; [] when not given."""
    if not args.engines:
        return []
    from chaos.matrix.shards import engines_of

    engines = engines_of(args.engines)
    if args.backend != "docker":
        raise InputError("--engines", "each share runs its stack on a Docker engine: give --backend docker")
    return engines


def _gate(base, cand, candidate: dict[str, str], out: str, say: Callable[[str], None], engines: list[str]) -> int:
    from chaos.api import gate_matrix

    comparison, base_dir, cand_dir = gate_matrix(base, cand, candidate, out=out, say=say, engines=engines)
    print(f"matrix gate: {comparison.verdict}")
    for reason in comparison.reasons():
        print(f"  {reason}")
    print(f"baseline matrix: {base_dir}")
    print(f"candidate matrix: {cand_dir}")
    print(f"summary: {cand_dir / 'summary.md'}")
    if (cand_dir / "report.html").exists():
        print(f"report: {cand_dir / 'report.html'}")
    return {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}[comparison.verdict]


def add_parser(sub, default_out: str, default_compose: str, func) -> None:
    """The `matrix` subcommand; it runs `func(args)`."""
    m = sub.add_parser(
        "matrix", help="fault every link and service of a stack in turn under load; judge every surface",
        description="The resilience matrix. Its cells come from the stack file alone: every link (caller -> "
                    "dependency) hung, slowed and refused, every service killed and paused. Each cell runs as an "
                    "experiment of its own on one kept stack (its own baseline, the fault, a recovery window), "
                    "and every surface of --surfaces is judged OK, DEGRADED, UNAVAILABLE or UNKNOWN against that "
                    "baseline. A hang cell reads from the held connections whether the caller ever gives up: "
                    "a call with no timeout is named first. Writes matrix.json and summary.md, and each cell's "
                    "experiment file (rerun one with `chaosgate run`).",
        epilog="kinds:\n" + "\n".join(f"  {k:6} {v}" for k, v in MEANING.items()) +
               "\n\nexample (the run stack's hang cells):\n  chaosgate matrix --surfaces runstack-default "
               "--load experiments/load/runstack_tenants.py --target scheduler \\\n"
               "      --users 14 --load-env ENGINEERS=6 --set RUNSTACK_TIME_SCALE=0.25 --cells 'hang:*' --dry-run"
               "\n\nExit codes: 0 every entry beyond its target OK and no unbounded call, 1 a surface beyond its "
               "target degraded or a call never gives up, 2 something could not be told, 3 invalid input.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("-f", "--file", default=default_compose, metavar="COMPOSE_FILE",
                   help="the stack's compose file (default: %(default)s)")
    m.add_argument("--surfaces", required=True, metavar="SET",
                   help="the surfaces judged: a surface set's name (surfaces/SET.yaml beside the stack or above) or file")
    m.add_argument("--load", metavar="PROFILE", help="a locustfile driving the surfaces (with --target)")
    m.add_argument("--target", metavar="SERVICE", help="the service the load is sent to")
    m.add_argument("--users", type=int, default=10, metavar="N", help="locust users (default: %(default)s)")
    m.add_argument("--load-env", action="append", metavar="VAR=VALUE",
                   help="a variable for the load profile (repeatable)")
    m.add_argument("--faults", default=",".join(KINDS), metavar="KINDS",
                   help="fault kinds, comma-separated (default: %(default)s)")
    m.add_argument("--cells", action="append", metavar="PATTERN",
                   help="only cells whose id matches this glob, e.g. 'hang:*->broker' or 'kill:*' (repeatable)")
    m.add_argument("--window", metavar="DURATION", help="each cell's fault window (default: 30s, long enough "
                                                         "that any sane timeout fires)")
    m.add_argument("--baseline", metavar="DURATION", help="each cell's baseline (default: 10s)")
    m.add_argument("--recovery", metavar="DURATION", help="the longest a cell waits for recovery (default: 15s)")
    m.add_argument("--unbounded-after", metavar="DURATION",
                   help="a call held this long and still open at the heal never gives up (default: 2/3 of --window)")
    m.add_argument("--backend", default="local", choices=["local", "docker"],
                   help="local processes or containers (default: %(default)s)")
    m.add_argument("--engines", action="append", metavar="ENGINE,...",
                   help="shard the cells over these Docker engines (DOCKER_HOST values, 'local' for this machine's "
                        "socket), each share on a stack of its own at the same time, merged into one matrix; "
                        "with --backend docker (comma-separated or repeatable)")
    m.add_argument("--set", action="append", metavar="VAR=VALUE", help="a stack variable (repeatable)")
    m.add_argument("--candidate", action="append", metavar="VAR=VALUE",
                   help="gate on the matrix: run the cells for the baseline (--set), then with this variable too "
                        "(repeatable), and compare cell by cell; exit 0 PASS, 1 FAIL, 2 INCONCLUSIVE")
    m.add_argument("--dry-run", action="store_true", help="print the cells, their order and the declared time; "
                                                          "start nothing")
    m.add_argument("--out", default=default_out, metavar="DIR",
                   help="folder for the matrix and its runs (default: %(default)s)")
    m.set_defaults(func=func)

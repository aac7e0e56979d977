"""The `chaosgate` command. Heavy libraries are imported inside subcommands to keep start-up fast."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from chaos import __version__
from chaos.errors import EXIT_INVALID, ChaosgateError, InputError

DEFAULT_COMPOSE = "docker-compose.yml"
DEFAULT_OUT = "reports"


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived; unwinding runs every rollback on the way out."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def say(msg: str) -> None:
    """Progress for a person watching: to stderr, so stdout stays parseable."""
    print(f"[chaosgate {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


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
    from chaos.stack import load_stack

    stack = load_stack(args.file, parse_sets(args.set))
    out = Path(args.out)
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
    if args.action == "status":
        rows = backend.status(active)
        _print_status(rows)
        return 0 if all(r["healthy"] for r in rows.values()) else 1
    killed = backend.down(active)
    clear_active(out, active)
    if killed:
        say("needed SIGKILL: " + ", ".join(killed))
    say(f"stack {stack.name!r} is down")
    return 0


def _print_status(rows: dict[str, dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("service", "pid", "port", "pool", "alive", "healthy")
    for name, r in rows.items():
        table.add_row(name, str(r["pid"] or "-"), str(r["port"] or "-"), r["pool"] or "-",
                      "yes" if r["alive"] else "NO", "yes" if r["healthy"] else "NO")
    Console(width=100).print(table)


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
    stack.add_argument("-f", "--file", default=DEFAULT_COMPOSE, help="compose file (default: %(default)s)")
    stack.add_argument("--backend", default="local", help="where services run (default: %(default)s)")
    stack.add_argument("--set", action="append", metavar="VAR=VALUE",
                       help="override a ${VAR} of the compose file (repeatable)")
    stack.add_argument("--out", default=DEFAULT_OUT, help="folder for run directories (default: %(default)s)")
    stack.set_defaults(func=cmd_stack)
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
        print(f"chaosgate: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        print(f"chaosgate: interrupted by {exc}; everything started was stopped", file=sys.stderr)
        return 128 + exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    sys.exit(main())

"""The game-day commands: `inject`, `heal` and `load` on a stack `chaosgate stack up` started."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from chaos.cli import options
from chaos.errors import ChaosgateError, InputError

#: A fault that lives in the injecting process stays at most this long unless --for says otherwise.
HELD_DEFAULT_S = 1800.0


def cmd_inject(args: argparse.Namespace, say) -> int:
    """Inject one fault on the running stack; journaled, healed by `heal`, `stack down` or `rollback`."""
    from chaos import gameday

    fault, doc = gameday.parse_fault(args.spec, args.file)
    for field, message in fault.warnings():
        say(f"warning: {doc.error([field], message)}")
    hold = options.duration("--for", args.for_)
    state = gameday.running_stack(Path(args.out), args.stack)
    ids, targets = gameday.inject(state, fault, doc)
    label = ", ".join(f"#{i}" for i in ids)
    say(f"injected {fault.type} on {', '.join(targets)} ({label}) in stack {state.name!r}")
    print(" ".join(str(i) for i in ids))
    if fault.held_by_process and hold is None:
        hold = HELD_DEFAULT_S
        say(f"{fault.type} lives in this process: it stays while this command runs (at most {hold:g}s; "
            "--for changes it). Ctrl-C, or `chaosgate heal` from another terminal, heals it")
    if hold is None:
        say(f"heal it with: chaosgate heal {' '.join(map(str, ids))}   (or: chaosgate heal --all)")
        return 0
    try:
        if gameday.wait_until_healed(state, ids, hold):
            say("healed from elsewhere")
            return 0
        say(f"{hold:g}s are up: healing")
    finally:
        # Ctrl-C and SIGTERM arrive here too: what this command holds ends with it, so heal it now.
        remaining = [i for i in ids if i in {e.id for e in gameday.outstanding(state)}]
        if remaining:
            healed, failures = gameday.heal(state, remaining)
            for e in healed:
                say(f"healed {gameday.describe(e)}")
            for f in failures:
                say(f"FAILED to heal: {f}")
    return 0


def cmd_heal(args: argparse.Namespace, say) -> int:
    """Roll back hand-injected faults by id, or all of them; without either, list them."""
    from chaos import gameday

    state = gameday.running_stack(Path(args.out), args.stack)
    if not args.ids and not args.all:
        pending = gameday.outstanding(state)
        for e in pending:
            print(gameday.describe(e))
        say("no fault is active on the stack" if not pending else
            "heal with: chaosgate heal ID [ID …]   or: chaosgate heal --all")
        return 0
    healed, failures = gameday.heal(state, None if args.all else args.ids)
    for e in healed:
        say(f"healed {gameday.describe(e)}")
    for f in failures:
        say(f"FAILED to heal: {f}")
    if not healed and not failures:
        say("nothing was active")
    return 3 if failures else 0


def cmd_load(args: argparse.Namespace, say, parse_sets, write_report) -> int:
    """Record a game-day session (optionally driving load) until Ctrl-C or --duration; then its report."""
    from chaos import gameday
    from chaos.cli.summary import print_summary
    from chaos.gameday.session import Session, SessionOptions

    if args.profile and not args.target:
        raise InputError("--target", "a load profile needs the service it drives (e.g. --target scheduler)")
    duration = options.duration("--duration", args.duration)
    state = gameday.running_stack(Path(args.out), args.stack)
    if args.target and args.target not in state.services:
        raise InputError("--target", f"no service {args.target!r} in stack {state.name!r} "
                         f"(services: {', '.join(state.services)})")
    opts = SessionOptions(surfaces=Path(args.surfaces), expect=args.expect or [],
                          profile=Path(args.profile) if args.profile else None, target=args.target,
                          users=args.users, spawn_rate=args.spawn_rate, environment=parse_sets(args.env),
                          duration=duration)
    session = Session(state, Path(args.out), opts, say)
    exp = session.check()  # bad input stops here: nothing started
    from chaos.cli.live import LiveStatus, live_console

    def status() -> LiveStatus:
        phases = dict(session.result.phases)
        current = max(phases, key=lambda k: phases[k][0]) if phases else "starting"
        active = [f"#{e.id} {e.fault} on {e.target}" for e in gameday.outstanding(state)]
        left = session.t0 + opts.duration - time.time() if session.t0 else None
        return LiveStatus(title=f"game day on {state.name}", phase=current, left_s=left, phases=phases, faults=active)

    with live_console(args.live, exp.surfaces, session.run_dir, status, say, session):
        result = session.run()
    report = write_report(session.run_dir)
    print_summary(result)
    print(f"experiment file (replays this game day): {session.run_dir / 'experiment.yaml'}")
    print(f"run directory: {result.run_dir}")
    if report:
        print(f"report: {report}")
    return 0 if result.status == "completed" else 3


def add_parsers(sub, default_out: str, func) -> None:
    """The game-day subcommands; each runs `func(args)`, which calls `dispatch`."""
    inject = sub.add_parser(
        "inject", help="inject one fault by hand on the running stack (game days)",
        description="Inject one fault on the stack `chaosgate stack up` started, through the same registry and "
                    "journal as experiments: it stays until `chaosgate heal`, `chaosgate stack down` or "
                    "`chaosgate rollback`. Prints the fault's journal id(s).",
        epilog="examples:\n  chaosgate inject '{type: network.latency, link: \"* -> publications\", latency_ms: 500}'\n"
               "  chaosgate inject '{type: capacity.fill, service: shared-pool, slots: 12}' --for 2m\n"
               "  chaosgate inject -f fault.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    inject.add_argument("spec", nargs="?", help="the fault as a YAML mapping (as under `faults:` in an experiment)")
    inject.add_argument("-f", "--file", help="read the fault from a YAML file instead")
    inject.add_argument("--for", dest="for_", metavar="DURATION",
                        help="stay in the foreground and heal after DURATION (Ctrl-C heals sooner)")
    inject.add_argument("--stack", help="stack name (default: the only one up)")
    inject.add_argument("--out", default=default_out, help="folder the stack was started in (default: %(default)s)")
    inject.set_defaults(func=func, gameday="inject")

    heal = sub.add_parser("heal", help="roll back faults injected by hand (by id, or --all); no argument: list them",
                          description="Roll back hand-injected faults on the running stack. Without ids or --all, "
                                      "list what is active.")
    heal.add_argument("ids", nargs="*", type=int, metavar="ID",
                      help="the id `chaosgate inject` printed for a fault (several at once); see --all")
    heal.add_argument("--all", action="store_true", help="every active fault")
    heal.add_argument("--stack", help="stack name (default: the only one up)")
    heal.add_argument("--out", default=default_out, help="folder the stack was started in (default: %(default)s)")
    heal.set_defaults(func=func, gameday="heal")

    load = sub.add_parser(
        "load", help="record a game-day session on the running stack, optionally driving load; then a report",
        description="Record the running stack's metrics (and drive load with a locust PROFILE, if given) until "
                    "Ctrl-C or --duration. Faults injected and healed meanwhile set the phases: baseline until the "
                    "first inject, fault until the last heal, recovery after. At the end: result.json, the report, "
                    "and experiment.yaml, which replays the game day with `chaosgate run`.",
        epilog="example:\n  chaosgate load experiments/load/runstack_tenants.py --target scheduler --users 8 \\\n"
               "      --surfaces experiments/surfaces/runstack-default.yaml --expect studio --live",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    load.add_argument("profile", nargs="?", help="locust profile; omit it when your own tool drives the load")
    load.add_argument("--surfaces", required=True, metavar="FILE", help="surface set: surfaces, services, SLIs")
    load.add_argument("--target", help="service the profile drives")
    load.add_argument("--users", type=int, default=10, help="locust users (default: %(default)s)")
    load.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second (default: %(default)s)")
    load.add_argument("--env", action="append", metavar="VAR=VALUE", help="variable for the profile (repeatable)")
    load.add_argument("--duration", default="1h", help="the session's limit (default: %(default)s)")
    load.add_argument("--expect", action="append", metavar="SURFACE", help="a surface allowed to degrade (repeatable)")
    load.add_argument("--live", action="store_true", help="a live console instead of progress lines")
    load.add_argument("--stack", help="stack name (default: the only one up)")
    load.add_argument("--out", default=default_out, help="folder the stack was started in (default: %(default)s)")
    load.set_defaults(func=func, gameday="load")


def dispatch(name: str, args: argparse.Namespace, say, parse_sets, write_report) -> int:
    """Run a game-day subcommand."""
    if name == "inject":
        return cmd_inject(args, say)
    if name == "heal":
        return cmd_heal(args, say)
    if name == "load":
        return cmd_load(args, say, parse_sets, write_report)
    raise ChaosgateError(f"unknown game-day command {name!r}")

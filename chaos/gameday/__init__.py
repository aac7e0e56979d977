"""Game days by hand, on a stack `chaosgate stack up` started: `inject` and `heal` faults.

A hand-injected fault goes through the same registry and the same journal discipline as an
experiment's (undo recorded before the fault acts), in the stack's own directory: whatever a
crash leaves, `chaosgate rollback` and `chaosgate stack down` undo. Each inject and heal is also
an event there, which a recorded session (`chaosgate load`, chaos.gameday.session) turns into a timeline.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from chaos.backends.state import ACTIVE_DIR, StackState, find_active
from chaos.errors import ChaosgateError, InputError
from chaos.faults import FaultContext, names, union
from chaos.faults.base import Fault, FaultError
from chaos.run.journal import Entry, HandHeal, HandInject, Journal
from chaos.run.reconcile import rollback_journal
from chaos.spec.experiment import broker_problems
from chaos.stack import Stack, load_stack
from chaos.util.yamlsource import YamlDocument, load_yaml, parse_yaml, pydantic_errors

COMMAND_LINE = "command line"

_FAULT: TypeAdapter[Fault] = TypeAdapter(union())


def running_stack(out: Path, name: str | None) -> StackState:
    """The stack that is up under `name`, or the only one up; a clear error otherwise."""
    if name:
        state = find_active(out, name)
        if state is None:
            raise ChaosgateError(f"no stack {name!r} is up under {out} (start one with `chaosgate stack up`)")
        return state
    up = [s for p in sorted((out / ACTIVE_DIR).glob("*.json")) if (s := find_active(out, p.stem)) is not None]
    up = [s for s in up if s.status == "up"]
    if not up:
        raise ChaosgateError(f"no stack is up under {out}: start one with `chaosgate stack up`, "
                             "or give --out where it was started")
    if len(up) > 1:
        raise ChaosgateError(f"{len(up)} stacks are up ({', '.join(s.name for s in up)}): say which with --stack NAME")
    return up[0]


def parse_fault(text: str | None, file: str | None) -> tuple[Fault, YamlDocument]:
    """One fault from a YAML mapping given on the command line or in a file; located errors."""
    if (text is None) == (file is None):
        raise InputError(COMMAND_LINE, "give one fault: a YAML mapping such as "
                         "'{type: network.latency, link: \"* -> broker\", latency_ms: 300}', or -f FILE")
    if file is not None:
        doc = load_yaml(file)  # `-f ""` is a file that does not exist: a located input error
    else:
        assert text is not None  # exactly one of text and file was given (checked above)
        doc = parse_yaml(text, COMMAND_LINE)
    if not isinstance(doc.data, dict):
        raise InputError(doc.path, "a fault is a mapping with a `type` (see `chaosgate schema experiment`, "
                         "under faults)", 1)
    if doc.data.get("type") not in names():
        raise doc.error(["type"], f"unknown fault type {doc.data.get('type')!r}; known: {', '.join(names())}")
    try:
        return _FAULT.validate_python(doc.data), doc
    except ValidationError as exc:
        raise pydantic_errors(doc, exc, model=union()) from None  # the model: allowed keys in the message


def targets_of(fault: Fault, doc: YamlDocument, stack: Stack, backend: str) -> list[str]:
    """What the fault would touch on this stack; a located error when it cannot act here."""
    try:
        targets = fault.resolve(stack, [])
    except FaultError as exc:
        raise doc.error([exc.field] if exc.field else [], str(exc)) from None
    why = fault.unsupported(backend)
    if why:
        raise doc.error(["type"], why)
    problems = broker_problems(doc, [], fault, stack)
    if problems:
        raise problems[0]
    return targets


def inject(state: StackState, fault: Fault, doc: YamlDocument) -> tuple[list[int], list[str]]:
    """Inject one fault on the running stack, journaled in its directory; its journal ids and targets."""
    stack = load_stack(state.compose, state.variables)
    targets = targets_of(fault, doc, stack, state.backend)
    journal = Journal(state.run_dir)
    try:
        ctx = FaultContext(f"hand-{uuid.uuid4().hex[:8]}", stack, state, journal, [])
        ids = fault.inject(ctx)
        spec = fault.model_dump(mode="json", exclude_defaults=True) | {"type": fault.type}
        journal.event(HandInject(spec=spec, ids=ids, targets=targets))
        return ids, targets
    finally:
        journal.close()


def outstanding(state: StackState) -> list[Entry]:
    """Faults on the stack not known to be rolled back."""
    journal = Journal(state.run_dir)
    try:
        return journal.outstanding()
    finally:
        journal.close()


def heal(state: StackState, ids: list[int] | None) -> tuple[list[Entry], list[str]]:
    """Roll back the given journal entries (None: every outstanding one); what was healed, failures."""
    journal = Journal(state.run_dir)
    try:
        pending = {e.id: e for e in journal.outstanding()}
        if ids is not None:
            unknown = [i for i in ids if i not in pending]
            if unknown:
                known = ", ".join(f"#{i} {e.fault} on {e.target}" for i, e in pending.items()) or "none"
                raise ChaosgateError(f"no outstanding fault with id {', '.join(map(str, unknown))} "
                                     f"(outstanding: {known})")
        chosen = set(pending) if ids is None else set(ids)
        failures = rollback_journal(journal, only=chosen)
        healed = [e for e in journal.entries() if e.id in chosen and e.state == "rolled_back"]
        journal.event(HandHeal(ids=sorted(e.id for e in healed)))
        return healed, failures
    finally:
        journal.close()


def wait_until_healed(state: StackState, ids: list[int], seconds: float, poll_s: float = 1.0) -> bool:
    """Block until `heal` (from anywhere) rolled every id back, or `seconds` pass; True if healed."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not ({e.id for e in outstanding(state)} & set(ids)):
            return True
        time.sleep(min(poll_s, max(0.0, end - time.monotonic())))
    return False


def hand_events(run_dir: Path | str, t0: float, t1: float) -> list[HandInject | HandHeal]:
    """Hand injects and heals recorded in a stack directory between t0 and t1."""
    journal = Journal(run_dir)
    try:
        return [e for e in journal.events(HandInject, HandHeal)
                if isinstance(e, (HandInject, HandHeal)) and t0 <= e.at <= t1]
    finally:
        journal.close()


def describe(entry: Entry) -> str:
    """One line for an entry of the journal."""
    since = time.strftime("%H:%M:%S", time.localtime(entry.recorded_at))
    return f"#{entry.id} {entry.fault} on {entry.target} ({entry.state} since {since})"


"""A service's environment: what is recorded of it, and the whole of it, kept apart.

A run directory lives under `reports/`, which CI uploads. So `stack.json` (and the journal, and
anything else written there) records only a service's **own** environment — what the compose
file declares and what chaosgate sets (ports, links, a swap's change) — with the values of
names that look secret (`looks_secret`: TOKEN, SECRET, PASSWORD, KEY, ...) and the password of
a URL (`scheme://user:PASSWORD@host`) masked (`redact`). Never the environment inherited from
the shell that started the stack.

A restart (`process.kill`'s undo, `config.swap` and its undo, a gate's stack reuse, `chaosgate
rollback` after a SIGKILL, from another shell) must start the process exactly as it was started:
with that inherited environment and the true values of the masked ones. Those live here, in an
**environment store** outside the run directory: a directory made private by `mkdtemp` (mode
0700) under `$XDG_RUNTIME_DIR` when it is usable, else the system's temporary directory, one
file per environment (mode 0600), named by a keyed hash of its content. `stack.json` records the
store's path (`env_store`) and each service's environment by that name (`env_id`); `down`
removes the store, and the next `up` removes stores whose stack is down or whose run directory
is gone (a SIGKILL, a wiped workspace).

When the store is gone (another machine, a reboot cleared the temporary directory), a restart
falls back to the restarting command's own environment with the recorded variables on top,
a masked value taken from that environment if it has the name (else left out), and says so
in the `chaos` log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import InfraError

if TYPE_CHECKING:
    from chaos.backends.state import StackState

log = logging.getLogger(__name__)

#: What a masked value reads as.
MASK = "***"
#: The prefix of every store's directory (how `sweep` finds them).
PREFIX = "chaosgate-env-"
#: In a store: the run directory it belongs to, and the key its environments are named with.
OWNER, KEY = "run_dir", "key"

#: A name is secret-looking when one of its words (split at anything not a letter or digit) is one
#: of these, or it contains one of `_SECRET_PARTS` anywhere (GITHUBTOKEN, DBPASSWORD, apiKey).
_SECRET_WORDS = frozenset({
    "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS", "PASSWD", "PASS", "PWD", "PASSPHRASE",
    "KEY", "KEYS", "APIKEY", "CREDENTIAL", "CREDENTIALS", "CREDS", "AUTH", "PRIVATE", "COOKIE", "SIGNATURE",
    "SALT", "DSN", "CERT", "PEM",
})
_SECRET_PARTS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY", "CREDENTIAL", "PRIVATEKEY", "ACCESSKEY")
#: The shell's own working-directory variables end in PWD and are not passwords.
_NOT_SECRET = frozenset({"PWD", "OLDPWD"})
#: The password of a URL's user part: scheme://user:PASSWORD@host.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@/\s]+)(?=@)")


def looks_secret(name: str) -> bool:
    """True when a variable's name says its value is a secret (API_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD)."""
    upper = name.upper()
    if upper in _NOT_SECRET:
        return False
    words = set(re.split(r"[^A-Z0-9]+", upper))
    return bool(words & _SECRET_WORDS) or any(part in upper for part in _SECRET_PARTS)


def redact_value(name: str, value: str) -> str:
    """`value` as it may be written down: masked whole if `name` looks secret, else with any URL's password masked."""
    if looks_secret(name):
        return MASK
    return _URL_PASSWORD.sub(lambda m: m["head"] + MASK, value)


def redact(env: Mapping[str, str]) -> dict[str, str]:
    """An environment as it may be written down (idempotent: a redacted one stays as it is)."""
    return {k: redact_value(k, v) for k, v in env.items()}


@dataclass
class Environment:
    """What a service runs with: `inherited` (the environment of the command that started the stack;
    empty for a container) with its `own` variables on top."""

    inherited: dict[str, str] = field(default_factory=dict)
    own: dict[str, str] = field(default_factory=dict)

    @property
    def full(self) -> dict[str, str]:
        return {**self.inherited, **self.own}

    def recorded(self) -> dict[str, str]:
        """What `stack.json` says of it: the own variables, redacted."""
        return redact(self.own)


class EnvStore:
    """One stack's environments, by name, in a private directory outside the run directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, run_dir: str) -> EnvStore:
        """A new, empty store for the stack in `run_dir` (stale stores swept first)."""
        base = _base_dir()
        sweep(base)
        try:
            path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))  # 0700, a name nobody could take first
            _write_private(path / OWNER, run_dir.encode())
            _write_private(path / KEY, os.urandom(32).hex().encode())
        except OSError as exc:
            raise InfraError(f"cannot keep the services' environments in {base}: {exc.strerror} (set "
                             "XDG_RUNTIME_DIR or TMPDIR to a writable private directory)") from None
        return cls(path)

    @classmethod
    def of(cls, state: StackState) -> EnvStore | None:
        """The stack's store, if it has one and it is still there (and is this stack's)."""
        if not state.env_store:
            return None
        path = Path(state.env_store)
        try:
            if (path / OWNER).read_text() != state.run_dir:
                return None
        except OSError:
            return None
        return cls(path)

    def put(self, env: Environment) -> str:
        """Keep `env`; its name (the same name for the same environment)."""
        body = json.dumps({"inherited": env.inherited, "own": env.own}, sort_keys=True).encode()
        name = hmac.new(bytes.fromhex((self.path / KEY).read_text()), body, hashlib.sha256).hexdigest()[:20]
        target = self.path / f"{name}.json"
        if not target.exists():
            _write_private(target, body)
        return name

    def get(self, name: str | None) -> Environment | None:
        """The environment kept under `name`, or None."""
        if not name or not re.fullmatch(r"[0-9a-f]{20}", name):
            return None
        try:
            data = json.loads((self.path / f"{name}.json").read_text())
        except (OSError, ValueError):
            return None
        return Environment(inherited=dict(data.get("inherited", {})), own=dict(data.get("own", {})))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def discard(state: StackState) -> None:
    """Remove a stack's store (its stack is down)."""
    store = EnvStore.of(state)
    if store is not None:
        store.remove()


def keep(state: StackState, name: str, env: Environment) -> None:
    """Record that service `name` now runs with `env`: in the store if the stack has one, redacted in the state."""
    svc = state.services[name]
    store = EnvStore.of(state)
    svc.env, svc.env_id = env.recorded(), store.put(env) if store is not None else None


def current(state: StackState, name: str) -> Environment | None:
    """The whole environment service `name` runs with, if the store still has it."""
    store = EnvStore.of(state)
    return store.get(state.services[name].env_id) if store is not None else None


def resolve(state: StackState, name: str, requested: Mapping[str, str] | None = None, basis: str | None = None,
            inherit: bool = True) -> Environment:
    """The environment to start service `name` with: the `requested` own variables (default: the
    recorded ones) on the inherited part of the environment named `basis` (default: the one it
    runs with), a masked requested value replaced by the true one it stands for there.

    `inherit=False` (containers): nothing is inherited. Without the store, the inherited part is
    this command's own environment, and a masked value is taken from it when it has the name.
    """
    svc = state.services[name]
    wanted = dict(svc.env or {}) if requested is None else dict(requested)
    store = EnvStore.of(state)
    kept = store.get(basis or svc.env_id) if store is not None else None
    if kept is None:
        kept = Environment(inherited=dict(os.environ))
        if state.env_store:
            log.warning("the environment %s was started with is no longer kept (%s): restarting it with this "
                        "command's environment and the recorded variables", name, state.env_store)
    own, lost = {}, []
    for key, value in wanted.items():
        if not stands_in(key, value):
            own[key] = value  # a true value (a swap's, a declared one, a port)
            continue
        true = next((source[key] for source in (kept.own, kept.inherited)
                     if key in source and redact_value(key, source[key]) == value), None)
        if true is None:
            lost.append(key)
        else:
            own[key] = true
    if lost:
        log.warning("%s: no true value is kept for the masked variable(s) %s: started without them", name,
                    ", ".join(sorted(lost)))
    return Environment(inherited=kept.inherited if inherit else {}, own=own)


def stands_in(name: str, value: str) -> bool:
    """True when `value` is a masked one as `redact` writes it, not a true value."""
    if looks_secret(name):
        return value == MASK
    return any(m["password"] == MASK for m in _URL_PASSWORD.finditer(value))


def _base_dir() -> Path:
    """$XDG_RUNTIME_DIR (per user, private, in memory) when usable, else the temporary directory."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        path = Path(runtime)
        try:
            st = path.stat()
            if path.is_dir() and st.st_uid == os.getuid() and not st.st_mode & 0o077 and os.access(path, os.W_OK):
                return path
        except OSError:
            pass
    return Path(tempfile.gettempdir())


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def sweep(base: Path | None = None) -> list[str]:
    """Remove this user's stores whose stack is down or failed, or whose run directory is gone."""
    from chaos.backends.state import STATE_FILE

    removed = []
    for path in (base or _base_dir()).glob(PREFIX + "*"):
        try:
            if path.stat().st_uid != os.getuid():
                continue
            run_dir = Path((path / OWNER).read_text())
        except OSError:
            continue  # being created, or not ours
        try:
            status = json.loads((run_dir / STATE_FILE).read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            status = None if run_dir.exists() else "gone"
        if status in ("down", "failed", "gone"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed

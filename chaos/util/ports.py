"""Free loopback ports for services, proxies and broker nodes."""

from __future__ import annotations

import functools
import os
import random
import socket
import tempfile
import threading
import time
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10000
ATTEMPTS = 500
#: Where ports handed out are reserved for the whole machine (one file per port, made exclusively):
#: another chaosgate process planning a stack at the same time must not plan the same port.
RESERVED_DIR = Path(tempfile.gettempdir()) / "chaosgate-ports"
#: A reservation whose process is gone still holds this long (a `stack up` that exited leaves its
#: services to bind their ports; by then they are bound, and the bind check sees it).
RESERVATION_S = 120.0

_issued: set[int] = set()
_lock = threading.Lock()


@functools.cache
def _candidates() -> tuple[int, int]:
    """Ports below the kernel's ephemeral range, which outgoing connections never take."""
    try:
        lo, hi = (int(p) for p in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    if lo - 1 - LOWEST >= 1000:
        return LOWEST, lo - 1
    if 65535 - hi >= 1000:
        return hi + 1, 65535
    return 1024, 65535


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now, never handed out before by this process.

    Ports are planned well before they are bound, so two rules keep the plan true: they come from
    below the ephemeral range (the kernel's own pick, port 0, sits in it, where any outgoing
    connection of a loaded machine may take the port meanwhile), and a port is issued once per
    machine while its planner lives (nothing is bound yet, so the kernel would happily report it
    free to two processes planning stacks at once — a gate's service then died on "Address already
    in use").
    """
    lo, hi = _candidates()
    with _lock:
        for _ in range(ATTEMPTS):
            port = random.randint(lo, hi)
            if port in _issued:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            if not _reserve(port):
                continue
            _issued.add(port)
            return port
    raise OSError(f"no free port on {host} in {lo}-{hi} after {ATTEMPTS} attempts")


def _reserve(port: int) -> bool:
    """Claim `port` machine-wide until this process ends (and RESERVATION_S after); False if taken."""
    RESERVED_DIR.mkdir(parents=True, exist_ok=True)
    path = RESERVED_DIR / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _stale(path):
                return False
            path.unlink(missing_ok=True)  # a dead process's, and old: take it over
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _stale(path: Path) -> bool:
    """A reservation whose process is gone and which is older than RESERVATION_S."""
    try:
        pid, age = int(path.read_text() or 0), time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        return True
    if age < RESERVATION_S:
        return False
    try:
        os.kill(pid, 0)
        return False  # its process lives: a gate keeping a stack restarts services on these ports
    except ProcessLookupError:
        return True
    except PermissionError:
        return False


def is_listening(port: int, host: str = "127.0.0.1", timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False

"""Free loopback ports for services, proxies and broker nodes."""

from __future__ import annotations

import functools
import random
import socket
import threading
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10000
ATTEMPTS = 500

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
    process (nothing is bound yet, so the kernel would happily report it free twice).
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
            _issued.add(port)
            return port
    raise OSError(f"no free port on {host} in {lo}-{hi} after {ATTEMPTS} attempts")


def is_listening(port: int, host: str = "127.0.0.1", timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False

"""The TCP socket table of a network namespace, read from /proc/<pid>/net/tcp{,6}.

toxiproxy exports bytes per proxy but nothing about connections, so whether a hanging link really
holds its callers' calls open is read from the socket table of the namespace toxiproxy listens
in: its own process's on the local backend, its container's init process's on a local Docker
engine (root reads any namespace's table through /proc), `cat` run inside the container on a
remote one. psutil lists only the caller's own namespace, hence /proc.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

#: /proc/net/tcp state codes this module cares about.
ESTABLISHED, TIME_WAIT = "01", "06"


class Socket(NamedTuple):
    """One row: local and remote endpoints as hex (address:port), and the state code."""

    local: str
    remote: str
    state: str

    @property
    def local_port(self) -> int:
        """The local port."""
        return int(self.local.rsplit(":", 1)[1], 16)


def parse(text: str) -> list[Socket]:
    """Rows of a /proc/net/tcp or tcp6 file (its header line skipped)."""
    rows = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4:
            rows.append(Socket(parts[1], parts[2], parts[3]))
    return rows


def of_process(pid: int) -> list[Socket]:
    """The socket table of the namespace process `pid` lives in (OSError when it is gone)."""
    rows = []
    for name in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{name}")
        if path.exists():
            rows += parse(path.read_text())
    return rows


def reader_of_container(container: Any, local_engine: bool) -> Callable[[], list[Socket]]:
    """What reads a container's socket table: through /proc on this machine's engine (its init pid
    looked up once: the reader runs four times a second), by `cat` inside it on a remote one."""
    if local_engine:
        container.reload()
        pid = int(container.attrs.get("State", {}).get("Pid") or 0)
        if pid:
            return functools.partial(of_process, pid)
    return functools.partial(_cat_tables, container)


def _cat_tables(container: Any) -> list[Socket]:
    code, out = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], demux=False)
    if code not in (0, 1):  # 1: one of the two files missing (no IPv6), the other was printed
        raise OSError(f"cannot read the socket table of container {container.name}: exit {code}")
    text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
    # Two files concatenated: each has its own header line, which parse() would take for a row.
    return [s for s in parse("header\n" + text) if s.local != "local_address"]

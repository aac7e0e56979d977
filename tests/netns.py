"""Test hosts made as network namespaces on this machine, each joined to it by a veth pair: a
process run in one sees its own loopback and reaches this machine only at 10.S.N.1."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def ip(*args: str, ns: str | None = None) -> None:
    """Run `ip ARGS` (inside namespace `ns`), bounded."""
    subprocess.run((["ip", "netns", "exec", ns] if ns else []) + ["ip", *args], check=True, timeout=30,
                   capture_output=True)


@contextmanager
def namespace_hosts(count: int, subnet: int) -> Iterator[list[str]]:
    """`count` namespaces; host N is 10.{subnet}.N.2 and reaches this machine at 10.{subnet}.N.1 (its
    default route, so it reaches the other hosts' subnets through here too). Removed on exit."""
    tag = uuid.uuid4().hex[:4]
    made: list[tuple[str, str]] = []
    try:
        for n in range(1, count + 1):
            ns, here, there = f"cg{subnet}n{n}-{tag}", f"cgh{subnet}{n}{tag}", f"cgt{subnet}{n}{tag}"
            ip("netns", "add", ns)
            made.append((ns, here))
            ip("link", "add", here, "type", "veth", "peer", "name", there)
            ip("link", "set", there, "netns", ns)
            ip("addr", "add", f"10.{subnet}.{n}.1/24", "dev", here)
            ip("link", "set", here, "up")
            ip("addr", "add", f"10.{subnet}.{n}.2/24", "dev", there, ns=ns)
            ip("link", "set", there, "up", ns=ns)
            ip("link", "set", "lo", "up", ns=ns)
            ip("route", "add", "default", "via", f"10.{subnet}.{n}.1", ns=ns)
        yield [ns for ns, _ in made]
    finally:
        for ns, here in made:
            subprocess.run(["ip", "link", "del", here], timeout=30, capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], timeout=30, capture_output=True)

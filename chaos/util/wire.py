"""What arrives over the wire, bounded: a body is read within a byte limit and a total deadline
(not only a per-read timeout, which a server trickling one byte a second never trips), and JSON
that is not JSON is a clear error, never a traceback."""

from __future__ import annotations

import json
import time
from typing import Any

from chaos.errors import InfraError

#: The largest body chaosgate reads from a metrics endpoint or an API (the run stack's: ~50 KiB).
MAX_BODY = 8 << 20
CHUNK = 64 << 10


class WireError(InfraError):
    """An answer that could not be had within bounds, or made no sense."""


def fetch(session: Any, method: str, url: str, timeout_s: float, max_bytes: int = MAX_BODY,
          **kwargs: Any) -> tuple[int, bytes]:
    """(status, body) of one request, the whole of it within `timeout_s` and `max_bytes`."""
    import requests
    import urllib3

    deadline = time.monotonic() + timeout_s
    try:
        resp = session.request(method, url, timeout=timeout_s, stream=True, **kwargs)
    except requests.RequestException as exc:
        raise WireError(f"{method} {url} did not answer: {exc.__class__.__name__}: {exc}") from None
    chunks, size = [], 0
    try:
        while True:
            chunk = resp.raw.read1(CHUNK, decode_content=True)  # what has arrived, without waiting for more
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise WireError(f"{method} {url}: the answer is larger than {max_bytes // 1024} KiB; not read")
            if time.monotonic() > deadline:
                raise WireError(f"{method} {url}: the answer was still arriving after {timeout_s:g} s; not read")
            chunks.append(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise WireError(f"{method} {url}: the answer broke off: {exc.__class__.__name__}") from None
    finally:
        resp.close()
    return resp.status_code, b"".join(chunks)


def json_body(body: bytes, what: str) -> Any:
    """`body` parsed as JSON (None when empty); WireError naming `what` when it is not JSON."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise WireError(f"{what} answered something that is not JSON: {body[:80]!r}") from None

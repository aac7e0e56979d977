"""Health probes from outside a service, and bounded waits for health."""

from __future__ import annotations

import time
from collections.abc import Callable

from chaos.util.ports import is_listening

#: Seconds one probe may take.
PROBE_TIMEOUT_S = 2.0


def http_ok(url: str, timeout_s: float = PROBE_TIMEOUT_S, auth: tuple[str, str] | None = None) -> bool:
    """True when `url` answers 2xx within the timeout."""
    import requests  # at use: commands that only read files never load an HTTP client

    try:
        return requests.get(url, timeout=timeout_s, auth=auth).ok
    except requests.RequestException:
        return False


def tcp_ok(port: int, host: str = "127.0.0.1", timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when host:port accepts a connection within the timeout."""
    return is_listening(port, host, timeout_s=timeout_s)


class Gone(Exception):
    """The process being waited for exited: waiting longer cannot help."""


def wait_healthy(probe: Callable[[], bool], deadline_s: float, interval_s: float = 0.25,
                 still_running: Callable[[], bool] = lambda: True) -> float:
    """Retry `probe` until True; seconds taken. Raises TimeoutError or Gone."""
    from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

    start = time.monotonic()

    def attempt() -> bool:
        if not still_running():
            raise Gone()
        return probe()

    try:
        for tried in Retrying(stop=stop_after_delay(deadline_s), wait=wait_fixed(interval_s),
                              retry=retry_if_result(lambda ok: not ok), reraise=True):
            with tried:
                ok = attempt()
            outcome = tried.retry_state.outcome
            assert outcome is not None, "leaving the attempt's block records its outcome"
            if not outcome.failed:
                tried.retry_state.set_result(ok)
    except RetryError:
        raise TimeoutError(f"not healthy after {deadline_s:.0f} s") from None
    return time.monotonic() - start

"""Toxiproxy: its server as a process, and a client whose every call is bounded.

toxiproxy-python 0.1.1 keeps host and port as class globals, sets no request timeout, ignores
5xx answers and cannot update a toxic, so chaosgate talks to the v2 HTTP API with requests.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chaos.errors import InfraError
from chaos.util.ports import free_port
from chaos.util.procs import ProcessRecord, spawn

#: Seconds any one call to the toxiproxy API may take.
REQUEST_TIMEOUT_S = 5.0
#: Where setup installs the server; PATH and $CHAOSGATE_TOXIPROXY are searched first.
DEFAULT_BINARY = "/usr/local/bin/toxiproxy-server"


class Toxic(BaseModel):
    """A toxic as the API describes it."""

    model_config = ConfigDict(defer_build=True)

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, Any] = Field(default_factory=dict)


class Proxy(BaseModel):
    """A proxy as the API describes it."""

    model_config = ConfigDict(defer_build=True)

    name: str
    listen: str
    upstream: str
    enabled: bool = True
    toxics: list[Toxic] = Field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class ToxiproxyClient:
    """The toxiproxy v2 API; each call bounded by REQUEST_TIMEOUT_S, errors raised as InfraError."""

    def __init__(self, url: str, timeout_s: float = REQUEST_TIMEOUT_S):
        import requests  # lazily: validating an experiment needs no HTTP client

        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = requests.Session()

    def _call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        from chaos.util.wire import fetch, json_body

        status, content = fetch(self._http, method, self.url + path, self.timeout_s, json=body)
        if status not in ok:
            raise InfraError(f"toxiproxy at {self.url}: {method} {path} answered {status}: "
                             f"{content[:200].decode(errors='replace').strip()}")
        return json_body(content, f"toxiproxy at {self.url}: {method} {path}")

    def version(self) -> str:
        """The server's version string."""
        import requests

        try:
            resp = self._http.get(self.url + "/version", timeout=self.timeout_s)
            resp.raise_for_status()
        except requests.RequestException as exc:
            raise InfraError(f"toxiproxy at {self.url} did not answer: {exc}") from None
        return resp.text.strip()

    def proxies(self) -> dict[str, Proxy]:
        """Every proxy by name, with its toxics."""
        return {name: Proxy.model_validate(p) for name, p in self._call("GET", "/proxies").items()}

    def create_proxy(self, name: str, listen: str, upstream: str) -> Proxy:
        """Create an enabled proxy."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        return Proxy.model_validate(self._call("POST", "/proxies", body))

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy (a missing one is fine: the goal is that it is gone)."""
        self._call("DELETE", f"/proxies/{name}", ok=(200, 204, 404))

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Enable or disable a proxy; disabled is the `down` fault."""
        return Proxy.model_validate(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        """Add a toxic to a proxy."""
        return Toxic.model_validate(self._call("POST", f"/proxies/{proxy}/toxics", toxic.model_dump()))

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic (a missing one is fine: the goal is that it is gone)."""
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}", ok=(200, 204, 404))

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    def traffic(self) -> dict[str, LinkBytes]:
        """Bytes each proxy has carried since it was created, from the server's per-proxy counters
        (exported when it runs with -proxy-metrics)."""
        from prometheus_client.parser import text_string_to_metric_families

        from chaos.util.wire import fetch

        status, content = fetch(self._http, "GET", self.url + "/metrics", self.timeout_s)
        if status != 200:
            raise InfraError(f"toxiproxy at {self.url}: GET /metrics answered {status}")
        found: dict[str, LinkBytes] = {}
        for family in text_string_to_metric_families(content.decode(errors="replace")):
            if family.name not in ("toxiproxy_proxy_received_bytes", "toxiproxy_proxy_sent_bytes"):
                continue
            for sample in family.samples:
                proxy, direction = sample.labels.get("proxy", ""), sample.labels.get("direction", "")
                counts = found.setdefault(proxy, LinkBytes())
                field = f"{family.name.rsplit('_', 2)[1]}_{direction}"  # e.g. received_upstream
                if field in LinkBytes.model_fields:
                    setattr(counts, field, getattr(counts, field) + sample.value)
        # A proxy appears only once bytes crossed it: an absent proxy carried nothing (chaosgate always
        # starts toxiproxy with -proxy-metrics; without it every proxy would look unused).
        return found


class LinkBytes(BaseModel):
    """What one proxy carried. upstream: caller -> dependency; downstream: dependency -> caller.
    received: what reached the proxy; sent: what it passed on (toxics sit between the two)."""

    received_upstream: float = 0.0
    sent_upstream: float = 0.0
    received_downstream: float = 0.0
    sent_downstream: float = 0.0

    def minus(self, before: LinkBytes) -> LinkBytes:
        """The bytes carried since `before`."""
        return LinkBytes(**{k: getattr(self, k) - getattr(before, k) for k in LinkBytes.model_fields})

    @property
    def total(self) -> float:
        """Everything that reached the proxy, both ways."""
        return self.received_upstream + self.received_downstream


def find_binary() -> str:
    """Path of toxiproxy-server, or an InfraError saying how to get it."""
    import os

    for candidate in (os.environ.get("CHAOSGATE_TOXIPROXY"), shutil.which("toxiproxy-server"), DEFAULT_BINARY):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise InfraError("toxiproxy-server not found: run scripts/setup (or set CHAOSGATE_TOXIPROXY)")


def start_server(workdir: Path, port: int | None = None) -> tuple[ProcessRecord, str]:
    """Start a private toxiproxy-server on loopback; returns its process and API URL."""
    import os

    port = port or free_port()
    env = {**os.environ, "LOG_LEVEL": "warn"}
    # -proxy-metrics: per-proxy byte counters, the evidence that a link fault met traffic.
    record = spawn("toxiproxy", [find_binary(), "-host", "127.0.0.1", "-port", str(port), "-proxy-metrics"], env,
                   workdir / "logs" / "toxiproxy.log")
    return record, f"http://127.0.0.1:{port}"

"""A real Prometheus server's query API as a metric source, for users who already have one.

Declared per experiment under `metric_sources`; each tick runs every named PromQL expression
as an instant query (bounded by a timeout) and stores the result vector under the query's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.spec.sources import PromQLSourceSpec

if TYPE_CHECKING:
    from chaos.measure.metrics.sources import Source


def promql_source(spec: PromQLSourceSpec) -> Source:
    """A Source running the spec's queries against /api/v1/query."""
    import requests

    from chaos.measure.metrics.sources import Source, SourceError
    from chaos.measure.metrics.timeline import Sample

    http = requests.Session()
    base = spec.url.rstrip("/")

    def read(t: float) -> list[Sample]:
        out = []
        for metric, expr in spec.queries.items():
            try:
                params: dict[str, str | float] = {"query": expr, "time": t,
                                                  "timeout": f"{int(spec.timeout * 1000)}ms"}
                resp = http.get(f"{base}/api/v1/query", params=params, timeout=spec.timeout)
                body = resp.json()
            except (requests.RequestException, ValueError) as exc:
                raise SourceError(f"{base}: {exc.__class__.__name__}") from None
            if body.get("status") != "success":
                raise SourceError(f"query {metric!r} failed: {body.get('errorType')}: {body.get('error')}")
            data = body["data"]
            if data["resultType"] == "vector":
                for item in data["result"]:
                    labels = {k: v for k, v in item["metric"].items() if k != "__name__"}
                    out.append(Sample(t=t, source=spec.name, name=metric, labels=labels, value=float(item["value"][1])))
            elif data["resultType"] == "scalar":
                out.append(Sample(t=t, source=spec.name, name=metric, labels={}, value=float(data["result"][1])))
            else:
                raise SourceError(f"query {metric!r} returned a {data['resultType']}, not a vector or scalar")
        return out

    return Source(spec.name, read)

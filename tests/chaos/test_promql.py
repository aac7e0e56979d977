"""The PromQL source against a real Prometheus server (Debian's `prometheus`, started here)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chaos.measure.metrics.promql import PromQLSourceSpec, promql_source
from chaos.measure.metrics.sampler import Sampler
from chaos.measure.metrics.timeline import Timeline
from chaos.measure.sli import evaluate
from chaos.spec.surfaces import GaugeSLI, RateSLI
from chaos.util.ports import free_port
from tests.chaos.engine_helpers import only_run_dir, result
from tests.conftest import STACKS, chaosgate
from tests.runstack.helpers import wait_until

pytestmark = pytest.mark.integration  # starts a stack, a server or a browser


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[str]:
    """A Prometheus server on loopback scraping itself every second."""
    work = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    (work / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: self\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
    with open(work / "log", "wb") as log:
        proc = subprocess.Popen(["/usr/bin/prometheus", f"--config.file={work / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def has_data() -> bool:
        try:
            return bool(requests.get(f"{url}/api/v1/query", params={"query": "up"}, timeout=2).json()["data"]["result"])
        except (requests.RequestException, ValueError, KeyError):
            return False

    try:
        assert wait_until(has_data, 60, 0.5), (work / "log").read_text()[-2000:]
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def test_queries_land_in_the_timeline_and_feed_slis(prometheus: str, tmp_path: Path) -> None:
    spec = PromQLSourceSpec(kind="promql", name="prom", url=prometheus,
                            queries={"up": "up", "samples_total": "sum(prometheus_tsdb_head_samples_appended_total)"})
    timeline = Timeline(tmp_path)
    sampler = Sampler([promql_source(spec)], timeline)
    t0 = time.time()
    for _ in range(4):
        sampler.sample_once()
        time.sleep(1.2)
    sampler.sample_once()
    t1 = time.time()
    sampler.close()
    assert evaluate(timeline, GaugeSLI(kind="gauge", metric='up{job="self"}', agg="min"), "prom", t0, t1).value == 1.0
    rate = evaluate(timeline, RateSLI(kind="rate", counter="samples_total"), "prom", t0, t1)
    assert rate.value is not None and rate.value > 0, "Prometheus appends samples as it scrapes itself"


def test_a_bad_query_and_an_unreachable_server_are_missing_data(prometheus: str, tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    bad = PromQLSourceSpec(kind="promql", name="bad", url=prometheus, queries={"x": "sum(("})
    gone = PromQLSourceSpec(kind="promql", name="gone", url=f"http://127.0.0.1:{free_port()}", queries={"x": "up"})
    sampler = Sampler([promql_source(bad), promql_source(gone)], timeline)
    t0 = time.time()
    sampler.sample_once()
    sampler.close()
    assert timeline.missing_count("bad", t0, time.time()) == 1
    assert timeline.missing_count("gone", t0, time.time()) == 1
    v = evaluate(timeline, GaugeSLI(kind="gauge", metric="x"), "bad", t0, time.time())
    assert v.value is None and "no successful read of bad" in v.missing


def test_a_run_measures_an_sli_from_prometheus(prometheus: str, tmp_path: Path, out: Path) -> None:
    text = (STACKS / "mini" / "experiment.yaml").read_text()
    text = text.replace("stack: docker-compose.yml", f"stack: {STACKS / 'mini' / 'docker-compose.yml'}")
    text = text.replace("expected_radius: []", f"""expected_radius: []
metric_sources:
  - {{kind: promql, name: prom, url: "{prometheus}", queries: {{up: 'up{{job="self"}}'}}}}""")
    text = text.replace("surfaces:\n", "surfaces:\n  monitoring:\n    services: [front]\n    slis:\n"
                        "      up: {kind: gauge, source: prom, metric: up, agg: min, better: higher}\n", 1)
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    run = chaosgate("run", str(path), "--out", str(out))
    assert run.code == 0, run.err
    up = result(only_run_dir(out))["slis"]["monitoring"]["up"]
    assert up["baseline"]["value"] == 1.0 and up["fault"]["value"] == 1.0


def test_a_source_off_loopback_is_refused_unless_allowed(tmp_path: Path) -> None:
    text = (STACKS / "mini" / "experiment.yaml").read_text()
    text = text.replace("stack: docker-compose.yml", f"stack: {STACKS / 'mini' / 'docker-compose.yml'}")
    text = text.replace("expected_radius: []", "expected_radius: []\nmetric_sources:\n"
                        "  - {kind: promql, name: prom, url: 'http://prometheus.example:9090', queries: {up: up}}")
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    run = chaosgate("validate", str(path))
    assert run.code == 3 and "metric_sources.0.url: refused: 'prometheus.example'" in run.err, run.err
    line = int(run.err.split(f"{path}:")[1].split(":")[0])
    assert "prometheus.example" in text.splitlines()[line - 1]
    path.write_text(text + "allow_hosts: [prometheus.example]\n")
    assert chaosgate("validate", str(path)).code == 0

"""Report size and render time for a long run: a 10-minute run sampled at 1 Hz with 20 SLIs
(4 surfaces x 5: ratios, latency histograms, gauges), written into a real timeline.db and
rendered with the same code as `chaosgate report`. Prints figures; asserts nothing.

    .venv/bin/python bench/report.py [--minutes 10] [--slis-per-surface 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos.measure.metrics.timeline import Sample, Timeline  # noqa: E402
from chaos.measure.result import RunPlan, RunResult  # noqa: E402
from chaos.report import render_run  # noqa: E402
from chaos.spec.surfaces import Surface  # noqa: E402

LES = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf")]


def synthesize(run_dir: Path, seconds: int, per_surface: int) -> None:
    """A run directory as the engine leaves it: plan, result, and a 1 Hz timeline."""
    rng = random.Random(1)
    tl = Timeline(run_dir)
    t0 = time.time() - seconds
    surfaces = {}
    for s in range(4):
        svc = f"svc{s}"
        slis = {}
        for k in range(per_surface):
            kind = ("ratio", "quantile", "gauge")[k % 3]
            slis[f"sli{k}"] = ({"kind": "ratio", "good": f'req_total{{code="ok",k="{k}"}}', "total": f'req_total{{k="{k}"}}'}
                               if kind == "ratio" else
                               {"kind": "quantile", "histogram": f'lat_seconds{{k="{k}"}}', "q": 0.95}
                               if kind == "quantile" else {"kind": "gauge", "metric": f'depth{{k="{k}"}}'})
        surfaces[f"surface{s}"] = Surface.model_validate({"services": [svc], "slis": slis})
        ok, bad, buckets = [0.0] * per_surface, [0.0] * per_surface, [[0.0] * len(LES) for _ in range(per_surface)]
        for i in range(seconds):
            t = t0 + i
            faulty = seconds * 0.4 < i < seconds * 0.7
            samples = []
            for k in range(per_surface):
                ok[k] += rng.randint(40, 60)
                bad[k] += rng.randint(5, 20) if faulty else rng.randint(0, 1)
                samples += [Sample(t=t, source=svc, name="req_total", labels={"code": "ok", "k": str(k)}, value=ok[k]),
                            Sample(t=t, source=svc, name="req_total", labels={"code": "err", "k": str(k)}, value=bad[k])]
                for _ in range(50):
                    v = rng.expovariate(5 if not faulty else 1)
                    for j, le in enumerate(LES):
                        if v <= le:
                            buckets[k][j] += 1
                samples += [Sample(t=t, source=svc, name="lat_seconds_bucket",
                                   labels={"le": str(le) if le != float("inf") else "+Inf", "k": str(k)},
                                   value=buckets[k][j])
                            for j, le in enumerate(LES)]
                samples.append(Sample(t=t, source=svc, name="depth", labels={"k": str(k)}, value=rng.randint(0, 5) + (30 if faulty else 0)))
            tl.add(samples)
    third = seconds / 10
    phases = {"warmup": (t0, t0 + third), "baseline": (t0 + third, t0 + 4 * third),
              "fault": (t0 + 4 * third, t0 + 7 * third), "recovery": (t0 + 7 * third, t0 + seconds)}
    RunPlan(experiment="bench", file="bench.yaml", sha256="0" * 64, backend="local", chaosgate_version="bench",
            sample_interval=1.0, surfaces=surfaces, services=[f"svc{s}" for s in range(4)],
            links=[(f"svc{s}", f"svc{s + 1}") for s in range(3)], target_services=["svc3"],
            expected_radius=[]).save(run_dir)
    RunResult(experiment="bench", file="bench.yaml", run_id="bench", run_dir=str(run_dir), status="completed",
              phases=phases).save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--slis-per-surface", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        seconds = int(args.minutes * 60)
        synthesize(run_dir, seconds, args.slis_per_surface)
        db = (run_dir / "timeline.db").stat().st_size
        t = time.perf_counter()
        path = render_run(run_dir)
        took = time.perf_counter() - t
        size = path.stat().st_size
        print(f"run of {seconds} s at 1 Hz, {4 * args.slis_per_surface} SLIs (timeline.db {db / 1e6:.1f} MB): "
              f"report.html {size / 1024:.0f} KiB (of it the uPlot library ~52 KiB), rendered in {took:.2f} s")


if __name__ == "__main__":
    main()

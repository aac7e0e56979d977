"""A steady, bounded stream of run submissions and Studio launches against the scheduler.

Used by the run stack's tests and by hand (`python -m runstack.traffic --help`); chaosgate's
own load comes from locust. Every request has a timeout; the stream stops at its deadline.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from runstack.catalogue import catalogue

#: Seconds one submission may take.
REQUEST_TIMEOUT_S = 5.0


def drive(scheduler: str, seconds: float, runs_per_s: float, studio_per_s: float = 0.0,
          seed: int = 2026, workers: int = 16) -> collections.Counter:
    """Submit runs (round-robin over the catalogue) and launch Studio sessions; outcome counts."""
    projects = itertools.cycle(sorted(catalogue(seed).projects.values(), key=lambda p: (p.name, p.tenant)))
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()
    http = requests.Session()
    http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=workers))

    def submit(project) -> None:
        try:
            r = http.post(f"{scheduler}/runs", json={"tenant": project.tenant, "project": project.name},
                          timeout=REQUEST_TIMEOUT_S)
            key = "submitted" if r.status_code == 201 else f"submit_{r.status_code}"
        except requests.RequestException:
            key = "submit_error"
        with lock:
            counts[key] += 1

    def studio() -> None:
        try:
            r = http.post(f"{scheduler}/studio/sessions", json={"tenant": "tenant-00"}, timeout=REQUEST_TIMEOUT_S * 6)
            key = "studio_launched" if r.status_code == 201 else "studio_failed"
        except requests.RequestException:
            key = "studio_failed"
        with lock:
            counts[key] += 1

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        sent_runs = sent_studio = 0
        while (now := time.monotonic() - start) < seconds:
            while sent_runs < now * runs_per_s:
                pool.submit(submit, next(projects))
                sent_runs += 1
            while studio_per_s and sent_studio < now * studio_per_s:
                pool.submit(studio)
                sent_studio += 1
            time.sleep(0.01)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scheduler", help="scheduler URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs-per-s", type=float, default=5)
    parser.add_argument("--studio-per-s", type=float, default=0.5)
    args = parser.parse_args()
    print(dict(drive(args.scheduler, args.seconds, args.runs_per_s, args.studio_per_s)))


if __name__ == "__main__":
    main()

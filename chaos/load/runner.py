"""Start locust headless (optionally as master plus N workers) and read its per-second stats."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import InfraError
from chaos.measure.metrics.sources import Source, SourceError
from chaos.measure.metrics.timeline import Sample
from chaos.util.ports import free_port
from chaos.util.procs import ProcessRecord, how_it_ended, is_alive, spawn, stop_group, tail

if TYPE_CHECKING:
    from chaos.spec.experiment import WorkerHost

#: Seconds locust gets to write its final stats after SIGTERM.
STOP_GRACE_S = 15.0
LOAD_SOURCE = "load"
#: Seconds locust gets to start and complete its first request (on a busy machine its start alone
#: takes seconds: phases timed from its launch would begin without load).
FLOW_TIMEOUT_S = 60.0
#: locust flushes its CSV files every 5 s (CSV_STATS_FLUSH_INTERVAL_SEC): the timeline would see
#: its per-second history in 5-second steps. The process that writes them flushes at every write.
LOCUST_FLUSHING = ("import locust.stats as s; s.CSV_STATS_FLUSH_INTERVAL_SEC = 0; "
                   "from locust.main import main; main()")


class LoadRunner:
    """One locust run: the processes, where they write, and how to stop them."""

    def __init__(self, profile: Path, host: str, users: int, spawn_rate: float, run_time_s: float,
                 out_dir: Path, workers: int | list[WorkerHost] = 0, environment: dict[str, str] | None = None,
                 reach: str = "127.0.0.1"):
        """`workers`: a number of local workers, or WorkerHosts (a command prefix each) that reach
        the master at `reach`."""
        self.profile, self.host, self.users, self.spawn_rate = profile, host, users, spawn_rate
        self.run_time_s, self.reach = run_time_s, reach
        self.hosts: list[WorkerHost] = workers if isinstance(workers, list) else []
        # One per host listed (none listed: none at all), else the number asked for.
        self.workers: int = len(self.hosts) if isinstance(workers, list) else workers
        self.out_dir = out_dir
        self.env = {**os.environ, **(environment or {}), "PYTHONUNBUFFERED": "1"}
        self.processes: list[ProcessRecord] = []

    @property
    def csv_prefix(self) -> Path:
        return self.out_dir / "locust"

    @property
    def json_file(self) -> Path:
        """Final totals; locust adds the .json suffix to the name it is given."""
        return self.out_dir / "locust.json"

    def start(self) -> list[ProcessRecord]:
        """Start locust; it also stops by itself after run_time_s (a bound, not the normal stop)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        args = ["-f", str(self.profile), "--host", self.host]
        writer = [sys.executable, "-c", LOCUST_FLUSHING] + args + [  # the process that writes the statistics
            "--headless", "-u", str(self.users), "-r", str(self.spawn_rate), "-t", f"{int(self.run_time_s) + 1}s",
            "--csv", str(self.csv_prefix), "--csv-full-history", "--json-file", str(self.json_file.with_suffix("")),
            "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2"]
        if not self.workers:
            self.processes.append(spawn("locust", writer, self.env, self.out_dir / "locust.log"))
            return self.processes
        port = free_port(self.reach)
        master = writer + ["--master", "--master-bind-host", self.reach, "--master-bind-port", str(port),
                           "--expect-workers", str(self.workers), "--expect-workers-max-wait", "30"]
        self.processes.append(spawn("locust-master", master, self.env, self.out_dir / "master.log"))
        for i in range(self.workers):
            prefix = list(self.hosts[i].exec) if self.hosts else []
            name = f"locust-worker-{self.hosts[i].host}" if self.hosts else f"locust-worker-{i}"
            worker = prefix + [sys.executable, "-m", "locust"] + args + [
                "--worker", "--master-host", self.reach, "--master-port", str(port), "--loglevel", "WARNING"]
            self.processes.append(spawn(name, worker, self.env, self.out_dir / f"worker-{i}.log"))
        return self.processes

    def alive(self) -> bool:
        """True while the (master) locust process runs."""
        return bool(self.processes) and is_alive(self.processes[0])

    def stop(self) -> None:
        """SIGTERM every locust process (master first, so it collects the workers' stats)."""
        for record in self.processes:
            stop_group(record, STOP_GRACE_S)

    def totals(self) -> dict:
        """Final totals from locust's JSON file (the CSV can lag a second behind)."""
        try:
            stats = json.loads(self.json_file.read_text())
        except (OSError, ValueError):
            return {}
        requests = sum(s.get("num_requests", 0) for s in stats)
        failures = sum(s.get("num_failures", 0) for s in stats)
        return {"requests": requests, "failures": failures,
                "by_name": {s["name"]: {"requests": s.get("num_requests", 0), "failures": s.get("num_failures", 0)}
                            for s in stats}}

    def wait_flowing(self, timeout_s: float = FLOW_TIMEOUT_S) -> float:
        """Block until locust has completed a request, up to `timeout_s`; the seconds it took."""
        t0 = time.monotonic()
        while (waited := time.monotonic() - t0) < timeout_s:
            if not self.alive():
                raise InfraError(f"locust exited before it sent any request:\n{self.log_tail()}")
            if any(float(row["Total Request Count"] or 0) > 0 for row in self._latest_rows().values()):
                return waited
            time.sleep(0.2)
        raise InfraError(f"locust completed no request against {self.host} within {timeout_s:g}s "
                         f"(a target that never answers, or a profile that sends nothing); its log:\n{self.log_tail()}")

    def _latest_rows(self) -> dict[str, dict]:
        """The newest history row of each request name ({} before locust writes one)."""
        try:
            with open(f"{self.csv_prefix}_stats_history.csv", newline="") as f:
                rows = list(csv.DictReader(f))
        except OSError:
            return {}
        # "Aggregated" is the sum of the others: counting it would double them.
        return {row["Name"]: row for row in rows if row["Name"] != "Aggregated"}

    def log_tail(self) -> str:
        """The end of the master's log."""
        return tail(self.processes[0].log) if self.processes else ""

    def why_it_ended(self) -> str:
        """How the master ended and the end of its log: the reason a run that lost its load gives."""
        if not self.processes:
            return "it was never started"
        logged = self.log_tail().strip() or f"its log ({self.processes[0].log}) is empty"
        return f"{how_it_ended(self.processes[0])}; {logged}"

    def source(self) -> Source:
        """A timeline source reading the newest row of each request name from locust's history CSV.

        Locust writes it every second; with workers, the master's figures move only when
        workers report (every 3 s by default), so short windows may see no change.
        """
        history = Path(f"{self.csv_prefix}_stats_history.csv")

        def read(t: float) -> list[Sample]:
            if not history.exists():
                raise SourceError("locust has written no statistics yet")
            latest = self._latest_rows()
            out = []
            for name, row in latest.items():
                labels = {"name": name}
                out.append(Sample(t=t, source=LOAD_SOURCE, name="locust_requests_total", labels=labels,
                                  value=float(row["Total Request Count"] or 0)))
                out.append(Sample(t=t, source=LOAD_SOURCE, name="locust_failures_total", labels=labels,
                                  value=float(row["Total Failure Count"] or 0)))
                p95 = row.get("95%", "N/A")
                if p95 not in ("N/A", ""):
                    out.append(Sample(t=t, source=LOAD_SOURCE, name="locust_response_p95_ms", labels=labels,
                                      value=float(p95)))
                out.append(Sample(t=t, source=LOAD_SOURCE, name="locust_users", labels=labels,
                                  value=float(row["User Count"] or 0)))
            return out

        return Source(LOAD_SOURCE, read)

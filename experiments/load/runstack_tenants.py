"""Locust profile for the reference run stack: tenants submitting runs at a steady rate, and
engineers launching Studio sessions. Runs in locust's own process, never in chaosgate's."""

import itertools
import os

from locust import FastHttpUser, between, constant_throughput, task

from runstack.catalogue import catalogue

PROJECTS = sorted(catalogue(int(os.environ.get("CATALOGUE_SEED", "2026"))).projects.values(),
                  key=lambda p: (p.name, p.tenant))
_next = itertools.count()


class Tenant(FastHttpUser):
    """Submits a run of the next project in the catalogue about once a second."""

    weight = 9
    wait_time = constant_throughput(float(os.environ.get("RUNS_PER_USER_S", "1")))
    network_timeout = 5.0
    connection_timeout = 5.0

    @task
    def submit_run(self) -> None:
        project = PROJECTS[next(_next) % len(PROJECTS)]
        self.client.post("/runs", json={"tenant": project.tenant, "project": project.name}, name="submit run")


class Engineer(FastHttpUser):
    """Launches a Studio session now and then; a 503 (no worker) is a failed launch."""

    weight = 1
    # ENGINEERS=N pins their number (locust's fixed_count), so Studio gets enough launches to measure.
    fixed_count = int(os.environ.get("ENGINEERS", "0"))
    wait_time = between(1, 2)
    network_timeout = 30.0
    connection_timeout = 5.0

    @task
    def launch_studio(self) -> None:
        self.client.post("/studio/sessions", json={"tenant": "tenant-00"}, name="launch studio")

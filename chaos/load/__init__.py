"""Load generation with locust, always in child processes: locust monkey-patches with gevent at
import, so the orchestrator never imports it."""

"""Locust profile for the mini stack: visitors asking front for a greeting relayed from echo."""

from locust import FastHttpUser, constant_throughput, task


class Visitor(FastHttpUser):
    wait_time = constant_throughput(5)
    network_timeout = 5.0
    connection_timeout = 5.0

    @task
    def hello(self) -> None:
        self.client.get("/via-echo", name="via echo")

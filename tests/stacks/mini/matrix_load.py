"""Locust profile for a matrix of the mini stack: front's own greeting, and the one it relays from echo."""

from locust import FastHttpUser, constant_throughput, task


class Visitor(FastHttpUser):
    wait_time = constant_throughput(4)
    network_timeout = 5.0
    connection_timeout = 5.0

    @task
    def hello(self) -> None:
        self.client.get("/hello", name="hello")

    @task
    def via_echo(self) -> None:
        self.client.get("/via-echo", name="via echo")

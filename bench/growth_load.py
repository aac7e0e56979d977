"""Locust profile for a matrix of bench/growth.py's chains: each request relays down the whole chain."""

from locust import FastHttpUser, constant_throughput, task


class Caller(FastHttpUser):
    wait_time = constant_throughput(4)
    network_timeout = 5.0
    connection_timeout = 5.0

    @task
    def call(self) -> None:
        self.client.get("/call", name="call")

"""AMQP connections as the platform uses them: bounded connects, held for a run's life."""

from __future__ import annotations

import json
import os
import time

import pika

EXCHANGE = "runs"
#: Seconds a connect or a socket operation may take.
SOCKET_TIMEOUT_S = 3.0


def connect(name: str) -> pika.BlockingConnection:
    """A connection to the broker at $BROKER_ADDR; raises pika.exceptions.AMQPError on refusal.

    Heartbeats are off: a worker thread stuck in telemetry cannot service them, and the platform
    of the incident kept such connections open for as long as the run lived.
    """
    host, port = os.environ["BROKER_ADDR"].rsplit(":", 1)
    params = pika.ConnectionParameters(
        host=host, port=int(port), heartbeat=0, socket_timeout=SOCKET_TIMEOUT_S,
        blocked_connection_timeout=SOCKET_TIMEOUT_S, stack_timeout=SOCKET_TIMEOUT_S * 2,
        connection_attempts=1, client_properties={"connection_name": name},
    )
    return pika.BlockingConnection(params)


def publish(conn: pika.BlockingConnection, routing_key: str, payload: dict) -> None:
    """Publish one event to the `runs` topic exchange, stamped with the send time."""
    channel = conn.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=False)
    body = json.dumps({**payload, "ts": time.time()}).encode()
    channel.basic_publish(EXCHANGE, routing_key, body)
    channel.close()


def close_quietly(conn: pika.BlockingConnection | None) -> None:
    """Close a connection, ignoring one that is already broken."""
    if conn is None:
        return
    try:
        if conn.is_open:
            conn.close()
    except Exception:  # noqa: BLE001 - a broken connection is already as closed as it gets
        pass

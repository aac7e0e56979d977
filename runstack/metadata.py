"""Metadata processing: consumes run events from the broker; its SLI is processing lag."""

from __future__ import annotations

import json
import os
import threading
import time

import pika.exceptions
from prometheus_client import Counter, Gauge, Histogram

from runstack import amqp
from runstack.web import App

app = App("metadata")
LAG = Histogram("runstack_metadata_lag_seconds", "Event publish to processing",
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
EVENTS = Counter("runstack_metadata_events", "Run events processed", ["type"])
CONNECTED = Gauge("runstack_metadata_connected", "1 while consuming from the broker")
QUEUE = "metadata"


def _on_message(channel, method, _props, body) -> None:
    try:
        event = json.loads(body)
        LAG.observe(max(0.0, time.time() - float(event.get("ts", time.time()))))
    except ValueError:
        pass
    EVENTS.labels(method.routing_key).inc()
    channel.basic_ack(method.delivery_tag)


def consume_forever() -> None:
    """Consume; on a lost or refused connection, wait (capped backoff) and connect again."""
    backoff = 0.5
    while True:
        conn = None
        try:
            conn = amqp.connect("metadata-consumer")
            channel = conn.channel()
            channel.exchange_declare(amqp.EXCHANGE, exchange_type="topic", durable=False)
            channel.queue_declare(QUEUE, durable=False)
            channel.queue_bind(QUEUE, amqp.EXCHANGE, "run.#")
            channel.basic_qos(prefetch_count=200)
            channel.basic_consume(QUEUE, _on_message)
            CONNECTED.set(1)
            backoff = 0.5
            while True:
                conn.process_data_events(time_limit=1)
        except (pika.exceptions.AMQPError, OSError) as exc:
            print(f"metadata: broker connection lost: {exc!r}", flush=True)
        finally:
            CONNECTED.set(0)
            amqp.close_quietly(conn)
        time.sleep(backoff)
        backoff = min(backoff * 2, 5.0)


if __name__ == "__main__":
    threading.Thread(target=consume_forever, name="consumer", daemon=True).start()
    app.serve(int(os.environ["PORT"]))

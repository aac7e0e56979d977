"""Real components chaosgate starts itself for the local backend (x-chaosgate `builtin`)."""

from __future__ import annotations

from chaos.components import rabbitmq

#: The ports each builtin component listens on, first being its main port.
BUILTIN_PORTS = {
    "rabbitmq": [rabbitmq.AMQP_PORT, rabbitmq.MANAGEMENT_PORT, rabbitmq.PROMETHEUS_PORT],
}


def builtin_ports(kind: str | None) -> list[int]:
    """The container-side ports of a builtin component (empty for a plain service)."""
    return list(BUILTIN_PORTS.get(kind or "", []))

"""A private RabbitMQ node per stack: own node name, ports and data, never the system service."""

from __future__ import annotations

import os
import pwd
import shutil
import uuid
from pathlib import Path
from typing import Any

from chaos.errors import InfraError
from chaos.util.ports import free_port
from chaos.util.procs import ProcessRecord, spawn

AMQP_PORT = 5672
MANAGEMENT_PORT = 15672
PROMETHEUS_PORT = 15692
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
#: The broker runs as this user; its directories must belong to it or it dies silently.
USER = "rabbitmq"
REQUEST_TIMEOUT_S = 5.0


def start_node(workdir: Path, amqp_port: int, management_port: int, prometheus_port: int) -> ProcessRecord:
    """Write a node's config under `workdir` and start it; health is checked by the caller."""
    if not Path(SERVER).exists():
        raise InfraError("RabbitMQ is not installed (rabbitmq-server): run scripts/setup")
    try:
        account = pwd.getpwnam(USER)
    except KeyError:
        raise InfraError(f"user {USER!r} missing: RabbitMQ's package did not install cleanly") from None
    node_id = uuid.uuid4().hex[:10]
    base = _data_dir(workdir, account, node_id)
    for sub in ("mnesia", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{amqp_port}\n"
        "management.tcp.ip = 127.0.0.1\n"
        f"management.tcp.port = {management_port}\n"
        "prometheus.tcp.ip = 127.0.0.1\n"
        f"prometheus.tcp.port = {prometheus_port}\n"
        "loopback_users = none\n"
        # The management API's lists refresh at this interval; chaosgate samples at 1 Hz.
        "collect_statistics_interval = 1000\n"
    )
    (base / "enabled_plugins").write_text("[rabbitmq_management,rabbitmq_prometheus].\n")
    for path in [base, *base.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    node = f"chaosgate-{node_id}@localhost"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": account.pw_dir,  # where the Erlang cookie lives
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_LOGS": "-",  # to stdout, hence into the service log
    }
    cwd = Path(account.pw_dir) if Path(account.pw_dir).is_dir() else base
    return spawn("broker", [SERVER], env, workdir / "logs" / "broker.log", cwd=cwd,
                 user=USER if os.geteuid() == 0 else None)


def _data_dir(workdir: Path, account: pwd.struct_passwd, node_id: str) -> Path:
    """Where the node keeps its data: a folder the `rabbitmq` user can surely reach.

    A run directory may sit below a folder only root may enter (pytest's tmp, a 0700 home),
    so as root the data lives in RabbitMQ's own home, linked from the run directory.
    """
    link = workdir / "rabbitmq"
    if os.geteuid() != 0:
        return link
    base = Path(account.pw_dir) / "chaosgate" / node_id
    base.mkdir(parents=True, exist_ok=True)
    os.chown(base.parent, account.pw_uid, account.pw_gid)
    link.unlink(missing_ok=True)
    link.symlink_to(base)
    return base


def remove_node_data(workdir: Path) -> None:
    """Delete a stopped node's data directory (and the link to it)."""
    link = workdir / "rabbitmq"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
        link.unlink(missing_ok=True)
    else:
        shutil.rmtree(link, ignore_errors=True)


class ManagementClient:
    """The parts of RabbitMQ's management API chaosgate uses; every call bounded."""

    def __init__(self, url: str, user: str = "guest", password: str = "guest",
                 timeout_s: float = REQUEST_TIMEOUT_S):
        import requests  # lazily: validating an experiment needs no HTTP client

        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = requests.Session()
        self._http.auth = (user, password)

    def _call(self, method: str, path: str, body: object = None) -> Any:
        """The parsed JSON answer (None when empty): its shape is the management API's."""
        from chaos.util.wire import fetch, json_body

        status, content = fetch(self._http, method, self.url + path, self.timeout_s, json=body)
        if status >= 400:
            raise InfraError(f"RabbitMQ at {self.url}: {method} {path} answered {status}: "
                             f"{content[:200].decode(errors='replace').strip()}")
        return json_body(content, f"RabbitMQ at {self.url}: {method} {path}")

    def overview(self) -> dict:
        """/api/overview."""
        return self._call("GET", "/api/overview")

    def queue_depths(self) -> dict[str, int]:
        """Messages ready or unacknowledged in each queue, by queue name."""
        queues = self._call("GET", "/api/queues?columns=name,messages") or []
        return {q["name"]: int(q.get("messages") or 0) for q in queues}

    def connections(self) -> list[dict]:
        """Every open client connection."""
        return self._call("GET", "/api/connections")

    def close_connection(self, name: str) -> None:
        """Force-close one client connection by its broker-side name."""
        import requests

        try:
            resp = self._http.delete(f"{self.url}/api/connections/{requests.utils.quote(name, safe='')}",
                                     timeout=self.timeout_s, headers={"X-Reason": "chaosgate rollback"})
        except requests.RequestException as exc:
            raise InfraError(f"RabbitMQ management API {self.url} did not answer: {exc}") from None
        if resp.status_code not in (200, 204, 404):
            raise InfraError(f"RabbitMQ could not close connection {name}: {resp.status_code}")

    def connection_limit(self, vhost: str = "/") -> int | None:
        """The vhost's max-connections limit, or None when unlimited."""
        import requests

        limits = self._call("GET", f"/api/vhost-limits/{requests.utils.quote(vhost, safe='')}")
        for entry in limits or []:
            value = entry.get("value", {}).get("max-connections")
            if value is not None and value >= 0:
                return int(value)
        return None

    def set_connection_limit(self, limit: int | None, vhost: str = "/") -> None:
        """Set (or, with None, clear) the vhost's max-connections limit."""
        import requests

        path = f"/api/vhost-limits/{requests.utils.quote(vhost, safe='')}/max-connections"
        if limit is None:
            self._call("DELETE", path)
        else:
            self._call("PUT", path, {"value": limit})

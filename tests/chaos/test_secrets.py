"""No secret in what chaosgate writes: stack.json and the journal record a service's own
environment, redacted, and never what it inherits; the whole environment a restart needs is kept
outside the run directory (0700/0600) and removed with the stack. The unit tests check the
pieces; the integration tests plant secrets in the environment of a run, a report, a gate and a
game day (`stack up`, `inject`, `rollback` from a shell without them) and read every byte written."""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from pathlib import Path

import psutil
import pytest

from chaos.backends import envstore
from chaos.backends.envstore import MASK, Environment, EnvStore, looks_secret, redact, resolve
from chaos.backends.state import ServiceState, StackState
from chaos.faults.config import RestoreConfig
from tests.conftest import STACKS, chaosgate

MINI = STACKS / "mini"


# --- unit: names, redaction, the store --------------------------------------------------------
@pytest.mark.parametrize("name", ["API_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "DB_PASSWORD",
                                  "GITHUBTOKEN", "apiKey", "client-secret", "SENTRY_DSN", "PGPASSWORD", "SMTP_PASS",
                                  "CHAOSGATE_TEST_SECRET_TOKEN", "TLS_PRIVATE_KEY", "NPM_AUTH"])
def test_secret_looking_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["PATH", "PWD", "OLDPWD", "ECHO_ADDR", "CHAOSGATE_SERVICE", "HEARTBEAT_S",
                                  "TELEMETRY_TIMEOUT_S", "KEYBOARD_LAYOUT", "BYPASS_CACHE", "MONKEY"])
def test_ordinary_names(name: str) -> None:
    assert not looks_secret(name)


def test_redact_masks_secret_names_and_url_passwords_and_is_idempotent() -> None:
    env = {"API_TOKEN": "abc", "GREETING": "hi", "DATABASE_URL": "postgres://app:pw1@db:5432/app",
           "AMQP": "amqp://guest@host", "PLAIN": "a:b@c"}
    once = redact(env)
    assert once == {"API_TOKEN": MASK, "GREETING": "hi", "DATABASE_URL": f"postgres://app:{MASK}@db:5432/app",
                    "AMQP": "amqp://guest@host", "PLAIN": "a:b@c"}
    assert redact(once) == once


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $XDG_RUNTIME_DIR of the test's own."""
    path = tmp_path / "runtime"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path


def stack_with_store(tmp_path: Path, own: dict[str, str], inherited: dict[str, str]) -> StackState:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    state = StackState(name="s", backend="local", compose="c.yml", run_dir=str(run_dir), status="up",
                       variables={"DB_PASSWORD": "pw-var", "RELEASE": "1.0"})
    state.env_store = str(EnvStore.create(state.run_dir).path)
    state.services["echo"] = ServiceState(name="echo", kind="process")
    envstore.keep(state, "echo", Environment(inherited=inherited, own=own))
    state.save()
    return state


def test_the_store_is_private_outside_the_run_directory_and_named_by_content(tmp_path: Path, runtime: Path) -> None:
    state = stack_with_store(tmp_path, {"API_TOKEN": "t0k"}, {"HOME": "/root", "SHELL_SECRET": "zzz"})
    store = Path(state.env_store or "")
    assert store.parent == runtime and not store.is_relative_to(state.run_dir)
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in store.iterdir())
    again = EnvStore(store).put(Environment(inherited={"HOME": "/root", "SHELL_SECRET": "zzz"}, own={"API_TOKEN": "t0k"}))
    assert again == state.services["echo"].env_id, "the same environment, the same name"
    written = (Path(state.run_dir) / "stack.json").read_text()
    assert "t0k" not in written and "zzz" not in written and "pw-var" not in written and "HOME" not in written
    saved = json.loads(written)
    assert saved["services"]["echo"]["env"] == {"API_TOKEN": MASK}
    assert saved["variables"] == {"DB_PASSWORD": MASK, "RELEASE": "1.0"}


def test_a_true_value_set_in_memory_is_still_written_redacted(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    state = StackState(name="s", backend="local", compose="c.yml", run_dir=str(run_dir))
    state.services["echo"] = ServiceState(name="echo", kind="process", env={"SECRET_KEY": "k3y", "A": "1"})
    state.save()
    assert StackState.load(run_dir).services["echo"].env == {"SECRET_KEY": MASK, "A": "1"}


def test_a_swap_and_its_undo_resolve_masked_values_to_the_true_ones(tmp_path: Path, runtime: Path) -> None:
    own = {"API_TOKEN": "orig-token", "DATABASE_URL": "postgres://u:orig-pw@db/x", "PORT": "8000"}
    state = stack_with_store(tmp_path, own, {"HOME": "/root", "SHELL_TOKEN": "shell"})
    original_id = state.services["echo"].env_id
    recorded = dict(state.services["echo"].env or {})
    assert recorded == {"API_TOKEN": MASK, "DATABASE_URL": f"postgres://u:{MASK}@db/x", "PORT": "8000"}

    # The swap: the recorded own environment with new values on top, one of them secret.
    swapped = resolve(state, "echo", {**recorded, "GREETING": "swapped", "API_TOKEN": "new-token"})
    assert swapped.own == {**own, "GREETING": "swapped", "API_TOKEN": "new-token"}
    assert swapped.full["SHELL_TOKEN"] == "shell", "what it inherited at up is kept"
    envstore.keep(state, "echo", swapped)
    assert state.services["echo"].env_id != original_id

    # The undo, from the record alone (as `chaosgate rollback` has it, in another shell).
    undo = RestoreConfig(run_dir=state.run_dir, service="echo", env=recorded, env_id=original_id)
    assert "orig" not in undo.model_dump_json()
    back = resolve(state, "echo", undo.env, undo.env_id)
    assert back == Environment(inherited={"HOME": "/root", "SHELL_TOKEN": "shell"}, own=own)
    envstore.keep(state, "echo", back)
    assert state.services["echo"].env_id == original_id, "the same environment again, by name"

    # A restart (process.kill's undo) gets exactly what it runs with; a container inherits nothing.
    assert resolve(state, "echo").full == {"HOME": "/root", "SHELL_TOKEN": "shell", **own}
    assert resolve(state, "echo", inherit=False).full == own


def test_the_swap_undo_sees_a_change_of_a_masked_value(tmp_path: Path, runtime: Path) -> None:
    state = stack_with_store(tmp_path, {"API_TOKEN": "one"}, {})
    undo = RestoreConfig(run_dir=state.run_dir, service="echo", env=dict(state.services["echo"].env or {}),
                         env_id=state.services["echo"].env_id)
    assert undo.remaining() is None
    envstore.keep(state, "echo", resolve(state, "echo", {"API_TOKEN": "two"}))
    state.save()
    assert state.services["echo"].env == undo.env, "the recorded views are the same"
    assert undo.remaining() == "echo still runs the swapped configuration"


def test_without_the_store_a_restart_takes_this_commands_environment(tmp_path: Path, runtime: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    state = stack_with_store(tmp_path, {"API_TOKEN": "t", "OTHER_SECRET": "o", "A": "1"}, {"HOME": "/x"})
    shutil.rmtree(state.env_store or "")
    monkeypatch.setenv("API_TOKEN", "from-shell")
    monkeypatch.delenv("OTHER_SECRET", raising=False)
    env = resolve(state, "echo")
    assert env.own == {"API_TOKEN": "from-shell", "A": "1"}, "a masked value with no true one is left out"
    assert env.inherited == dict(os.environ)


def test_sweep_removes_stores_of_stacks_down_or_gone_only(tmp_path: Path, runtime: Path) -> None:
    for sub in "abc":
        (tmp_path / sub).mkdir()
    up, down, gone = (stack_with_store(tmp_path / sub, {}, {}) for sub in "abc")
    down.status = "down"
    down.save()
    shutil.rmtree(gone.run_dir)
    removed = envstore.sweep()
    assert sorted(removed) == sorted([down.env_store, gone.env_store])
    assert Path(up.env_store or "").exists()


# --- integration: every byte a run, a report, a gate and a game day write ----------------------
def planted() -> dict[str, str]:
    """Secrets in the environment of the commands (never in this test process's own)."""
    return {"CHAOSGATE_TEST_SECRET_TOKEN": f"s3cr3t-{uuid.uuid4().hex}",
            "AWS_SECRET_ACCESS_KEY": f"aws-{uuid.uuid4().hex}"}


def variant_stack(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The mini stack with secret values declared in its compose file; the declared secrets."""
    declared = {"token": f"declared-{uuid.uuid4().hex}", "password": f"pw-{uuid.uuid4().hex}"}
    folder = tmp_path / "stack"
    folder.mkdir()
    shutil.copy(MINI / "app.py", folder / "app.py")
    text = (MINI / "docker-compose.yml").read_text()
    for old in ("      NEVER_HEALTHY: ${ECHO_NEVER_HEALTHY:-}\n", "      HEARTBEAT_S: ${FRONT_HEARTBEAT_S:-}\n"):
        assert old in text
        text = text.replace(old, old + f"      API_TOKEN: {declared['token']}\n"
                                       f"      DATABASE_URL: postgres://app:{declared['password']}@db.invalid/app\n")
    (folder / "docker-compose.yml").write_text(text)
    return folder / "docker-compose.yml", declared


def assert_in_no_file(folder: Path, secrets: list[str]) -> int:
    """No file under `folder` (binary or not) holds any of `secrets`; how many files were read."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret[:10]}... written in {path}"
    return len(files)


def services_of(stack_json: Path) -> dict:
    return json.loads(stack_json.read_text())["services"]


def assert_store_gone(stack_json: Path) -> None:
    store = json.loads(stack_json.read_text())["env_store"]
    assert store and not Path(store).is_relative_to(stack_json.parent) and not Path(store).exists(), store


@pytest.mark.integration
def test_no_secret_in_what_a_run_a_report_and_a_gate_write(tmp_path: Path) -> None:
    compose, declared = variant_stack(tmp_path)
    env = planted()
    secrets = [*env.values(), declared["token"], declared["password"]]
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text(f"""name: mini-secrets
stack: {compose}
variables: {{FRONT_HEARTBEAT_S: "0.2"}}
phases: {{warmup: 1s, baseline: 2s, fault: 5s, recovery: 1s}}
deadline: 2m
faults:
  - {{type: config.swap, services: [echo], set: {{GREETING: swapped}}, start: 0.5s}}
  - {{type: process.restart, service: front, grace: 1s, start: 2.5s}}
surfaces:
  broker:
    services: [broker]
    slis:
      connections: {{kind: gauge, source: broker, metric: rabbitmq_connections, agg: max, tolerance: 100}}
expected_radius: []
""")
    out = tmp_path / "reports"
    run = chaosgate("run", str(experiment), "--out", str(out), env=env)
    assert run.code == 0, run.err[-3000:]
    run_dir = next((out / "runs").glob("*"))
    result = json.loads((run_dir / "result.json").read_text())
    assert result["rollback"]["failures"] == [] and result["rollback"]["leftovers"] == []
    assert all(f["landing"]["landed"] for f in result["faults"]), result["faults"]
    services = services_of(run_dir / "stack.json")
    for name in ("echo", "front"):
        assert services[name]["env"]["API_TOKEN"] == MASK
        assert services[name]["env"]["DATABASE_URL"] == f"postgres://app:{MASK}@db.invalid/app"
        assert "PATH" not in services[name]["env"] and "CHAOSGATE_TEST_SECRET_TOKEN" not in services[name]["env"]
    assert "GREETING" not in services["echo"]["env"], "the swap was undone"
    assert_store_gone(run_dir / "stack.json")
    assert chaosgate("report", str(run_dir), env=env).code == 0
    assert (run_dir / "report.html").exists() and (run_dir / "journal.db").exists()
    assert assert_in_no_file(out, secrets) > 5

    # A gate on the same experiment: the candidate changes front's declared environment, so the
    # kept stack restarts front from its recorded (masked) environment — with the true values.
    policy = tmp_path / "gate.yaml"
    policy.write_text("""name: mini-secrets-gate
experiments: [experiment.yaml]
baseline: {FRONT_HEARTBEAT_S: "0.2"}
candidate: {FRONT_HEARTBEAT_S: "0.3"}
window: 1s
criteria:
  - {name: broker connections, sli: broker.connections, bound: {max: 100}, min_samples: 1}
""")
    gate_out = tmp_path / "gate-reports"
    gate = chaosgate("gate", str(policy), "--out", str(gate_out), env=env, timeout=600)
    assert gate.code in (0, 1, 2), gate.err[-3000:]
    runs = [json.loads(p.read_text()) for p in gate_out.glob("runs/*/result.json")]
    assert len(runs) == 2 and all(r["status"] == "completed" for r in runs), [r.get("reason") for r in runs]
    assert any(r["stack"]["reused"] and r["stack"]["restarted"] == ["front"] for r in runs), [r["stack"] for r in runs]
    stack_dirs = list(gate_out.glob("runs/*-stack-*"))
    assert len(stack_dirs) == 1
    assert services_of(stack_dirs[0] / "stack.json")["front"]["env"]["HEARTBEAT_S"] == "0.3"
    assert_store_gone(stack_dirs[0] / "stack.json")
    assert chaosgate("report", str(next(gate_out.glob("gates/*"))), env=env).code == 0
    assert assert_in_no_file(gate_out, secrets) > 5


def environ_of(stack_dir: Path, service: str) -> dict[str, str]:
    return psutil.Process(StackState.load(stack_dir).services[service].process.pid).environ()


@pytest.mark.integration
def test_rollback_from_a_shell_without_the_secrets_restarts_with_them(tmp_path: Path) -> None:
    compose, declared = variant_stack(tmp_path)
    env = planted()
    out = tmp_path / "reports"
    up = chaosgate("stack", "up", "-f", str(compose), "--out", str(out), env=env)
    assert up.code == 0, up.err[-3000:]
    stack_dir = next((out / "stacks").glob("*"))
    try:
        before = environ_of(stack_dir, "echo")
        assert before["CHAOSGATE_TEST_SECRET_TOKEN"] == env["CHAOSGATE_TEST_SECRET_TOKEN"]
        assert before["API_TOKEN"] == declared["token"]
        # Every later command runs in a shell without the planted secrets (this test's own).
        swap = chaosgate("inject", "{type: config.swap, services: [echo], set: {GREETING: swapped}}", "--out", str(out))
        assert swap.code == 0, swap.err[-3000:]
        swapped = environ_of(stack_dir, "echo")
        assert swapped == {**before, "GREETING": "swapped", "CHAOSGATE_RUN_DIR": before["CHAOSGATE_RUN_DIR"]}
        # As after a SIGKILL between inject and heal: the journal says the swap may still be there.
        back = chaosgate("rollback", str(stack_dir), "--keep-stack")
        assert back.code == 0, back.err[-3000:]
        assert environ_of(stack_dir, "echo") == before, "the environment it was started with, secrets included"
        restart = chaosgate("inject", "{type: process.restart, service: front, grace: 1s}", "--out", str(out))
        assert restart.code == 0, restart.err[-3000:]
        front = environ_of(stack_dir, "front")
        assert front["AWS_SECRET_ACCESS_KEY"] == env["AWS_SECRET_ACCESS_KEY"] and front["API_TOKEN"] == declared["token"]
        assert chaosgate("rollback", str(stack_dir), "--keep-stack").code == 0
        store = Path(json.loads((stack_dir / "stack.json").read_text())["env_store"])
        assert store.exists() and stat.S_IMODE(store.stat().st_mode) == 0o700
    finally:
        down = chaosgate("stack", "down", "-f", str(compose), "--out", str(out))
    assert down.code == 0, down.err[-3000:]
    assert_store_gone(stack_dir / "stack.json")
    assert assert_in_no_file(out, [*env.values(), declared["token"], declared["password"]]) > 3

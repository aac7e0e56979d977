"""chaosgate and Chaos Toolkit side by side, in one run, on the same running mini stack.

The same experiment for both: a latency toxic (100 ms) on the `front->echo` link of
tests/stacks/mini for a declared 5 s window, then rollback. Chaos Toolkit (`chaostoolkit` and
`chaostoolkit-toxiproxy` from PyPI, in a virtual environment of its own: bench/.ctk-venv) probes
front over HTTP before and after, as its steady-state hypothesis; chaosgate runs the experiment
with `--attach` on the stack `chaosgate stack up` started (a 1 s baseline, the 5 s fault phase).

Printed, per tool: wall time beyond the declared window(s), injection latency (the tool's own
"now injecting" timestamp to the toxic appearing on toxiproxy's API, which a poller reads every
5 ms), rollback latency (end of the declared window to the toxic gone), and what is left on
toxiproxy after SIGTERM and after SIGKILL mid-fault. Then start-up: `chaos --version` against
`chaosgate --version` and `chaosgate validate` of the incident experiment.

    .venv/bin/python bench/ctk_compare.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "stacks" / "mini" / "docker-compose.yml"
CTK_VENV = ROOT / "bench" / ".ctk-venv"
CTK_PACKAGES = ["chaostoolkit==1.19.0", "chaostoolkit-toxiproxy==0.3.1"]
WINDOW_S, LATENCY_MS, PROXY = 5.0, 100, "front->echo"
#: Bound on any one command of the bench.
COMMAND_S = 180


def mini_stack_up(prefix: str) -> tuple[Path, Path]:
    """chaosgate compiled to bytecode, and the mini stack up: (a fresh folder, its --out folder)."""
    # Chaos Toolkit's modules were compiled to bytecode when pip installed them; chaosgate's editable
    # install compiles on first import, or on every start where PYTHONDONTWRITEBYTECODE is set.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "chaos")], check=True, timeout=COMMAND_S)
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    out = folder / "reports"
    up = chaosgate("stack", "up", "-f", str(MINI), "--out", str(out))
    if up.returncode != 0:
        raise SystemExit(f"the mini stack did not start:\n{up.stderr}")
    return folder, out


def ctk_bin(name: str) -> Path:
    return CTK_VENV / "bin" / name


def ensure_ctk() -> None:
    """Chaos Toolkit in its own virtual environment (created once, from PyPI)."""
    if ctk_bin("chaos").exists():
        return
    print(f"installing {' '.join(CTK_PACKAGES)} into {CTK_VENV} …", flush=True)
    venv.create(CTK_VENV, with_pip=True)
    subprocess.run([str(ctk_bin("pip")), "install", "-q", *CTK_PACKAGES], check=True, timeout=600)


class Poller:
    """Watches the proxy's toxics every 5 ms: when ours appeared and when it went."""

    def __init__(self, url: str):
        self.url, self.http = f"{url}/proxies/{PROXY}/toxics", requests.Session()
        self.appeared: float | None = None
        self.gone: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                present = bool(self.http.get(self.url, timeout=1).json())
            except (requests.RequestException, ValueError):
                present = False
            now = time.time()
            if present and self.appeared is None:
                self.appeared = now
            if not present and self.appeared is not None and self.gone is None:
                self.gone = now
            time.sleep(0.005)


def toxics(url: str) -> list[str]:
    return [t["name"] for t in requests.get(f"{url}/proxies/{PROXY}/toxics", timeout=5).json()]


def clear(url: str) -> None:
    for name in toxics(url):
        requests.delete(f"{url}/proxies/{PROXY}/toxics/{name}", timeout=5)


def ctk_experiment(folder: Path, toxiproxy_url: str, front_port: int) -> Path:
    probe = {"type": "probe", "name": "front-answers", "tolerance": 200,
             "provider": {"type": "http", "url": f"http://127.0.0.1:{front_port}/via-echo", "timeout": 5}}
    exp = {
        "version": "1.0.0", "title": "latency on front->echo",
        "description": "The same experiment as chaosgate's: 100 ms on front->echo for 5 s, then rollback.",
        "configuration": {"toxiproxy_url": toxiproxy_url},
        "steady-state-hypothesis": {"title": "front answers through echo", "probes": [probe]},
        "method": [{"type": "action", "name": "add-latency",
                    "provider": {"type": "python", "module": "chaostoxi.toxic.actions", "func": "create_latency_toxic",
                                 "arguments": {"for_proxy": PROXY, "toxic_name": "ctk-latency",
                                               "latency": LATENCY_MS, "jitter": 0}},
                    "pauses": {"after": WINDOW_S}}],
        "rollbacks": [{"type": "action", "name": "remove-latency",
                       "provider": {"type": "python", "module": "chaostoxi.toxic.actions", "func": "delete_toxic",
                                    "arguments": {"for_proxy": PROXY, "toxic_name": "ctk-latency"}}}],
    }
    path = folder / "ctk-experiment.json"
    path.write_text(json.dumps(exp, indent=2))
    return path


def chaosgate_experiment(folder: Path) -> Path:
    path = folder / "chaosgate-experiment.yaml"
    path.write_text(f"""name: bench-latency
stack: {MINI}
phases: {{baseline: 1s, fault: {WINDOW_S:g}s}}
deadline: 2m
faults:
  - {{type: network.latency, link: front -> echo, latency_ms: {LATENCY_MS}}}
surfaces:
  echo:
    services: [echo]
    slis:
      processes: {{kind: gauge, source: "echo:process", metric: process_count, agg: min, better: higher}}
""")
    return path


def _iso(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def run_ctk(exp: Path, folder: Path, url: str) -> dict:
    journal = folder / "journal.json"
    with Poller(url) as poll:
        t0 = time.monotonic()
        subprocess.run([str(ctk_bin("chaos")), "--no-version-check", "run", "--journal-path", str(journal), str(exp)],
                       cwd=folder, capture_output=True, timeout=COMMAND_S)
        wall = time.monotonic() - t0
        time.sleep(0.05)
    run = json.loads(journal.read_text())
    action = next(a for a in run["run"] if a["activity"]["name"] == "add-latency")
    window_end = _iso(action["end"]) + WINDOW_S
    return {"wall_beyond": wall - WINDOW_S, "inject": poll.appeared - _iso(action["start"]),
            "rollback": poll.gone - window_end if poll.gone else None, "status": run["status"]}


def chaosgate(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chaos", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=COMMAND_S, **kw)


def run_chaosgate(exp: Path, out: Path, url: str) -> dict:
    with Poller(url) as poll:
        t0 = time.monotonic()
        res = chaosgate("run", str(exp), "--attach", "--out", str(out))
        wall = time.monotonic() - t0
        time.sleep(0.05)
    run_dir = Path(next(line for line in res.stdout.splitlines() if line.startswith("run directory: "))[15:])
    result = json.loads((run_dir / "result.json").read_text())
    fault = result["phases"]["fault"]
    return {"wall_beyond": wall - 1.0 - WINDOW_S, "inject": poll.appeared - result["faults"][0]["injected_at"],
            "rollback": poll.gone - fault[1] if poll.gone else None, "status": result["status"]}


def interrupted(argv: list[str], url: str, sig: int, cwd: Path) -> list[str]:
    """Start a tool, signal it once the toxic is in place, and list what is left on the proxy."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not toxics(url) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    time.sleep(0.5)
    return toxics(url)


def median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known) * 1000:8.0f} ms" if known else "       - "


def startup(repeats: int) -> None:
    commands = {
        "Chaos Toolkit: chaos --version": [str(ctk_bin("chaos")), "--no-version-check", "--version"],
        "chaosgate --version": [sys.executable, "-m", "chaos", "--version"],
        "chaosgate validate (incident experiment)": [sys.executable, "-m", "chaos", "validate",
                                                     "experiments/incident-2026-02/telemetry-release-hang.yaml"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):  # interleaved, so drift hits every command alike
        for name, argv in commands.items():
            t0 = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=60, check=True)
            times[name].append(time.perf_counter() - t0)
    print(f"\nstart-up, median of {repeats} (interleaved):")
    for name, ts in times.items():
        print(f"  {name:42} {statistics.median(ts):6.3f} s   (min {min(ts):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ensure_ctk()
    folder, out = mini_stack_up("chaosgate-ctk-")
    try:
        state = json.loads(next(out.glob("stacks/*/stack.json")).read_text())
        url = state["toxiproxy_url"]
        ctk_exp = ctk_experiment(folder, url, state["services"]["front"]["ports"]["8000"])
        cg_exp = chaosgate_experiment(folder)
        rows: dict[str, list[dict]] = {"Chaos Toolkit": [], "chaosgate": []}
        for _ in range(args.repeats):  # interleaved
            rows["Chaos Toolkit"].append(run_ctk(ctk_exp, folder, url))
            clear(url)
            rows["chaosgate"].append(run_chaosgate(cg_exp, out, url))
            clear(url)
        print(f"same running mini stack, {LATENCY_MS} ms latency on {PROXY} for a declared {WINDOW_S:g} s, "
              f"median of {args.repeats} interleaved runs each")
        print(f"  {'tool':14} {'beyond windows':>14} {'injection':>11} {'rollback':>11}   statuses")
        for tool, rs in rows.items():
            print(f"  {tool:14} {median([r['wall_beyond'] for r in rs]):>14} {median([r['inject'] for r in rs]):>11} "
                  f"{median([r['rollback'] for r in rs]):>11}   {', '.join(sorted({r['status'] for r in rs}))}")
        print("\nleft on toxiproxy after a signal mid-fault (toxics on the link):")
        ctk_argv = [str(ctk_bin("chaos")), "--no-version-check", "run", str(ctk_exp)]
        cg_argv = [sys.executable, "-m", "chaos", "run", str(cg_exp), "--attach", "--out", str(out)]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left_ctk = interrupted(ctk_argv, url, sig, folder)
            clear(url)
            left_cg = interrupted(cg_argv, url, sig, ROOT)
            after = ""
            if sig == signal.SIGKILL:
                chaosgate("rollback", "--out", str(out))
                after = f"; after `chaosgate rollback`: {toxics(url) or 'nothing'}"
            clear(url)
            print(f"  {sig.name:8} Chaos Toolkit: {left_ctk or 'nothing'}   chaosgate: {left_cg or 'nothing'}{after}")
        startup(max(args.repeats, 7))
    finally:
        chaosgate("stack", "down", "-f", str(MINI), "--out", str(out))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

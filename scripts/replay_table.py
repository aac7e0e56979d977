"""The incident replay table: run the incident suite under each configuration and write, into the
README, how often each symptom of the February 2026 write-up appeared.

Every cell is measured: a count with its denominator, summed over the suite's runs of that
configuration, read from each run's timeline from the fault's start to the run's end (the
symptoms of a stuck release — a late sweep, runs canceled after the queue timeout — show when
the damage drains, right after rollback, not only while the release is deployed).

    .venv/bin/python scripts/replay_table.py                 # the whole table (~25 min)
    .venv/bin/python scripts/replay_table.py --config rc2 --no-readme
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from chaos.gate.policy import load_policy
from chaos.measure.metrics.timeline import Timeline
from chaos.measure.result import load_result
from chaos.measure.sli import evaluate

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "gates" / "pre-promotion.yaml"
README = ROOT / "docs" / "incident-replay.md"  # the page that holds the replay table
START, END = "<!-- replay-table:start -->", "<!-- replay-table:end -->"
#: Seconds beyond an experiment's own deadline before its `chaosgate run` is killed.
RUN_MARGIN_S = 60


class Config(BaseModel):
    """A column: the gate's variables for one way of shipping the release."""

    key: str
    title: str
    variables: dict[str, str]


class Symptom(BaseModel):
    """A row: a symptom of the write-up and the SLI that counts it."""

    title: str
    sli: str                 # surface.sli, a ratio
    counts: str              # "bad" when the ratio is the symptom's share, "good" when it is its complement
    unit: str


CONFIGS = [
    Config(key="rc1", title="rc1 as shipped", variables={"TELEMETRY_RELEASE": "1.5.0-rc1", "TELEMETRY_TIMEOUT_S": "0"}),
    Config(key="rc1-timeout", title="rc1 + telemetry timeout",
           variables={"TELEMETRY_RELEASE": "1.5.0-rc1", "TELEMETRY_TIMEOUT_S": "1"}),
    Config(key="rc1-isolation", title="rc1 + workload isolation",
           variables={"TELEMETRY_RELEASE": "1.5.0-rc1", "TELEMETRY_TIMEOUT_S": "0", "OVERFLOW_TO_SHARED": "false"}),
    Config(key="rollback", title="rolled back to 1.4.2", variables={"TELEMETRY_RELEASE": "1.4.2", "TELEMETRY_TIMEOUT_S": "0"}),
    Config(key="rc2", title="rc2", variables={"TELEMETRY_RELEASE": "1.5.0-rc2", "TELEMETRY_TIMEOUT_S": "0"}),
]

SYMPTOMS = [
    Symptom(title="runs fail with `Internal error` before any step", sli="runs.internal_error_share",
            counts="bad", unit="runs"),
    Symptom(title="runs fail with `Error retrieving publications`", sli="runs.publications_error_share",
            counts="bad", unit="runs"),
    Symptom(title="runs canceled after the queue timeout", sli="runs.queue_timeout_share", counts="bad", unit="runs"),
    Symptom(title="runs start late (> 1 s, 40% of the queue timeout)", sli="runs.on_time_start_ratio",
            counts="good", unit="started runs"),
    Symptom(title="system cancellations late (sweep > 2 s late)", sli="housekeeping.on_time_ratio",
            counts="good", unit="sweeps"),
    Symptom(title="Studio launches fail", sli="studio.launch_success_ratio", counts="good", unit="launches"),
]


class Cell(BaseModel):
    """A symptom's count and denominator over a configuration's runs."""

    count: int = 0
    total: int = 0
    unread: int = 0          # runs in which the SLI could not be read


class Column(BaseModel):
    """A configuration's runs and their cells."""

    config: Config
    runs: list[str] = []
    problems: list[str] = []
    cells: dict[str, Cell] = {}
    sources: dict[str, dict[str, int]] = {}   # symptom -> experiment -> count it contributed


def run_config(config: Config, out: Path, only: list[str] | None, stored: bool) -> Column:
    """Run every experiment of the suite under one configuration (or, `stored`, read the runs
    already in its folder); count each symptom."""
    policy = load_policy(POLICY, candidate=config.variables, only=only)
    col = Column(config=config, cells={s.sli: Cell() for s in SYMPTOMS})
    folder = out / config.key
    for planned in policy.experiments:
        if stored:
            found = [d for d in sorted((folder / "runs").glob(f"*-{planned.name}-*")) if (d / "result.json").exists()]
            if not found:
                col.problems.append(f"{planned.name}: no stored run under {folder}")
                continue
            count(col, planned, found[-1])
            continue
        sets = [f"--set={k}={v}" for k, v in sorted(planned.candidate_vars.items())]
        before = set((folder / "runs").glob("*")) if (folder / "runs").exists() else set()
        print(f"[replay] {config.title}: {planned.name} ({' '.join(s[6:] for s in sets)})", flush=True)
        try:
            proc = subprocess.run([sys.executable, "-m", "chaos", "run", str(planned.path), *sets, "--out", str(folder)],
                                  capture_output=True, text=True,
                                  timeout=planned.candidate.spec.deadline + RUN_MARGIN_S)
        except subprocess.TimeoutExpired:
            col.problems.append(f"{planned.name}: no result within its deadline")
            continue
        new = sorted(set((folder / "runs").glob("*")) - before)
        if not new:
            col.problems.append(f"{planned.name}: exit {proc.returncode}, no run directory: {proc.stderr.strip()[-300:]}")
            continue
        count(col, planned, new[-1])
    return col


def count(col: Column, planned, run_dir: Path) -> None:
    """Add one run's symptoms (from its fault's start to its end) to the column."""
    exp = planned.candidate
    result = load_result(run_dir)
    col.runs.append(str(run_dir))
    if result.status != "completed":
        col.problems.append(f"{planned.name}: {result.status} ({result.reason})")
    fault = result.phases.get("fault")
    if fault is None:
        col.problems.append(f"{planned.name}: never reached its fault phase")
        return
    t0, t1 = fault[0], max(t for _, t in result.phases.values())
    tl = Timeline(run_dir)
    for s in SYMPTOMS:
        surface_name, _, sli_name = s.sli.partition(".")
        surface = exp.surfaces[surface_name]
        sli = surface.slis[sli_name]
        v = evaluate(tl, sli, sli.source or surface.services[0], t0, t1)
        cell = col.cells[s.sli]
        if v.value is None:
            cell.unread += v.missing != "no events in the window"
            continue
        good = round(v.value * v.n)
        n = good if s.counts == "bad" else round(v.n) - good
        cell.count += n
        cell.total += round(v.n)
        if n:
            col.sources.setdefault(s.sli, {})[planned.name] = n


def render(columns: list[Column], command: str, took_s: float | None) -> str:
    """The Markdown table, with how it was produced and where its counts came from."""
    head = "| symptom | " + " | ".join(c.config.title for c in columns) + " |"
    rows = [head, "|---" * (len(columns) + 1) + "|"]
    for s in SYMPTOMS:
        cells = []
        for c in columns:
            cell = c.cells[s.sli]
            text = f"**{cell.count}** / {cell.total} {s.unit}" if cell.count else f"0 / {cell.total} {s.unit}"
            cells.append(text + (f" ({cell.unread} unread)" if cell.unread else ""))
        rows.append(f"| {s.title} | " + " | ".join(cells) + " |")
    runs = sum(len(c.runs) for c in columns)
    how = (f"in {took_s / 60:.0f} min" if took_s is not None else "counted again from its stored runs")
    notes = [f"Measured {time.strftime('%Y-%m-%d')} by `{command}` ({how}): {runs} runs, the suite's "
             f"{len(columns[0].runs) if columns else 0} experiments under each configuration, each run "
             "counted from its fault's start to its end."]
    for c in columns:
        notes += [f"{c.config.title}: {p}." for p in c.problems]
    for c in columns:
        exps = sorted({e for per in c.sources.values() for e in per})
        if len(exps) == 1:
            notes.append(f"{c.config.title}: every count comes from `{exps[0]}`.")
        elif exps:
            notes.append(f"{c.config.title}, by experiment: " + "; ".join(
                f"{s.title.split(' (')[0]}: " + ", ".join(f"`{e}` {n}" for e, n in c.sources[s.sli].items())
                for s in SYMPTOMS if s.sli in c.sources) + ".")
    return "\n".join(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def write_readme(table: str, readme: Path) -> None:
    """Replace the text between the README's replay-table markers."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: no {START} … {END} markers to write the table between")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{table}{END}", text, flags=re.S)
    readme.write_text(new)


def main(argv: list[str] | None = None) -> int:
    """Run the suite per configuration; print the table and write it into the README."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", choices=[c.key for c in CONFIGS],
                        help="only these configurations (repeatable; default all)")
    parser.add_argument("--only", action="append", metavar="NAME", help="only these experiments (globs)")
    parser.add_argument("--out", default=str(ROOT / "reports" / "replay"), help="folder for the runs")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    parser.add_argument("--stored", action="store_true",
                        help="count the runs already under --out (one per experiment and configuration) again")
    args = parser.parse_args(argv)
    configs = [c for c in CONFIGS if not args.config or c.key in args.config]
    started = time.monotonic()
    columns = [run_config(c, Path(args.out), args.only, args.stored) for c in configs]
    command = "python scripts/replay_table.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    table = render(columns, command, None if args.stored else time.monotonic() - started)
    print(table)
    if not args.no_readme:
        write_readme(table, README)
        print(f"[replay] table written into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

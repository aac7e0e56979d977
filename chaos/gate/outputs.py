"""What a gate leaves for a pipeline: verdict.json, junit.xml, summary.md (and $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from chaos.gate.verdict import CriterionVerdict, GateVerdict

VERDICT_FILE = "verdict.json"
JUNIT_FILE = "junit.xml"
SUMMARY_FILE = "summary.md"
MEANING = {
    "PASS": "the candidate may be promoted",
    "WARN": "the candidate may be promoted, with warnings to read",
    "FAIL": "the candidate must not be promoted",
    "INCONCLUSIVE": "chaosgate could not tell, so the candidate is not promoted",
}


def write_outputs(v: GateVerdict, gate_dir: Path) -> None:
    """Write every output of a verdict into the gate directory."""
    (gate_dir / VERDICT_FILE).write_text(v.model_dump_json(indent=2))
    (gate_dir / JUNIT_FILE).write_text(junit(v))
    md = summary(v)
    (gate_dir / SUMMARY_FILE).write_text(md)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(md + "\n")


def _number(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _effect(c: CriterionVerdict) -> str:
    if c.effect is None:
        return "-"
    # JSON has no infinity: an interval end stored unbounded (a quantile in +Inf) is read back as null.
    low = "-inf" if c.low is None else f"{c.low:.4g}"
    high = "inf" if c.high is None else f"{c.high:.4g}"
    return f"{c.effect:+.4g} [{low}, {high}]"


def _sees(c: CriterionVerdict) -> str:
    """The worsening this comparison would catch: beside the allowed change, it says whether the
    gate can see a change of the size the policy cares about."""
    if c.detectable is None:
        return "-"
    return f"{c.detectable:.4g} or more"


def junit(v: GateVerdict) -> str:
    """A testsuite per experiment, a testcase per criterion; failures and errors carry the reason."""
    suites = ET.Element("testsuites", name=f"chaosgate gate {v.policy}")
    by_exp: dict[str, list[CriterionVerdict]] = {}
    for c in v.criteria:
        by_exp.setdefault(c.experiment, []).append(c)
    for exp, cases in by_exp.items():
        suite = ET.SubElement(suites, "testsuite", name=exp, tests=str(len(cases)),
                              failures=str(sum(c.verdict == "FAIL" for c in cases)),
                              errors=str(sum(c.verdict == "INCONCLUSIVE" for c in cases)), skipped="0")
        for c in cases:
            case = ET.SubElement(suite, "testcase", classname=f"{v.policy}.{exp}", name=c.criterion)
            text = f"{c.rule}: {c.reason}"
            if c.verdict == "FAIL":
                ET.SubElement(case, "failure", message=c.reason, type="FAIL").text = text
            elif c.verdict == "INCONCLUSIVE":
                ET.SubElement(case, "error", message=c.reason, type="INCONCLUSIVE").text = text
            props = ET.SubElement(case, "properties")
            for key in ("verdict", "critical", "sli", "phase", "candidate", "baseline", "effect", "low", "high",
                        "allowed", "method"):
                value = getattr(c, key)
                if value is not None:
                    ET.SubElement(props, "property", name=key, value=str(value))
            if c.waiver:
                ET.SubElement(props, "property", name="waiver",
                              value=f"{c.waiver.owner}: {c.waiver.reason} (until {c.waiver.expires})")
            ET.SubElement(case, "system-out").text = text
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def summary(v: GateVerdict) -> str:
    """Markdown for a pull request or a pipeline's summary page."""
    cand = ", ".join(f"{k}={val}" for k, val in v.candidate.items()) or "(experiment defaults)"
    base = ", ".join(f"{k}={val}" for k, val in v.baseline.items()) or "(experiment defaults)"
    lines = [f"## chaosgate gate `{v.policy}`: **{v.verdict}** (exit {v.exit_code})", "",
             f"{MEANING[v.verdict]}. Candidate {cand} against baseline {base}.", ""]
    lead, folded = v.split_reasons()
    if lead:
        lines += ["### Why", ""] + [f"- {r}" for r in lead] + [""]
    if folded:
        lines += [f"<details><summary>{len(folded)} more: not judged, the gate stopped early</summary>", ""]
        lines += [f"- {r}" for r in folded] + ["", "</details>", ""]
    lines += ["### Criteria", "",
              "| criterion | experiment | verdict | candidate | baseline | worse by [interval] | allowed "
              "| sees (80 % power) | rule |",
              "|---|---|---|---|---|---|---|---|---|"]
    for c in v.criteria:
        name = c.criterion + (" (critical)" if c.critical else "")
        verdict = c.verdict + (f" (waived {c.waiver.was})" if c.waiver else "")
        lines.append(f"| {_md(name)} | {_md(c.experiment)} | {verdict} | {_number(c.candidate)} | "
                     f"{_number(c.baseline)} | {_effect(c)} | {_number(c.allowed) if c.allowed is not None else _md(c.threshold or '-')} "
                     f"| {_sees(c)} | {_md(c.rule)} |")
    lines += ["", f"Statistics: {v.correction}."]
    if v.stopped_early:
        lines.append(f"Stopped early: {_md(v.stopped_early)}.")
    for w in v.waivers:
        lines.append(f"Waiver used: {_md(w.criterion)} [{_md(w.experiment)}] by {_md(w.owner)} until {w.expires}: "
                     f"{_md(w.reason)}")
    for warning in v.warnings:
        lines.append(f"Warning: {_md(warning)}")
    if v.wall_s is not None:
        lines.append(f"Wall time {v.wall_s:.0f} s for {v.declared_s:.0f} s of declared phases "
                     f"(stack reuse {'on' if v.stack_reuse else 'off'}).")
    lines += ["", "Runs:", ""] + [f"- {r.experiment} {r.side} {r.repeat + 1}: {r.status or 'not run'} "
                                  f"{'(stopped by fail-fast) ' if r.stopped_by_gate else ''}"
                                  f"{'(unsteady baseline, run again) ' if r.retried else ''}{r.run_dir or ''}"
                                  for r in v.runs]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Table-safe text: pipes and newlines would break the row; angle brackets would become HTML."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")

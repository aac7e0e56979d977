"""`chaosgate import chaostoolkit`: a Chaos Toolkit experiment (JSON or YAML) as a chaosgate one.

Translated: the title and description; steady-state HTTP probes with their tolerances (a status,
a list of statuses, or none) become a locust profile written beside the output — one task per
probe, a response outside the tolerance counts as a failure — and a `probes` surface whose
failure ratio the steady state bounds; toxiproxy actions of chaostoolkit-toxiproxy (toxics of
every type, disabled proxies) become network faults on the stack's links, the proxy name read as
a link name (`service->dependency`); `pauses` set when each fault starts and how long the fault
phase lasts; rollbacks that undo those actions are implicit (chaosgate rolls every fault back).
Everything else is listed with its path in the source, and the output validates against the
stack given with --stack.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, Field

from chaos.errors import InputError
from chaos.util.yamlsource import load_yaml, read_text

#: chaostoolkit-toxiproxy's toxic functions -> (chaosgate fault type, {their argument: ours}).
TOXICS: dict[str, tuple[str, dict[str, str]]] = {
    "create_latency_toxic": ("network.latency", {"latency": "latency_ms", "jitter": "jitter_ms"}),
    "create_timeout_toxic": ("network.timeout", {"timeout": "timeout_ms"}),
    "create_bandwith_degradation_toxic": ("network.bandwidth", {"rate": "rate_kbps"}),
    "create_slow_connection_close_toxic": ("network.slow_close", {"delay": "delay_ms"}),
    "create_slicer_toxic": ("network.slicer", {"average_size": "average_size", "size_variation": "size_variation",
                                               "delay": "delay_us"}),
    "create_limiter_toxic": ("network.limit_data", {"bytes": "bytes"}),
}
#: Toxiproxy's toxic types (create_toxic's toxic_type) -> (fault type, {attribute: ours}).
TOXIC_TYPES = {"latency": TOXICS["create_latency_toxic"], "timeout": TOXICS["create_timeout_toxic"],
               "bandwidth": TOXICS["create_bandwith_degradation_toxic"],
               "slow_close": TOXICS["create_slow_connection_close_toxic"], "slicer": TOXICS["create_slicer_toxic"],
               "limit_data": TOXICS["create_limiter_toxic"], "reset_peer": ("network.reset_peer", {})}
#: Rollback functions that only undo what chaosgate undoes by itself.
IMPLICIT_UNDO = {"delete_toxic", "enable_proxy", "reset"}
TOXI_MODULES = ("chaostoxi.toxic.actions", "chaostoxi.proxy.actions", "toxiproxy.toxic.actions",
                "toxiproxy.proxy.actions")


class Skipped(BaseModel):
    """Something of the source that has no chaosgate translation, and why."""

    path: str
    what: str
    why: str


class Translation(BaseModel):
    """The experiment, the locust profile (if any probe), and what was left behind."""

    experiment: dict[str, Any]
    profile: str | None = None
    skipped: list[Skipped] = Field(default_factory=list)
    implicit: list[str] = Field(default_factory=list)


def read_source(path: Path) -> dict:
    """A Chaos Toolkit experiment file, JSON or YAML, read within chaosgate's bounds on input."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(read_text(path))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"invalid JSON: {exc.msg}", exc.lineno) from None
    else:
        data = load_yaml(path).data
    if not isinstance(data, dict) or not isinstance(data.get("method"), list):
        raise InputError(path, "not a Chaos Toolkit experiment (a mapping with a `method` list)", 1)
    return data


def _slug(title: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", title.strip()).strip("-.").lower()
    return (slug or "imported")[:60]


def _seconds(pauses: Any, key: str) -> float:
    try:
        return float((pauses or {}).get(key, 0) or 0)
    except (TypeError, ValueError, AttributeError):
        return 0.0


def translate(src: dict, stack: str, links: list[str], target: str | None) -> Translation:
    """The translation of one experiment for a stack whose links are named `links`."""
    t = Translation(experiment={})
    exp = t.experiment
    exp["name"] = _slug(str(src.get("title", "imported")))
    exp["description"] = str(src.get("description") or src.get("title") or "")
    exp["stack"] = stack
    faults, at = [], 0.0
    for i, act in enumerate(src.get("method") or []):
        where = f"method[{i}]"
        at += _seconds(act.get("pauses"), "before")
        fault = _fault(act, where, links, t)
        if fault is not None:
            if at:
                fault["start"] = f"{at:g}s"
            faults.append(fault)
        at += _seconds(act.get("pauses"), "after")
    for i, act in enumerate(src.get("rollbacks") or []):
        func = (act.get("provider") or {}).get("func") if isinstance(act, dict) else None
        if func in IMPLICIT_UNDO:
            t.implicit.append(f"rollbacks[{i}] ({func}): chaosgate rolls every fault back by itself")
        else:
            t.skipped.append(Skipped(path=f"rollbacks[{i}]", what=_describe(act),
                                     why="a rollback of something chaosgate did not translate"))
    exp["phases"] = {"warmup": "5s", "baseline": "10s", "fault": f"{max(at, 10.0):g}s", "recovery": "10s"}
    exp["deadline"] = f"{max(at, 10.0) + 155:g}s"
    exp["faults"] = faults
    probes = _probes(src, t)
    if probes:
        if not target:
            t.skipped += [Skipped(path=p["path"], what=p["url"], why="an HTTP probe needs --target SERVICE: the "
                                  "service of the stack its URL stands for") for p in probes]
        else:
            t.profile = _profile(probes)
            exp["load"] = {"profile": "PROFILE", "target": target, "users": 2, "spawn_rate": 10}
            exp["steady_state"] = [{"sli": "probes.failure_ratio", "max": 0.0}]
            exp["surfaces"] = {"probes": {
                "description": "the source's steady-state probes, as continuous traffic",
                "services": [target],
                "slis": {"failure_ratio": {"kind": "ratio", "source": "load", "good": "locust_failures_total",
                                           "total": "locust_requests_total", "better": "lower",
                                           "tolerance": 0.01}}}}
    if "surfaces" not in exp:
        t.skipped.append(Skipped(path="steady-state-hypothesis", what="(none translated)",
                                 why="chaosgate measures SLIs: add surfaces for the stack by hand"))
        exp["surfaces"] = {}
    exp["expected_radius"] = []
    return t


def _mapping(value: Any) -> dict[str, Any]:
    """A mapping from a user's file, or an empty one when it is something else (listed as skipped)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """A name from a user's file, or "" (matching no table) when it is not a string."""
    return value if isinstance(value, str) else ""


def _describe(act: Any) -> str:
    if not isinstance(act, dict):
        return repr(act)[:80]
    if "ref" in act:
        return f"ref {act['ref']}"
    prov = _mapping(act.get("provider"))
    kind = prov.get("type", "?")
    detail = {"python": f"{prov.get('module')}.{prov.get('func')}", "process": str(prov.get("path")),
              "http": str(prov.get("url"))}.get(kind, "")
    return f"{act.get('type', '?')} {act.get('name', '')!r} ({kind} {detail})".strip()


def _fault(act: Any, where: str, links: list[str], t: Translation) -> dict | None:
    prov = _mapping(act.get("provider")) if isinstance(act, dict) else {}
    if not isinstance(act, dict) or prov.get("type") != "python" or prov.get("module") not in TOXI_MODULES:
        why = ("a probe during the method: chaosgate measures SLIs all along instead"
               if isinstance(act, dict) and act.get("type") == "probe" else "no chaosgate equivalent")
        t.skipped.append(Skipped(path=where, what=_describe(act), why=why))
        return None
    # "" when absent: no table below has it as a key, as none has None.
    func, args = _text(prov.get("func")), _mapping(prov.get("arguments"))
    proxy = args.get("for_proxy") or args.get("proxy_name")
    if proxy not in links:
        t.skipped.append(Skipped(path=where, what=_describe(act),
                                 why=f"proxy {proxy!r} is not a link of the stack (links: {', '.join(links)})"))
        return None
    if func == "disable_proxy":
        return {"type": "network.down", "link": proxy}
    if func == "create_toxic":
        mapping = TOXIC_TYPES.get(_text(args.get("toxic_type")))
        values = _mapping(args.get("attributes"))
    else:
        mapping, values = TOXICS.get(func), args
    if mapping is None:
        t.skipped.append(Skipped(path=where, what=_describe(act), why="no chaosgate equivalent of this function"))
        return None
    fault_type, names = mapping
    fault = {"type": fault_type, "link": proxy}
    fault.update({ours: values[theirs] for theirs, ours in names.items() if theirs in values})
    if args.get("stream") in ("upstream", "downstream"):
        fault["stream"] = args["stream"]
    if "toxicity" in args:
        fault["toxicity"] = args["toxicity"]
    return fault


def _probes(src: dict, t: Translation) -> list[dict]:
    found = []
    for i, probe in enumerate((src.get("steady-state-hypothesis") or {}).get("probes") or []):
        where = f"steady-state-hypothesis.probes[{i}]"
        prov = probe.get("provider") or {} if isinstance(probe, dict) else {}
        if prov.get("type") != "http" or not prov.get("url"):
            t.skipped.append(Skipped(path=where, what=_describe(probe), why="only HTTP probes translate"))
            continue
        tol = probe.get("tolerance", 200)
        if isinstance(tol, int) and not isinstance(tol, bool):
            statuses = [tol]
        elif isinstance(tol, list) and all(isinstance(s, int) for s in tol):
            statuses = tol
        else:
            t.skipped.append(Skipped(path=f"{where}.tolerance", what=json.dumps(tol)[:80],
                                     why="only a status or a list of statuses translates"))
            continue
        url = urlsplit(str(prov["url"]))
        found.append({"path": where, "url": str(prov["url"]), "name": str(probe.get("name", f"probe-{i}")),
                      "method": str(prov.get("method", "GET")).upper(),
                      "target_path": (url.path or "/") + (f"?{url.query}" if url.query else ""),
                      "statuses": statuses})
    return found


def _profile(probes: list[dict]) -> str:
    tasks = "\n".join(f'''
    @task
    def {re.sub(r"[^A-Za-z0-9_]", "_", p["name"])}_{i}(self) -> None:
        with self.client.request({p["method"]!r}, {p["target_path"]!r}, name={p["name"]!r},
                                 catch_response=True) as resp:
            if resp.status_code not in {tuple(p["statuses"])!r}:
                resp.failure(f"status {{resp.status_code}}, tolerance {p["statuses"]!r}")
''' for i, p in enumerate(probes))
    return f'''"""Chaos Toolkit's steady-state probes as continuous traffic (written by chaosgate import)."""

from locust import FastHttpUser, constant_throughput, task


class Prober(FastHttpUser):
    wait_time = constant_throughput(2)
    network_timeout = 5.0
    connection_timeout = 5.0
{tasks}'''


def write(t: Translation, out: Path, source: Path) -> Path | None:
    """Write the experiment (and its profile beside it); the profile's path if one was written."""
    profile = None
    if t.profile is not None:
        profile = out.with_name(out.stem + "_probes.py")
        profile.write_text(t.profile)
        t.experiment["load"]["profile"] = profile.name
    header = [f"# Imported from the Chaos Toolkit experiment {source} by `chaosgate import chaostoolkit`."]
    header += [f"# not translated: {s.path}: {s.what} — {s.why}" for s in t.skipped]
    header += [f"# implicit: {line}" for line in t.implicit]
    out.write_text("\n".join(header) + "\n" + yaml.safe_dump(t.experiment, sort_keys=False, allow_unicode=True))
    return profile


def run_import(source: Path, stack_file: Path, out: Path | None, target: str | None,
               say) -> tuple[Path, Translation]:
    """Translate, write, and check that the output validates against the stack; (output, translation)."""
    import os

    from chaos.spec.experiment import load_experiment
    from chaos.stack import load_stack

    src = read_source(source)
    stack = load_stack(stack_file)
    if target is not None and target not in stack.services:
        raise InputError("--target", f"no service {target!r} in {stack_file} (services: {', '.join(stack.services)})")
    out = out or source.with_name(source.stem + ".chaosgate.yaml")
    links = [stack.link_name(s, link) for s, link in stack.links()]
    t = translate(src, os.path.relpath(stack_file.resolve(), out.resolve().parent), links, target)
    profile = write(t, out, source)
    load_experiment(out)  # the output validates, or the error says where (a bug of the importer)
    for s in t.skipped:
        say(f"not translated: {s.path}: {s.what} — {s.why}")
    for line in t.implicit:
        say(f"implicit: {line}")
    say(f"wrote {out}" + (f" and {profile}" if profile else "") + f": {len(t.experiment['faults'])} fault(s), "
        f"{len(t.skipped)} item(s) not translated (listed above and at the top of the file)")
    return out, t

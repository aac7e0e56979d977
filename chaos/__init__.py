"""chaosgate: chaos experiments that measure blast radius, and a release gate.

The library API, imported lazily so that `import chaos` (and the command's start-up) stays quick:

    import chaos
    result = chaos.run_experiment("experiments/incident-2026-02/telemetry-release-hang.yaml")
    verdict = chaos.run_gate("gates/pre-promotion.yaml", candidate={"TELEMETRY_RELEASE": "1.5.0-rc1"})
    chaos.load_result(result.run_dir).blast_radius, chaos.load_verdict(verdict.gate_dir).verdict

Progress goes to the `chaos` logger; errors are the `chaos.errors` exceptions re-exported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each public name, and the module it lives in.
_EXPORTS = {
    "run_experiment": "chaos.api",
    "run_gate": "chaos.api",
    "load_result": "chaos.api",
    "load_verdict": "chaos.api",
    "load_experiment": "chaos.spec.experiment",
    "load_policy": "chaos.gate.policy",
    "compare": "chaos.gate.stats",
    "RunResult": "chaos.measure.result",
    "GateVerdict": "chaos.gate.verdict",
    "ChaosgateError": "chaos.errors",
    "InputError": "chaos.errors",
    "InputErrors": "chaos.errors",
    "InfraError": "chaos.errors",
    "StackStartError": "chaos.errors",
}

__all__ = ["ChaosgateError", "GateVerdict", "InfraError", "InputError", "InputErrors", "RunResult", "StackStartError",
           "__version__", "compare", "load_experiment", "load_policy", "load_result", "load_verdict", "run_experiment",
           "run_gate"]

if TYPE_CHECKING:
    from chaos.api import load_result, load_verdict, run_experiment, run_gate
    from chaos.errors import ChaosgateError, InfraError, InputError, InputErrors, StackStartError
    from chaos.gate.policy import load_policy
    from chaos.gate.stats import compare
    from chaos.gate.verdict import GateVerdict
    from chaos.measure.result import RunResult
    from chaos.spec.experiment import load_experiment


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chaos' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""The gate's statistics, where the documentation has always named them (`chaos.gate.stats.compare`).

They live in `chaos.measure.stats`, below the gate, because blast radius and observations use
them too; this module keeps the documented import path working.
"""

from chaos.measure.stats import Counts, Decision, Observations, allowed_change, compare
from chaos.measure.trend import compare_trend

__all__ = ["Counts", "Decision", "Observations", "allowed_change", "compare", "compare_trend"]

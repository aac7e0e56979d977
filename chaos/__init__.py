"""chaosgate: chaos experiments that measure blast radius, and a release gate."""

__version__ = "0.1.0"

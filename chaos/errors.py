"""chaosgate's exceptions, and the exit code each one means.

    ChaosgateError            anything chaosgate reports to a user without a traceback (exit 3)
    ├── InputError            a user's file is wrong: file, line, field and what is wrong
    │   └── InputErrors       several InputErrors found in one pass
    ├── FaultError            a fault's targets cannot be resolved, or are gone when it is injected
    │                         (chaos.faults.base; located at the fault's line while validating)
    └── InfraError            a real component could not be had or did not behave
        ├── StackStartError   a service of the stack did not start or become healthy
        ├── WireError         an answer over the network was too slow, too big or not JSON (chaos.util.wire)
        ├── SourceError       a metric source could not be read: missing data, never zeros
        │                     (chaos.measure.metrics.sources)
        └── CgroupError       a cgroup could not be set up or released (chaos.components.cgroups)

Anything else that escapes a run is chaosgate's own bug: the run is failed with "internal error"
and its traceback is kept in engine-error.txt.
"""

from __future__ import annotations

from pathlib import Path

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_INCONCLUSIVE = 2
EXIT_INVALID = 3


class ChaosgateError(Exception):
    """An error chaosgate explains in one message; never shown as a traceback."""

    exit_code = EXIT_INVALID


class InputError(ChaosgateError):
    """A problem in a user's file, located by file, line and field."""

    def __init__(self, file: Path | str, message: str, line: int | None = None, field: str = ""):
        self.file = str(file)
        self.line = line
        self.field = field
        self.message = message
        where = self.file if line is None else f"{self.file}:{line}"
        what = f"{field}: {message}" if field else message
        super().__init__(f"{where}: {what}")


class InputErrors(InputError):
    """Several problems in user input, reported together (every one, not just the first)."""

    def __init__(self, errors: list[InputError]):
        self.errors = errors
        first = errors[0]
        super().__init__(first.file, first.message, first.line, first.field)
        self.args = ("\n".join(str(e) for e in errors),)

    def __str__(self) -> str:
        return self.args[0]


class InfraError(ChaosgateError):
    """A real component (broker, proxy, engine, process) could not be had or misbehaved."""


class StackStartError(InfraError):
    """A service did not start or did not become healthy within its deadline."""

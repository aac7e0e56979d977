"""The `chaosgate` command: argument parsing and printing; the work is in the library below."""

from chaos.cli.main import main

__all__ = ["main"]

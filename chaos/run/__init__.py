"""Carrying out a run: the engine, the fault journal, reconciliation, kept stacks, the dry-run plan."""

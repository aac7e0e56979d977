"""Stacks: read from docker-compose.yml (see compose.py) and described by model.py."""

from chaos.stack.compose import Stack, load_stack

__all__ = ["Stack", "load_stack"]

"""Plumbing every layer may use: bounded I/O, processes, ports, health probes, durations, located YAML."""

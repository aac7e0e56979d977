"""Front ends beyond the command line: the pytest plugin and the Chaos Toolkit import."""

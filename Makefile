# The two commands of the README. Both run scripts/setup first: it installs what is missing.
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test demo clean

setup:
	bash scripts/setup

# Two xdist workers: the run-stack experiments in one lane (see tests/conftest.py), the rest in the other.
test: setup
	$(PY) -m pytest -ra -n 2 --dist loadgroup $(PYTEST_ARGS)

demo: setup
	bash scripts/demo

clean:
	rm -rf reports/stacks reports/runs reports/.active

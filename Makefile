# The two commands of the README. Both run scripts/setup first: it installs what is missing.
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test demo clean

setup:
	bash scripts/setup

test: setup
	$(PY) -m pytest -ra $(PYTEST_ARGS)

demo: setup
	bash scripts/demo

clean:
	rm -rf reports/stacks reports/runs reports/.active

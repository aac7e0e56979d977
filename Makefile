# The two commands of the README. Both run scripts/setup first: it installs what is missing.
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup lint docs unit test demo clean

setup:
	bash scripts/setup

# Style and likely bugs (ruff), types (mypy), and the layers' import contract (import-linter).
lint: setup
	$(VENV)/bin/ruff check chaos tests bench scripts runstack
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# The docs site into build/site; --strict turns a broken link or anchor into a failure.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q

# The fast lane: every test that starts no stack, server or browser (well under a minute).
unit: setup
	$(PY) -m pytest -q -n 2 -m "not integration" $(PYTEST_ARGS)

# Two xdist workers: the run-stack experiments in one lane (see tests/conftest.py), the rest in the other.
test: setup lint docs
	$(PY) -m pytest -ra -n 3 --dist loadgroup $(PYTEST_ARGS)

demo: setup
	bash scripts/demo

clean:
	rm -rf reports/stacks reports/runs reports/.active

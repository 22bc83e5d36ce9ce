# The README's two commands: `make demo` and `make test`. Both work on a fresh machine.
# They first check what they need from the system (scripts/prereqs.sh: as root or with
# password-less sudo it installs what is missing with apt-get, otherwise it stops with one line
# naming it and the command that installs it), then create .venv, install closewatch, and fetch
# the map assets (npm registry) and, for the tests, the Kafka jars (Maven Central) into caches.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export CLOSEWATCH_CACHE ?= $(HOME)/.cache/closewatch
PREREQS := PYTHON=$(PYTHON) scripts/prereqs.sh

.PHONY: venv assets kafka-jars demo test test-fast bench typecheck clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PREREQS) --for "make venv" python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Leaflet and its plugins from the npm registry, served locally by the map pages.
assets: venv
	$(BIN)/closewatch map assets

# Apache Kafka from Maven Central into $(CLOSEWATCH_CACHE)/kafka.
kafka-jars: venv
	$(BIN)/closewatch kafka fetch

# Kafka is optional here: without Java, Maven or Maven Central the demo says so in one line
# and goes on (JSON Lines, map, replay). It fetches the Kafka jars itself when it can.
demo:
	@$(PREREQS) --for "make demo" python npm
	@$(MAKE) --no-print-directory venv assets
	$(BIN)/closewatch demo

# Every test, every marker (CI runs this through .ci/run, as root on a fresh clone).
test:
	@$(PREREQS) --for "make test" python npm chromium java maven
	@$(MAKE) --no-print-directory venv assets kafka-jars
	$(BIN)/mypy
	$(BIN)/python -m pytest

# For daily work: no test marked slow. Still needs the broker (kafka) and Chromium (browser).
test-fast:
	@$(PREREQS) --for "make test-fast" python npm chromium java maven
	@$(MAKE) --no-print-directory venv assets kafka-jars
	$(BIN)/python -m pytest -m "not slow"

bench: venv
	$(BIN)/python -m bench

typecheck: venv
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .closewatch build *.egg-info

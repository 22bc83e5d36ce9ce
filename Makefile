# The README's two commands: `make demo` and `make test`. Both work on a fresh machine:
# they create .venv, install closewatch, fetch Kafka jars and map assets into caches.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export CLOSEWATCH_CACHE ?= $(HOME)/.cache/closewatch

.PHONY: venv assets kafka-jars demo test bench typecheck clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
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

demo: venv assets kafka-jars
	$(BIN)/closewatch demo

test: venv assets kafka-jars typecheck
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python -m bench

typecheck: venv
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .closewatch build *.egg-info

# Every target builds or refreshes .venv from pyproject.toml by itself, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov lives in its own venv: its dependency pins would fight Dagster's.
CHECKOV := .venv-checkov/bin/checkov
export CLICKSTREAM_HOME ?= $(CURDIR)/.clickstream
export DAGSTER_HOME ?= $(CLICKSTREAM_HOME)/dagster

.PHONY: install demo test ui bench lint screenshots clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q --disable-pip-version-check 'checkov==3.3.30'

demo: $(STAMP)
	$(BIN)/clickstream demo

test: $(STAMP) $(CHECKOV)
	$(BIN)/python -m pytest

ui: $(STAMP)
	$(BIN)/python -c "from resources.profile import ensure_dagster_home, warehouse_path; ensure_dagster_home(warehouse_path())"
	# dagster dev may ignore SIGTERM when started in the background; restore default signals so Ctrl-C stops it.
	env --default-signal=TERM,INT $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

screenshots: $(STAMP)
	$(BIN)/python -m tests.screenshots
	CLICKSTREAM_DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/test_dashboard.py -k half_a_year

lint: $(STAMP)
	$(BIN)/ruff check clickstream_assets resources tests benchmarks

clean:
	rm -rf $(VENV) .venv-checkov .clickstream

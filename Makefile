# kpi-workbench. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# JupyterLab: the address it listens on (0.0.0.0 to reach a container from its host) and port.
LAB_IP   ?= 127.0.0.1
LAB_PORT ?= 8888
# jupyter refuses to run as root unless told to: only then is it told (containers run as root)
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c requirements/constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv with pinned dependencies (only when pyproject/constraints change)

report: $(STAMP)  ## render the standard reports on the sample data into reports/
	$(BIN)/kpi report --all

lab: $(STAMP)  ## open the notebooks in JupyterLab (as root too, e.g. in a container)
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=$(LAB_IP) --port=$(LAB_PORT) --no-browser $(LAB_ROOT)

test: $(STAMP)  ## run the whole test suite (unit, doctest, notebooks, browser)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff lint and format check, notebooks stripped
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/nbstripout --verify --extra-keys "metadata.papermill cell.metadata.papermill" notebooks/*.ipynb

sample: $(STAMP)  ## regenerate data/samples with the default scenario
	$(BIN)/kpi sample --out data/samples

lock:  ## refresh requirements/constraints.txt from the current .venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^kpi-workbench' > requirements/constraints.txt

.PHONY: help install report lab test lint sample lock

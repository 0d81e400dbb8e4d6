# One entry point for people and CI. On a fresh machine:
#   make run    install, start Kafka + PostgreSQL, run every service (Ctrl-C stops)
#   make test   install, start Kafka + PostgreSQL (+ Debian's chromium for the browser
#               tests, + promtool from Debian's prometheus package for the alert rules),
#               lint, type-check, run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up run test lint unit down bench browser promtool

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/loyalty up

run: up
	LOYALTY_DEV_MODE=true $(BIN)/loyalty run

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit -q

browser:
	bash deploy/browser.sh install

promtool:
	bash deploy/prometheus.sh install

test: lint up browser promtool
	$(BIN)/pytest

bench: up
	$(BIN)/loyalty bench

down:
	$(BIN)/loyalty down

# Two commands on a fresh machine: `make run` starts the bot, `make test` runs every test.
# Both create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres lint typecheck bench clean browsers screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	@test -f routing.toml || cp routing.example.toml routing.toml
	$(BIN)/python -m bot

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# Debian's chromium for the browser tests (installed with apt-get when run as root).
browsers:
	bash scripts/ensure_chromium.sh

# Refresh docs/screenshots/*.png from a fresh sandbox.
screenshots: $(STAMP) browsers
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Two commands matter: `make lab` (JupyterLab on the guides) and `make test` (every test).
# Both install what they need: the venv at .venv, the Rust build, and later the extension.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.stamp
RUST_SOURCES := $(shell find crates -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock pyproject.toml

.PHONY: lab test setup build test-rust test-python lint notebooks bench clean

# JupyterLab refuses to start as root unless told; containers and CI machines often are root.
lab: build
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS) \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root )

test: build lint test-rust test-python

setup: $(STAMP)

$(STAMP): requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

build: $(VENV)/.built

$(VENV)/.built: $(STAMP) $(RUST_SOURCES)
	$(VENV)/bin/maturin develop --release --quiet
	touch $@

# Style, the layering contracts (pyproject.toml), types, and the native stubs against the module.
lint: build
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/ruff check python tests benchmarks conftest.py
	$(VENV)/bin/ruff format --check python tests benchmarks conftest.py
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m mypy.stubtest workbench._core --mypy-config-file pyproject.toml

test-rust:
	cargo test -p funnel_core --quiet

test-python: build
	$(VENV)/bin/pytest -q

bench: build
	$(PY) benchmarks/bench_funnel.py

clean:
	cargo clean
	rm -rf $(VENV) python/workbench/_core*.so

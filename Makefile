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

lint: $(STAMP)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/ruff check python tests benchmarks

test-rust:
	cargo test -p funnel_core --quiet

test-python: build
	$(VENV)/bin/pytest -q

# Every benchmark of issue 12, each printing its ratios with PASS / FALL SHORT (about 15 minutes
# on a quiet machine; the scale run needs ~10 GB free and writes ~2 GB of logs once).
bench: build
	$(PY) benchmarks/bench_funnel.py
	$(PY) benchmarks/bench_funnel_options.py
	$(PY) benchmarks/bench_audience.py
	$(PY) benchmarks/bench_plan.py
	$(PY) benchmarks/bench_scale.py

clean:
	cargo clean
	rm -rf $(VENV) python/workbench/_core*.so

# Two commands matter: `make lab` (JupyterLab with the gallery open) and `make test` (every test).
# Both install what they need: the venv at .venv, the Rust build, the JupyterLab extension; each
# step is redone only when its inputs changed.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.stamp
RUST_SOURCES := $(shell find crates -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock pyproject.toml

# JupyterLab's root: the user's copies of the guides and new notebooks live here, git-ignored, so
# using the product never changes a tracked file.
WORKDIR := lab
# What the wheel installs besides the package (maturin `data`): the prebuilt extension, the
# notebook library and the server extension's config. Only the config is tracked.
WHEEL_DATA := funnel_workbench.data/data
LABEXT := $(WHEEL_DATA)/share/jupyter/labextensions/funnel-workbench
LIBRARY := $(WHEEL_DATA)/share/jupyter/funnel-workbench/notebooks
SERVER_CONFIG := $(WHEEL_DATA)/etc/jupyter/jupyter_server_config.d/funnel_workbench.json
NOTEBOOK_DIRS := $(wildcard notebooks/guides notebooks/cases)
NOTEBOOKS := $(wildcard $(addsuffix /*.ipynb,$(NOTEBOOK_DIRS)))
EXT_SOURCES := $(wildcard extensions/src/*.ts extensions/style/*) extensions/tsconfig.json extensions/install.json
JLPM := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CURDIR)/$(VENV)/bin/jlpm
# Silences the "Jupyter news" toast, which covers the page (JupyterLab's settings overrides).
OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: lab test setup build extension browser wheel test-rust test-python lint notebooks bench clean

# JupyterLab refuses to start as root unless told; containers and CI machines often are root.
lab: build $(OVERRIDES)
	mkdir -p $(WORKDIR)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(WORKDIR) $(LAB_ARGS) \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root )

test: build browser lint test-rust test-python

setup: $(STAMP)

$(STAMP): requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

# The notebook library is copied afresh (so a removed notebook leaves no stale copy) and installed
# with the native module and the extension, as the wheel installs them.
build: $(VENV)/.built

$(VENV)/.built: $(STAMP) $(RUST_SOURCES) $(LABEXT)/install.json $(SERVER_CONFIG) $(NOTEBOOK_DIRS) $(NOTEBOOKS)
	rm -rf $(LIBRARY)
	for dir in $(NOTEBOOK_DIRS); do \
		mkdir -p $(LIBRARY)/$${dir#notebooks/} && cp $$dir/*.ipynb $(LIBRARY)/$${dir#notebooks/}/; \
	done
	$(VENV)/bin/maturin develop --release --quiet
	touch $@

extension: $(LABEXT)/install.json

extensions/node_modules/.yarn-state.yml: extensions/package.json extensions/yarn.lock extensions/.yarnrc.yml $(STAMP)
	cd extensions && $(JLPM) install
	touch $@

$(LABEXT)/install.json: extensions/node_modules/.yarn-state.yml extensions/package.json $(EXT_SOURCES)
	cd extensions && $(JLPM) build
	cp extensions/install.json $@

$(OVERRIDES): extensions/overrides.json $(STAMP)
	mkdir -p $(@D)
	cp $< $@

# What the browser tests need from the system: Debian's chromium (Playwright cannot download a
# browser here) and a CJK font so Chinese labels render. Cheap to check, so checked every time.
CHROMIUM := /usr/bin/chromium
browser: $(OVERRIDES)
	@missing=""; \
	test -x $(CHROMIUM) || missing="$$missing chromium"; \
	fc-list ':lang=zh' 2>/dev/null | grep -q . || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "The browser tests need:$$missing. Install as root: apt-get install -y$$missing" >&2; \
			exit 1; \
		fi; \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		test -x $(CHROMIUM) || { echo "apt-get installed chromium, but $(CHROMIUM) is missing" >&2; exit 1; }; \
	fi

# The wheel a user installs: native module, package, prebuilt extension, notebooks, server config.
wheel: build
	$(VENV)/bin/maturin build --release --quiet --out dist

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
	rm -rf $(VENV) python/workbench/_core*.so extensions/node_modules extensions/lib \
		extensions/tsconfig.tsbuildinfo $(WHEEL_DATA)/share

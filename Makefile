# framepipe: `make demo` and `make test` set up everything on a fresh Debian bookworm
# machine (system packages, .venv, release build) and are idempotent.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
STAMPS  := .stamps
PLUGIN_DIR := python/framepipe/gst-plugins
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

APT_PACKAGES := pkg-config build-essential python3-venv \
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
	python3-gi python3-gst-1.0 gstreamer1.0-python3-plugin-loader python3-numpy \
	libavfilter-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev \
	libavdevice-dev libclang-dev clang ffmpeg

RUST_SOURCES := Cargo.toml Cargo.lock rustfmt.toml $(shell find crates -name '*.rs' -o -name Cargo.toml -o -name build.rs 2>/dev/null)

export PYO3_PYTHON := $(abspath $(PY))
# build.rs records it, so that gst-launch-1.0 embeds the venv's interpreter.
export FRAMEPIPE_PYTHON := $(abspath $(PY))
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help setup build demo test test-rust test-python bench lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	@if dpkg-query -W -f='$${Status}\n' $(APT_PACKAGES) 2>/dev/null | grep -qv 'install ok installed' \
	    || ! dpkg-query -W $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "Installing system packages (GStreamer 1.22 and plugins)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi
	@touch $@

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMPS)/pip: requirements-dev.txt | $(PY)
	@mkdir -p $(STAMPS)
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

$(STAMPS)/build: $(RUST_SOURCES) pyproject.toml $(STAMPS)/apt $(STAMPS)/pip
	$(VENV)/bin/maturin develop --release --quiet
	cargo build --release --quiet -p gst-plugin-framepipe
	@mkdir -p $(PLUGIN_DIR)
	cp target/release/libgstframepipe.so $(PLUGIN_DIR)/
	@touch $@

setup: $(STAMPS)/build ## install system packages, create .venv and build framepipe (release)

build: setup ## alias of setup

demo: setup ## run the demo: frames from videotestsrc, processed in numpy, encoded to out/demo.mp4
	$(PY) examples/demo.py

test-rust: setup
	cargo build --quiet -p gst-plugin-framepipe  # the loader tests run the debug plugin file
	cargo test --workspace --quiet

test-python: setup
	$(PY) -m pytest -q

test: test-rust test-python ## all tests: cargo test --workspace and pytest

$(STAMPS)/bench: requirements-bench.txt | $(PY)
	$(PY) -m pip install -q -r requirements-bench.txt
	@touch $@

bench: setup $(STAMPS)/bench ## benchmarks against the anchors (PyAV, imageio, gst-python); prints tables
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: setup ## cargo fmt --check, clippy -D warnings, ruff, mypy
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/ruff check python tests bench examples
	$(VENV)/bin/ruff format --check python tests bench examples
	$(VENV)/bin/mypy

clean: ## remove build products and the virtualenv
	rm -rf target $(VENV) $(STAMPS) $(PLUGIN_DIR) python/framepipe/*.so out

# framepipe: `make demo` and `make test` set up everything on a fresh Debian bookworm
# machine (system packages, .venv, release build) and are idempotent.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
# The anchors of bench/video_sampling.py (torch, torchcodec, ...) live apart from the project.
BENCH_VENV := .venv-bench
PY      := $(VENV)/bin/python
STAMPS  := .stamps
PLUGIN_DIR := python/framepipe/gst-plugins
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

APT_PACKAGES := pkg-config build-essential python3-venv \
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
	python3-gi python3-gst-1.0 gstreamer1.0-python3-plugin-loader python3-numpy \
	libavcodec-dev libavformat-dev libavfilter-dev libavutil-dev libswscale-dev libswresample-dev \
	libclang-dev clang ffmpeg

RUST_SOURCES := Cargo.toml Cargo.lock rustfmt.toml $(shell find crates -name '*.rs' -o -name Cargo.toml -o -name build.rs 2>/dev/null)

export PYO3_PYTHON := $(abspath $(PY))
# build.rs records it, so that gst-launch-1.0 embeds the venv's interpreter.
export FRAMEPIPE_PYTHON := $(abspath $(PY))
export VIRTUAL_ENV := $(abspath $(VENV))
# PATH without the venv (also when make runs inside make test, whose PATH has it first).
SYSTEM_PATH := $(subst $(abspath $(VENV))/bin:,,$(PATH))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help setup build demo test test-rust test-python bench imageio-suite soak fuzz lint clean

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
	$(VENV)/bin/maturin develop --release --quiet  # build.rs also puts the gst-launch plugin file in $(PLUGIN_DIR)
	@test -f $(PLUGIN_DIR)/libgstframepipe.so
	@touch $@

setup: $(STAMPS)/build ## install system packages, create .venv and build framepipe (release)

build: setup ## alias of setup

demo: setup ## run the demo: a Python element boxes the ball, fpoverlay draws it -> out/demo.mp4 (+ .jsonl)
	@# With the venv first on PATH, Debian's gst-python plugin (scanned with the system's
	@# plugins) would embed the venv's python3 and print "pygobject initialization failed".
	PATH="$(SYSTEM_PATH)" $(PY) examples/demo.py

test-rust: setup
	cargo build --quiet -p framepipe-gst-loader  # the loader tests run the debug plugin file
	cargo test --workspace --quiet
	@# The fuzz targets over their seed corpus plus 2,000 seeded mutations each, without
	@# libFuzzer (the fuzz crate is a workspace of its own; it shares target/).
	CARGO_TARGET_DIR=$(abspath target) cargo test --quiet --manifest-path fuzz/Cargo.toml --no-default-features

test-python: setup
	G_DEBUG=fatal-criticals $(PY) -m pytest -q

test: test-rust test-python ## all tests: cargo test --workspace and pytest

$(STAMPS)/bench: requirements-bench.txt | $(PY)
	$(PY) -m pip install -q -r requirements-bench.txt
	@touch $@

# torch (PyPI's default CUDA build, ~5 GB: torchcodec links libtorch_cuda) and torchcodec,
# which loads the system's FFmpeg (Debian's ffmpeg package).
$(STAMPS)/anchors: requirements-anchors.txt $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -r requirements-anchors.txt
	@touch $@

bench: setup $(STAMPS)/bench $(STAMPS)/anchors ## benchmarks against the anchors (torchcodec, PyAV, imageio, gst-python, Ray+decord); prints tables
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

imageio-suite: setup ## imageio's test_pyav.py on plugin="framepipe" (IMAGEIO=checkout TEST_IMAGES=checkout)
	@test -n "$(IMAGEIO)" -a -n "$(TEST_IMAGES)" || { echo "usage: make imageio-suite IMAGEIO=<imageio checkout or git dir> TEST_IMAGES=<test_images checkout or git dir>"; exit 2; }
	bash bench/imageio_suite.sh $(IMAGEIO) $(TEST_IMAGES)

soak: setup ## reliability: soak (100k pulls, 2000 files, 1000 writes, 1000 pipelines), shutdown stress, 60 s concurrency
	$(PY) tests/battery/soak.py
	$(PY) tests/battery/stress.py shutdown --cycles 1000 --seed 1
	$(PY) tests/battery/stress.py concurrency --seconds 60

# FUZZ_SECONDS split in half: the cargo-fuzz targets under libFuzzer (built on stable Rust
# with cargo-fuzz's coverage flags, see tests/battery/fuzz_rust.py), then the media harness.
FUZZ_SECONDS ?= 600
fuzz: setup ## reliability: 10 minutes: cargo-fuzz targets (NAL, caps/strides, metadata, filters) + mutated MP4/MKV/WebM/TS/AVI clips
	$(PY) tests/battery/fuzz_rust.py --seconds $$(( $(FUZZ_SECONDS) / 2 )) --out out/fuzz/cargo
	$(PY) tests/battery/fuzz_media.py --seconds $$(( $(FUZZ_SECONDS) / 2 )) --seed 1 --out out/fuzz

lint: setup ## cargo fmt --check, clippy -D warnings, cargo doc -D warnings, ruff (numpy docstrings), mypy, stubtest
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	cargo fmt --check --manifest-path fuzz/Cargo.toml
	CARGO_TARGET_DIR=$(abspath target) cargo clippy --quiet --manifest-path fuzz/Cargo.toml --all-targets --no-default-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
	$(VENV)/bin/ruff check python tests bench examples
	$(VENV)/bin/ruff format --check python tests bench examples
	$(VENV)/bin/mypy
	@# The stub against the built module (what stubtest cannot judge is listed, with reasons).
	$(PY) -m mypy.stubtest framepipe._framepipe --allowlist stubtest_allowlist.txt

clean: ## remove build products and the virtualenv
	rm -rf target $(VENV) $(BENCH_VENV) $(STAMPS) $(PLUGIN_DIR) python/framepipe/*.so out

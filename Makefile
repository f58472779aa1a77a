# lvs-rs: the two commands of the README do all set-up on a fresh Debian 12 machine (as root).
#   make demo   installs what is missing, builds, and shows load balancing working
#   make test   installs what is missing and runs every quality gate and test
SHELL := /bin/bash
CARGO ?= cargo
# Debian packages the build and tests need (installed only when missing).
APT_PACKAGES := build-essential pkg-config

.PHONY: all deps build test lint unit demo bench bench-micro clean

all: build

deps:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust stable (rustup) first" >&2; exit 1; }
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run as root to install)" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true

build: deps
	$(CARGO) build --release --workspace --all-targets

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: deps
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

test: lint unit

demo: deps
	$(CARGO) run --release -q -p lvs-core --example demo

# Forwarding benchmark (root; network namespaces only): lvsd against plain routing and
# nftables DNAT, see bench/run.sh and docs/perf.md. Not part of `make test`.
bench: deps
	bash bench/run.sh

# Micro-benchmarks (criterion): scheduler and connection table.
bench-micro: deps
	$(CARGO) bench -p lvs-core --bench sched
	$(CARGO) bench -p lvs-core --bench conn

clean:
	$(CARGO) clean

# lvs-rs: the two commands of the README do all set-up on a fresh Debian 12 machine (as root).
#   make demo   installs what is missing, builds, and shows load balancing working
#   make test   installs what is missing and runs every quality gate and test
SHELL := /bin/bash
CARGO ?= cargo
# Debian packages the build and tests need (installed only when missing).
# clang-19/llvm-19/libbpf-dev/linux-libc-dev: the BPF programs; bpftool, iproute2, ethtool,
# curl, tcpdump, nftables: the network-namespace tests and the demo lab (nft sets the marks
# of the firewall-mark tests). keepalived: the reference lvs-keepalived is compared with (its
# sample configurations, `keepalived -t`, VRRP peers in the interop tests); its service does
# not start on install (it needs /etc/keepalived/keepalived.conf, which the package does not
# ship) and `deps` disables it. psmisc: `killall`, which a keepalived sample's check scripts
# call. openssl: the SSL_GET checker test (self-signed certificate, s_server as the server).
APT_PACKAGES := build-essential pkg-config clang-19 llvm-19 libbpf-dev linux-libc-dev bpftool \
	iproute2 ethtool curl tcpdump nftables keepalived psmisc openssl

.PHONY: all deps build test lint unit demo demo-failover demo-model bench bench-micro clean

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
	@# The keepalived package must not leave a daemon on the host (Debian's unit starts only
	@# with /etc/keepalived/keepalived.conf, which the package does not ship; stop it anyway).
	@if [ "$$(id -u)" = 0 ] && [ -d /run/systemd/system ]; then \
	  systemctl disable --now keepalived.service >/dev/null 2>&1 || true; fi
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
	@if [ "$$(id -u)" = 0 ]; then mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; fi

build: deps
	$(CARGO) build --release --workspace --all-targets

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Unprivileged tests first (default members), then the privileged ones: BPF_PROG_TEST_RUN
# fixtures and the end-to-end tests in network namespaces (they need the binaries).
unit: deps
	$(CARGO) test --all-targets
	$(CARGO) test --doc
	$(CARGO) build --workspace --bins
	$(CARGO) test -p lvsd -p lvs-dataplane -p lvs-e2e --all-targets
	$(CARGO) test -p lvs-keepalived --test check_netns -- --ignored
	$(CARGO) test -p lvs-keepalived --test sync_group_netns -- --ignored
	$(CARGO) test -p lvs-keepalived --test vsg_netns -- --ignored
	$(CARGO) test -p lvs-keepalived --test smtp_dns_file_netns -- --ignored
	$(CARGO) test -p lvs-keepalived --test vrrp_script_netns -- --ignored

test: lint unit

# The lab: namespaces, lvsd, real servers, one service per forwarding method (needs root);
# then two directors running lvsd and lvs-keepalived (VRRP, sync daemon) and a failover
# that keeps the connections. `make demo-failover` runs the second part alone.
demo: deps
	$(CARGO) build --release --workspace --bins
	BIN=target/release bash scripts/demo.sh
	BIN=target/release bash scripts/demo-failover.sh

demo-failover: deps
	$(CARGO) build --release --workspace --bins
	BIN=target/release bash scripts/demo-failover.sh

# The sans-IO model alone: scheduler spreads and listings, no privileges needed.
demo-model: deps
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

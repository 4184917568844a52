# bgpvpn — set-up and checks. Every target installs what it needs on a fresh Debian 12 host.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Debian packages: tshark (independent decoder used by the tests), the real BGP peers used for
# golden captures and interop tests, and the network tools the tests use.
DEB_PACKAGES := tshark tcpdump gobgpd frr bird2 openbgpd exabgp iproute2 iputils-ping procps python3-venv

.PHONY: all deps debs venv bagpipe-client demo demo-decode test lint typecheck unit bench capture clean

all: test

debs:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to install Debian packages:$$missing" >&2; exit 1; fi; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

BAGPIPE_VENV := $(VENV)/bagpipe
BAGPIPE_VERSION := 25.0.0

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# networking-bagpipe's clients (bagpipe-rest-attach, bagpipe-looking-glass, the agent's REST
# client) in their own venv, for tests/bagpipe (bagpipe-bgp API compatibility).
$(BAGPIPE_VENV)/.installed: | $(VENV)/.installed
	python3 -m venv --clear $(BAGPIPE_VENV)
	$(BAGPIPE_VENV)/bin/pip install -q 'networking-bagpipe==$(BAGPIPE_VERSION)'
	touch $@

bagpipe-client: $(BAGPIPE_VENV)/.installed

deps: debs venv bagpipe-client

# The main job: two bgpvpn hosts and a GoBGP route reflector in network namespaces, VMs in an
# E-VPN and an IP VPN, pings across both and between them (must fail), the looking glass and the
# kernel state, then tear-down. Not as root: the same scenario on loopback, dummy data plane.
demo: deps
	$(PY) scripts/demo.py

# Decode the sample capture shipped in the repo (bgpvpn decode).
demo-decode: venv
	$(VENV)/bin/bgpvpn decode samples/gobgp-frr-evpn-vpn.pcap
	$(VENV)/bin/bgpvpn decode --stats samples/gobgp-frr-evpn-vpn.pcap

lint: venv
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: venv
	$(VENV)/bin/mypy

unit: venv
	$(VENV)/bin/pytest -q

# The whole test suite: lint, strict typing, unit + property + golden + interop tests.
test: deps lint typecheck
	$(VENV)/bin/pytest -q

bench: venv
	$(PY) bench/codec.py

# Re-capture the golden vectors from real BGP implementations (root; network namespaces).
capture: deps
	$(PY) scripts/capture_golden.py --out tests/fixtures/captures

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis

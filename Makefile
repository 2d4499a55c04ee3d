# Hearth — the two commands of the README.
#   make run   creates .venv if missing, installs Hearth, starts it and prints the wizard's URL
#   make test  installs what the tests need and runs the whole suite
#   make image       the Raspberry Pi image (root; images/raspberrypi/build.sh, README "Put it on a Raspberry Pi")
#   make image-test  boots that image under QEMU and checks it from the host (not part of make test; .ci/run runs both after it)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# One stamp per install, named after pyproject.toml's checksum: an edited pyproject reinstalls.
# `make run` installs the runtime only; `make test` adds the test extras (pytest, Playwright...).
HASH   := $(shell cat pyproject.toml | md5sum | cut -c1-8)
STAMP  := $(VENV)/.installed-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)

.PHONY: run test venv clean system-tools browser irc-server pebble bench soak image image-test image-tools rust-sdk-test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(TEST_STAMP)

# The virtualenv with the test extras (what the tests and a developer need).
venv: $(TEST_STAMP)

run: $(STAMP)
	$(PY) -m appliance run

# The system tests (tests/system/) need systemd-analyze and ip; as root, install them when missing.
system-tools:
	@command -v systemd-analyze >/dev/null && command -v ip >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq systemd iproute2 >/dev/null; } || \
	  echo "systemd-analyze or ip missing and not installable: those tests will be skipped"

# The browser tests (tests/webui/) drive Debian's Chromium with Playwright (never `playwright install`).
browser:
	@command -v chromium >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium missing and not installable: the browser tests will be skipped"

# The bridge tests talk to a real IRC server (Debian's ngIRCd, started by the tests on loopback).
irc-server:
	@command -v ngircd >/dev/null || [ -x /usr/sbin/ngircd ] || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq ngircd >/dev/null && \
	    { systemctl disable --now ngircd >/dev/null 2>&1 || true; }; } || \
	  echo "ngircd missing and not installable: the IRC bridge tests will be skipped"

# The outside-access tests get certificates from Let's Encrypt's test CA, Pebble, and its test DNS
# server, started by the tests on loopback: Go programs, installed with `go install` (when Go is
# there) into a cache outside the repository.
PEBBLE_VERSION := v2.10.3
TOOLS_DIR ?= $(HOME)/.cache/hearth-tools
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
pebble:
	@[ -x $(TOOLS_DIR)/bin/pebble ] && [ -x $(TOOLS_DIR)/bin/pebble-challtestsrv ] || \
	  { [ -x "$(GO)" ] && GOBIN=$(TOOLS_DIR)/bin $(GO) install \
	      github.com/letsencrypt/pebble/v2/cmd/pebble@$(PEBBLE_VERSION) \
	      github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$(PEBBLE_VERSION); } || \
	  echo "pebble missing and not installable (no Go?): the outside-access tests will be skipped"

# pytest exits 5 when it collected no test: that is not a failure of the suite.
# The federation interop test (tests/federation/test_synapse_interop.py) starts a real Synapse
# from its own venv, the one `make bench` uses.
test: $(TEST_STAMP) system-tools browser irc-server pebble bench/.venv-synapse/.installed
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

# make bench: Hearth beside Synapse (README "Benchmark"); Synapse gets its own venv. BENCH_ARGS="--reps 3"
SYNAPSE_PY := bench/.venv-synapse/bin/python
bench/.venv-synapse/.installed:
	$(PYTHON) -m venv bench/.venv-synapse
	$(SYNAPSE_PY) -m pip install --quiet --upgrade pip
	$(SYNAPSE_PY) -m pip install --quiet matrix-synapse
	touch $@

bench: $(STAMP) bench/.venv-synapse/.installed
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache

# matrix-rust-sdk (Element X's SDK) chatting with encryption over sliding sync against Hearth.
# Opt-in, not part of `make test`: the first build takes ~30 min on two shared cores (then cached
# in RUST_SDK_CACHE). Needs cargo (rustup) and crates.io.
RUST_SDK_CACHE ?= /var/cache/hearth-rust-sdk
rust-sdk-test: $(TEST_STAMP)
	@command -v cargo >/dev/null || { echo "cargo missing: install Rust (rustup) first"; exit 1; }
	cd tests/rust_client && CARGO_TARGET_DIR=$(RUST_SDK_CACHE) cargo build --locked
	HEARTH_RUST_SDK_CLIENT=$(RUST_SDK_CACHE)/debug/hearth-sdk-client \
	  $(PY) -m pytest -q -p no:cacheprovider tests/e2e/test_matrix_rust_sdk.py

# The kill -9 durability test with many more cycles (SOAK_CYCLES, default 300): a long soak.
SOAK_CYCLES ?= 300
soak: $(TEST_STAMP)
	HEARTH_KILL9_CYCLES=$(SOAK_CYCLES) $(PY) -m pytest -q -p no:cacheprovider tests/durability/test_kill9.py

# The Raspberry Pi image (images/raspberrypi/): Debian's tools for it, installed when missing (root).
IMAGE_OUT ?= images/out
IMAGE_NAME = hearth-$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)-raspberrypi-arm64
image-tools:
	@for t in mmdebstrap qemu-aarch64-static qemu-system-aarch64 sfdisk mkfs.vfat mcopy ssh-keygen; do \
	  command -v $$t >/dev/null || missing=1; done; \
	  [ -z "$$missing" ] || { apt-get update -qq && apt-get install -y -qq mmdebstrap qemu-user-static \
	    qemu-system-arm binfmt-support arch-test dosfstools mtools fdisk e2fsprogs xz-utils \
	    openssh-client >/dev/null; }

image: image-tools
	OUT=$(abspath $(IMAGE_OUT)) images/raspberrypi/build.sh

# Boots the image built by `make image` (about 2–4 min emulated on 2 cores: see README).
image-test: image-tools
	@test -f $(IMAGE_OUT)/$(IMAGE_NAME).img || { echo "no $(IMAGE_OUT)/$(IMAGE_NAME).img: run make image first"; exit 1; }
	$(PYTHON) images/raspberrypi/image_test.py $(IMAGE_OUT) $(IMAGE_NAME)

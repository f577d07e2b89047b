# Two commands on a fresh machine (Debian, Python 3.11, no ROS install, no GPU):
#   make demo   - create .venv from package names and run the demo
#   make test   - create .venv and run linters + the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# DDS stays on this host; every run gets its own domain so parallel runs never cross-talk.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export ROS_DOMAIN_ID ?= $(shell $(PYTHON) -c 'import random; print(random.randint(1, 100))')
export MUJOCO_GL ?= egl
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: venv demo test lint bench-sim clean

venv: $(STAMP)

$(STAMP): requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	$(PY) -m pip install -q -r requirements.txt > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	$(PY) -m pip install -q --no-deps -e . > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	$(PY) -c "import rclpy, mujoco, rosbags, wm_ros.cli" && touch $(STAMP)

demo: venv
	$(VENV)/bin/wm-ros demo --out out/demo

lint: venv
	$(VENV)/bin/ruff check .

# pytest exit code 5 means "no tests collected": that is a failure here, not a pass.
test: lint
	$(PY) -m pytest -ra; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench-sim: venv
	$(VENV)/bin/wm-ros bench sim

clean:
	rm -rf build install log out .pytest_cache

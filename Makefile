# Quick start:  make run   (set up everything, run the main job; writes under runs/, never into tracked files)
#               make test  (set up everything, run the tests)
# make figures regenerates the committed quick reference in figures/ (on purpose only).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
APT_PACKAGES := libsuitesparse-dev libopenblas0-pthread
# a system browser for the report's browser test (Playwright's own browser download is not needed)
BROWSER_PACKAGES := chromium

.PHONY: setup system-packages run figures test test-slow bench clean

setup: $(VENV)/.installed

# Debian packages for CHOLMOD (scikit-sparse) and a fast BLAS; only when root and missing.
system-packages:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	  fi; \
	  if ! dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null) \
	      || echo "could not install $(BROWSER_PACKAGES): the report's browser test will be skipped"; \
	  fi; \
	else \
	  echo "not root or no apt-get: skipping $(APT_PACKAGES) $(BROWSER_PACKAGES) (the SciPy solver is used if CHOLMOD cannot build; the browser test is skipped without Chromium)"; \
	fi

$(VENV)/.installed: pyproject.toml constraints.txt | system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned to the local CPU build, so nothing pulls the CUDA wheels
	$(PY) -m pip install -q "torch==$(TORCH_VERSION)"
	# the exact versions the reference was made with (constraints.txt); pyproject.toml keeps loose ranges
	$(PY) -m pip install -q -c constraints.txt -e ".[all,dev,docs]"
	$(PY) -m pip install -q -c constraints.txt "scikit-sparse<0.5" \
	  || echo "scikit-sparse did not build: falling back to SciPy's sparse solver (slower)"
	touch $@

run: setup
	$(PY) studies/run_quick.py

figures: setup
	$(PY) studies/run_quick.py --out figures

test: setup
	$(PY) -m pytest

test-slow: setup
	$(PY) -m pytest -m slow

bench: setup
	$(PY) benchmarks/bench_speed.py

clean:
	rm -rf $(VENV) build *.egg-info

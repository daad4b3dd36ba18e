# Two commands do everything on a fresh machine:
#   make demo   set up, then execute the notebook collection on the bundled miniature (into build/)
#   make test   set up, then run the full test suite (unit tests and every notebook, CPU only)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# One BLAS thread per pytest worker: two workers on two cores, no oversubscription.
TEST_ENV := TQDM_DISABLE=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 PYTHONHASHSEED=0
# --dist loadfile keeps every cell of a notebook on one worker (one kernel per notebook).
WORKERS ?= 2

.PHONY: setup demo test unit browser-test clean

setup: $(STAMP)

# Install the pinned CPU wheel of torch before the package: with no torch present, the package's torch range
# would otherwise pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[notebooks,test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m lolisr_lib demo

# tests/browser runs every notebook in JupyterLab in a headless Chromium; without one it is skipped in one line (-rs).
test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(WORKERS) --dist loadfile -rs --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg tests notebooks

unit: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(WORKERS) --dist loadfile --ignore=tests/browser tests

# Only the browser tests, one notebook after another; a missing Chromium is an error here, not a skip.
# Screenshots and per-notebook times: build/browser/.
browser-test: $(STAMP)
	$(TEST_ENV) LOLISR_BROWSER_REQUIRED=1 $(PY) -m pytest -m browser -rs -v tests/browser

clean:
	rm -rf build .pytest_cache

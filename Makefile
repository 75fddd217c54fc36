# Two commands for a newcomer: `make demo` and `make test`. Both create .venv from nothing when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# A relative TASKREL_DATA (CI passes ../shared/data) is made absolute here, because nbdev_test runs each
# notebook from inside nbs/. Unset, the data root falls back to ../shared/data when it exists, then data/.
ifdef TASKREL_DATA
export TASKREL_DATA := $(abspath $(TASKREL_DATA))
else ifneq ($(wildcard ../shared/data),)
export TASKREL_DATA := $(abspath ../shared/data)
endif

.PHONY: demo test install data export docs readme clean

install: $(STAMP)

$(STAMP): settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# data/ is the default data root. With a local mirror ($$TASKREL_DATA, or ../shared/data) its dataset folders are
# linked into data/, so plain `python -c "from taskrel.data import load_dataset; ..."` works from the repo root.
# Without one, load_dataset(..., download=True) fetches each file from its official address and checks it.
data:
	@mkdir -p data
	@if [ -n "$$TASKREL_DATA" ] && [ -d "$$TASKREL_DATA" ]; then \
	  for d in "$$TASKREL_DATA"/*/; do n=$$(basename "$$d"); [ -e "data/$$n" ] || ln -s "$${d%/}" "data/$$n"; done; \
	  echo "data/: linked the datasets of $$TASKREL_DATA"; \
	else echo "data/: no local mirror; load_dataset(..., download=True) fetches files when online"; fi

demo: $(STAMP) data
	$(BIN)/taskrel demo

# The package must match the notebooks: export, then fail if that changed any tracked file under taskrel/.
export: $(STAMP)
	$(BIN)/nbdev_export
	git diff --exit-code --stat -- taskrel || (echo "taskrel/ was out of date with nbs/: run nbdev_export and commit" && exit 1)

# nbdev_test runs two notebooks at once on two cores: one OpenMP/BLAS thread per process, or torch's small
# operations oversubscribe the cores and thrash (measured: the Algorithm 1 notebook took 7 min instead of 43 s).
test: export OMP_NUM_THREADS = 1
test: $(STAMP) data export
	$(BIN)/nbdev_test --n_workers 2
	$(BIN)/python -m pytest tests/ -q -p no:cacheprovider

# Needs Quarto on PATH (not installable on the offline dev machines; everything before it is tested in tests/test_docs.py).
docs: $(STAMP)
	$(BIN)/nbdev_docs

# README.md is generated from nbs/index.ipynb (cells starting with `#| hide` are left out). nbconvert is used
# rather than nbdev_readme so that it works without Quarto; tests/test_docs.py checks README matches the notebook.
readme: $(STAMP)
	$(BIN)/jupyter nbconvert --to markdown nbs/index.ipynb --RegexRemovePreprocessor.patterns="['^#\\| *hide']" \
	  --output-dir . --output README

clean:
	rm -rf _proc _docs nbs/nbdev.yml .pytest_cache

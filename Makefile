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

.PHONY: demo test install export docs readme clean

install: $(STAMP)

$(STAMP): settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(STAMP)
	$(BIN)/taskrel demo

# The package must match the notebooks: export, then fail if that changed any tracked file under taskrel/.
export: $(STAMP)
	$(BIN)/nbdev_export
	git diff --exit-code --stat -- taskrel || (echo "taskrel/ was out of date with nbs/: run nbdev_export and commit" && exit 1)

test: $(STAMP) export
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

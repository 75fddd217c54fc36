# Two commands for a newcomer: `make demo` and `make test`. Both create .venv from nothing when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# make data fills data/ with every file the tests need (taskrel fetch): from a local mirror when there is one
# ($$TASKREL_DATA, else ../shared/data), else Debian's package (Fashion-MNIST, as root), else the official addresses.
# Everything then reads from data/, made absolute because nbdev_test runs each notebook from inside nbs/.
MIRROR := $(or $(TASKREL_DATA),$(wildcard ../shared/data))
export TASKREL_DATA := $(abspath data)

.PHONY: demo test install data export docs readme clean

install: $(STAMP)

$(STAMP): settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

data: $(STAMP)
	$(BIN)/taskrel fetch --dest data $(if $(MIRROR),--mirror $(abspath $(MIRROR)))

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

# The book. Quarto comes from PATH, else it is built once (offline, ~30 s) with ../shared/tools/make-quarto.sh into a
# cache folder outside the repository. README.md is touched first so that nbdev_docs keeps it (README comes from
# `make readme`); tests/check_site.py then fails on anything a reader should not meet (see its docstring).
QUARTO_HOME ?= $(HOME)/.cache/taskrel/quarto
QUARTO := $(or $(shell command -v quarto 2>/dev/null),$(QUARTO_HOME)/bin/quarto)
$(QUARTO_HOME)/bin/quarto:
	bash ../shared/tools/make-quarto.sh $(QUARTO_HOME)

docs: $(STAMP) $(QUARTO)
	touch README.md
	set -o pipefail; PATH="$(dir $(QUARTO)):$$PATH" $(BIN)/nbdev_docs 2>&1 | tee _docs.log
	$(BIN)/python tests/check_site.py _docs --log _docs.log

# README.md is generated from nbs/index.ipynb (cells starting with `#| hide` are left out). nbconvert is used
# rather than nbdev_readme so that it works without Quarto; tests/test_docs.py checks README matches the notebook.
readme: $(STAMP)
	$(BIN)/jupyter nbconvert --to markdown nbs/index.ipynb --RegexRemovePreprocessor.patterns="['^#\\| *hide', '^#\\| *slow']" \
	  --output-dir . --output README

clean:
	rm -rf _proc _docs _docs.log nbs/nbdev.yml .pytest_cache

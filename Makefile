# Every target sets up what it needs: a fresh clone needs only python3 and a C compiler.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Rebuilt (pip install -e, which compiles the Cython extension) whenever the
# build inputs change.
STAMP  := $(VENV)/.vecbench-installed

.PHONY: help install test kernels lint clean

help:
	@echo "make test     set up .venv, build the extension, run the test suite"
	@echo "make kernels  print the kernel x backend x variant matrix, checked"
	@echo "make lint     ruff"
	@echo "make clean    remove .venv and build products"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml setup.py $(wildcard kernels/backends/*.pyx)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

kernels: $(STAMP)
	$(PY) -m kernels

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) build *.egg-info kernels/backends/*.so kernels/backends/_cython_loops.c

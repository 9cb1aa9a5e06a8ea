# Every target sets up what it needs: a fresh clone needs only python3 and a C compiler.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Rebuilt (pip install -e, which compiles the Cython extension) whenever the
# build inputs change.
STAMP  := $(VENV)/.vecbench-installed

# Benchmark profile for make bench: full (default, under 10 min) or quick (CI, under 90 s).
PROFILE ?= full
# make ci-bench BASE=<git ref>; make compare BASE=<run> NEW=<run>
BASE ?= HEAD
NEW  ?=

.PHONY: help install test bench compare ci-bench kernels lint clean

help:
	@echo "make test     set up .venv, build the extension, run the tests and every benchmark body once"
	@echo "make report   render the newest run into reports/out/ (a full run first if none)"
	@echo "make bench    run the benchmarks (PROFILE=full|quick) and save them under .benchmarks/"
	@echo "make compare BASE=RUN NEW=RUN   compare two saved runs (ids, files or folders)"
	@echo "make ci-bench BASE=REF          interleaved A/B of a git ref against the working tree"
	@echo "make kernels  print the kernel x backend x variant matrix, checked"
	@echo "make lint     ruff"
	@echo "make clean    remove .venv and build products"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml setup.py $(wildcard kernels/backends/*.pyx)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(STAMP)

# The tests, then each benchmark of the quick grid run once, untimed, so a
# broken benchmark fails here.
test: $(STAMP)
	$(PY) -m pytest --profile=quick --benchmark-disable

bench: $(STAMP)
	$(PY) -m pytest bench --benchmark-only --profile=$(PROFILE) \
		--benchmark-autosave --benchmark-save-data

compare: $(STAMP)
	@test -n "$(NEW)" || { echo "usage: make compare BASE=<run> NEW=<run>"; exit 2; }
	$(PY) -m reports.compare $(BASE) $(NEW)

ci-bench: $(STAMP)
	$(PY) -m reports.ci_bench $(BASE)

kernels: $(STAMP)
	$(PY) -m kernels

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) build *.egg-info kernels/backends/*.so kernels/backends/_cython_*.c

# ---- report stage ----------------------------------------------------------
# Headless Chromium for the report's browser test: Debian's chromium package,
# installed once when absent.  Without root or network this warns and the
# browser test skips (it says why); the stamp is only written once found.
CHROMIUM_STAMP := $(VENV)/.chromium-found

$(CHROMIUM_STAMP): | $(PY)
	@if command -v chromium >/dev/null 2>&1; then touch $@; \
	elif apt-get update && apt-get install -y --no-install-recommends chromium \
		&& command -v chromium >/dev/null 2>&1; then touch $@; \
	else echo "warning: chromium could not be installed; the report's browser test will skip" >&2; fi

test: $(CHROMIUM_STAMP)

.PHONY: report
# The report of the newest saved run, into reports/out/ (python -m reports);
# a full benchmark run first when none has been saved yet.
report: $(STAMP)
	@if ! find .benchmarks -name '*.json' 2>/dev/null | grep -q .; then \
		echo "no saved run under .benchmarks/: running the full profile first (make bench)"; \
		$(MAKE) bench PROFILE=full || exit $$?; \
	fi
	$(PY) -m reports

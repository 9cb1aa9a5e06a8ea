# Every target sets up what it needs: a fresh clone needs only python3 and a C compiler.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Rebuilt (pip install -e, which compiles the Cython extension) whenever the
# build inputs or the lock change.
STAMP  := $(VENV)/.vecbench-installed

# The lock: every runtime, test and build requirement, the dependencies of
# dependencies and pip itself, at the versions CI tested (make lock refreshes
# it).  It is used as a constraints file: PIP_CONSTRAINT for what pip
# installs, PIP_BUILD_CONSTRAINT for the isolated PEP 517 build environment
# (setuptools, Cython).  pip applies -c only to the former; PIP_CONSTRAINT
# reached the build environment until pip 26.2, PIP_BUILD_CONSTRAINT does from
# pip 25.3 on (older pips ignore it), so both are set.  They replace any
# constraint a pip configuration file sets.
LOCK   := requirements.lock
LOCKED := PIP_CONSTRAINT="$(CURDIR)/$(LOCK)" PIP_BUILD_CONSTRAINT="$(CURDIR)/$(LOCK)"
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check

# The test command (make test and every leg of test-matrix, test-newest,
# test-oldest): the quick profile, benchmarks run once untimed, on JOBS
# pytest-xdist workers (one per core).  Not in it: the slow tests (-m slow).
# SERIAL: the timed one among them, the gate's self-check, which runs benchmark
# runs of its own in child pytest processes; its verdict depends on a quiet
# machine, so it is no unit test: make test-matrix runs it alone, once (and
# it must not inherit an xdist worker's environment: pytest-benchmark then
# refuses --benchmark-only).
JOBS        ?= 2
QUICK       := --profile=quick --benchmark-disable
SERIAL      := tests/test_compare.py
TEST_ARGS   := $(QUICK) -n $(JOBS)
SERIAL_ARGS := $(QUICK) -m slow $(SERIAL)

# The command every target below but test runs (bench/cli.py, installed by $(STAMP)).
VECBENCH := $(VENV)/bin/vecbench
# Benchmark profile for make bench: full (default, under 10 min), quick (CI; 71-174
# s on a busy 2-core host, up to half of it waiting for the machine's pace) or
# first (the first look, what make report runs when nothing is saved).
PROFILE ?= full
# make ci-bench BASE=<git ref>; make compare BASE=<run> NEW=<run>
BASE ?= HEAD
NEW  ?=

# make test-matrix LEGS="gcc-native clang-portable ..." (default: every leg);
# ONCE: what does not depend on the build, run in the first leg only: the
# SERIAL tests and the slow packaging test (ONCE=packaging: the latter only).
LEGS ?=
ONCE ?= serial packaging

.PHONY: help install test bench compare ci-bench ci-instructions kernels lint clean \
	lock test-newest test-oldest test-matrix

help:
	@echo "make test     set up .venv (from $(LOCK)), build the extension, run the tests and every"
	@echo "              benchmark body once, on JOBS=$(JOBS) workers"
	@echo "make report   render the newest run into reports/out/ (none saved yet: it benchmarks"
	@echo "              the first look, a few minutes, before)"
	@echo "make bench    run the benchmarks (PROFILE=full|quick|first) and save them under .benchmarks/"
	@echo "make compare BASE=RUN NEW=RUN   compare two saved runs (ids, files or folders)"
	@echo "make ci-bench BASE=REF          interleaved A/B of a git ref against the working tree"
	@echo "make ci-instructions BASE=REF   the same A/B in instruction counts under valgrind (CI's gate)"
	@echo "make kernels  print the kernel x backend x variant matrix, checked"
	@echo "(each is a vecbench command: $(VECBENCH) --help)"
	@echo "make lint     ruff"
	@echo "make clean    remove .venv, .matrix/ and build products"
	@echo "maintainers:"
	@echo "make lock         re-resolve $(LOCK): newest releases within pyproject.toml's ranges"
	@echo "make test-newest  the tests against the newest releases (no lock), in .matrix/newest"
	@echo "make test-oldest  the tests against pyproject.toml's lower bounds, in .matrix/oldest"
	@echo "make test-matrix [LEGS=...] [ONCE=...]  build and test: gcc/clang x native/portable x"
	@echo "                  OpenMP, then the slow packaging test once; legs: $(MATRIX_LEGS)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Valgrind (Debian's package): the instruction-count gate runs under its
# callgrind, and the extension bench._callgrind needs its header at build time,
# so it is installed before the build when missing.  Without root or network
# this warns; the build then goes on without the client requests and the
# instruction mode (and its tests) say what to install.
VALGRIND_H := /usr/include/valgrind/callgrind.h

$(VALGRIND_H):
	@apt-get update && apt-get install -y --no-install-recommends valgrind \
		|| echo "warning: valgrind could not be installed; the instruction-count gate cannot run" >&2

$(STAMP): $(PY) pyproject.toml setup.py $(LOCK) \
		$(wildcard kernels/backends/*.pyx kernels/backends/*.pxd bench/*.pyx) | $(VALGRIND_H)
	$(LOCKED) $(PY) $(PIP_INSTALL) --upgrade pip
	$(LOCKED) $(PY) $(PIP_INSTALL) -e '.[test]'
	@touch $@

install: $(STAMP)

# The tests, then each benchmark of the quick grid run once, untimed, so a
# broken benchmark fails here.
test: $(STAMP)
	$(PY) -m pytest $(TEST_ARGS)

bench: $(STAMP)
	$(VECBENCH) run --profile $(PROFILE)

# make's own exit status is 2 for any failed recipe (GNU make has no way to
# pass a recipe's 1 on), so the recipes say which failure it was in their last
# line: reports.compare's 1 (a regression) or 2 (unusable input).  A script
# that needs the distinction calls $(VECBENCH) compare (or ci) itself: 0 / 1 / 2.
GATE_STATUS = status=$$?; case $$status in 0) ;; \
	1) echo "$@: REGRESSION (exit 1 from $(1); make reports it as Error 1 and exits 2)" >&2 ;; \
	*) echo "$@: no verdict, unusable input or failure (exit $$status from $(1); make exits 2)" >&2 ;; \
	esac; exit $$status

compare: $(STAMP)
	@test -n "$(NEW)" || { echo "usage: make compare BASE=<run> NEW=<run>"; exit 2; }
	@$(VECBENCH) compare $(BASE) $(NEW); $(call GATE_STATUS,vecbench compare)

# The base is installed with the lock too, so both sides run the same libraries.
ci-bench: $(STAMP)
	@$(LOCKED) $(VECBENCH) ci $(BASE); $(call GATE_STATUS,vecbench ci)

# The instruction-count gate (issue 13): the same A/B under callgrind, counts
# instead of times; deterministic, so one pass (reports/ci_bench.py --mode).
ci-instructions: $(STAMP)
	@$(LOCKED) $(VECBENCH) ci --mode instructions $(BASE); $(call GATE_STATUS,vecbench ci --mode instructions)

kernels: $(STAMP)
	$(VECBENCH) kernels

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .matrix build *.egg-info kernels/backends/*.so kernels/backends/_cython_*.c

# ---- the lock and the dependency ranges ------------------------------------
# make lock: a fresh venv in a temporary folder, the newest pip, then every
# requirement pyproject.toml declares (.ci/requirements.py all: runtime, test
# and build) at the newest releases its ranges admit, frozen with pip freeze.
# The lock holds what this interpreter resolves (CI's: CPython 3.11, Linux
# x86-64).  Then run make test (and make test-matrix) before committing it.
lock:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	export PIP_CONSTRAINT= PIP_BUILD_CONSTRAINT=; \
	$(PYTHON) -m venv "$$tmp/venv"; py="$$tmp/venv/bin/python"; \
	echo "resolving in a fresh venv: pip, then the requirements of pyproject.toml"; \
	$$py $(PIP_INSTALL) --upgrade pip; \
	$$py $(PIP_INSTALL) 'tomli; python_version < "3.11"'; \
	$$py .ci/requirements.py all > "$$tmp/requirements.in"; \
	$$py $(PIP_INSTALL) --upgrade -r "$$tmp/requirements.in"; \
	{ echo "# Generated by 'make lock' on $$(date -u +%F) with $$($$py -c 'import platform as p; print(p.python_implementation(), p.python_version(), p.system(), p.machine())'); do not edit."; \
	  echo "# Every runtime, test and build requirement of pyproject.toml, the dependencies"; \
	  echo "# of dependencies and pip, at the newest releases within pyproject.toml's ranges."; \
	  echo "# The Makefile installs with it as constraints (PIP_CONSTRAINT, PIP_BUILD_CONSTRAINT)."; \
	  $$py -m pip freeze --all --exclude-editable | grep -v -i '^vecbench=='; \
	} > "$$tmp/lock"; \
	mv "$$tmp/lock" $(LOCK); \
	echo "wrote $(LOCK): $$(grep -c '==' $(LOCK)) pins; now run make test"

# The newest releases (no lock) and the oldest pyproject.toml admits, each in a
# fresh venv and a fresh copy of the working tree under .matrix/, through
# .ci/matrix.py like the matrix legs below.
test-newest:
	$(PYTHON) .ci/matrix.py --pytest-args="$(TEST_ARGS)" --serial-args="$(SERIAL_ARGS)" newest

test-oldest:
	$(PYTHON) .ci/matrix.py --pytest-args="$(TEST_ARGS)" --serial-args="$(SERIAL_ARGS)" oldest

# ---- build matrix ----------------------------------------------------------
# Each leg: its own venv and copy of the working tree under .matrix/LEG/, the
# lock's versions, the extension built freshly with the leg's CC,
# VECBENCH_MARCH and VECBENCH_OPENMP; python -m kernels must report that
# build (compiler, -march, OpenMP) before the tests run.  Once, in the first
# leg (ONCE): the SERIAL tests and the slow packaging test (pytest -m slow
# tests/test_install.py).
# Clang legs with OpenMP need LLVM's libomp: Debian's clang refuses -fopenmp
# without it, so it is installed (with clang) when missing; if that fails,
# those legs fail, saying so.
MATRIX_LEGS := gcc-native gcc-portable gcc-noopenmp clang-native clang-portable clang-noopenmp
CLANG_STAMP := .matrix/.clang-openmp-found

$(CLANG_STAMP):
	@mkdir -p $(@D)
	@ok() { d=$$(mktemp -d); printf '#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n' > $$d/p.c; \
		clang -fopenmp $$d/p.c -o $$d/p >/dev/null 2>&1 && $$d/p; r=$$?; rm -rf $$d; return $$r; }; \
	if command -v clang >/dev/null 2>&1 && ok; then touch $@; exit 0; fi; \
	v=$$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p'); \
	pkgs="libomp-$${v:-14}-dev"; command -v clang >/dev/null 2>&1 || pkgs="clang libomp-dev"; \
	echo "clang with OpenMP: installing $$pkgs (Debian)"; \
	if apt-get update && apt-get install -y --no-install-recommends $$pkgs && ok; then touch $@; \
	else echo "warning: clang cannot build with OpenMP here; the clang legs that expect it will fail" >&2; fi

test-matrix: $(if $(filter clang%,$(or $(LEGS),$(MATRIX_LEGS))),$(CLANG_STAMP))
	$(PYTHON) .ci/matrix.py --pytest-args="$(TEST_ARGS)" \
		$(if $(filter serial,$(ONCE)),--serial-args="$(SERIAL_ARGS)") \
		$(if $(filter packaging,$(ONCE)),--packaging) $(or $(LEGS),$(MATRIX_LEGS))

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
# The report of the newest saved run, into reports/out/.  When none has been
# saved yet, vecbench report benchmarks the first look (profile "first", a few
# minutes) itself first, and its last line says how to get the full profile.
report: $(STAMP)
	$(VECBENCH) report

# Quick start: `make demo` runs the documented kthreadd session in real gdb;
# `make test` runs the test suite. Both set up what they need first.
PY := .venv/bin/python

.PHONY: setup demo test bench kernel clean
setup:
	@scripts/setup.sh

demo: setup
	@$(PY) -m gdbstub.harness.session gdb_scripts/kthreadd.gdb

test: setup
	@$(PY) -m pytest -q

bench: setup
	@$(PY) bench/run_all.py

kernel:
	@$(MAKE) -s -C kernel_src

clean:
	@$(MAKE) -s -C kernel_src clean

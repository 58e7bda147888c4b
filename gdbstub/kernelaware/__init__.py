"""Awareness of our kernel: everything that knows its structures.

oskernel.py (task_struct layout from DWARF, the task-list walker) and
schedtrace.py (the scheduling trace).  It may use the stub's Target; the
protocol and the handlers never import it (tests/test_import_layers.py).
"""

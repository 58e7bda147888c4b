"""Driving gdb against a stub, for tests, labs and bench (not the stub itself).

session.py (start a stub, run a gdb script, return the transcript),
transcript.py (matching), mi.py (a live gdb over MI), pytest_plugin.py.
The stub never imports it (tests/test_import_layers.py).
"""

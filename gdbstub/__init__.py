"""The GDB remote serial protocol stub for the kthread machine.

Four packages, imports pointing one way (tests/test_import_layers.py):

    harness/  ->  kernelaware/  ->  gdbstub (the stub)  ->  rsp/

rsp/ (the protocol, pure: framing, parsers, register table, target.xml);
the stub proper here: dispatch.py + handlers/ (by capability), target.py (the
Target and its optional ops, MachineTarget), threadmodel.py (thread layer), rspsession.py
(one gdb session, I/O free), server.py (sockets/stdio, slices, Ctrl-C),
cli.py (kthread-stub); kernelaware/ (our kernel's structures: tasks, the
scheduling trace); harness/ (start a stub, run gdb, match transcripts).
"""

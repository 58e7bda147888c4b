"""The GDB remote serial protocol stub for the kthread machine.

Layers (each its own module): packet.py (framing, acks, escaping, RLE) ->
commands.py (pure parsers) -> dispatch.py + handlers/ (by capability) ->
target.py (the Target interface, MachineTarget) and threads.py (thread layer);
regs.py + tdesc.py (the i386 register table and target.xml); rspsession.py (one
gdb session, I/O free) and server.py (sockets/stdio, slices, Ctrl-C);
cli.py (kthread-stub).

session.py (not part of the protocol stack) runs a gdb command file against a
freshly started stub and returns the transcript.
"""

"""The GDB remote serial protocol itself, pure: no I/O, no machine, no kernel.

packet.py (framing, acks, escaping, RLE), commands.py (payload -> command
dataclass), regs.py (the i386 register table), tdesc.py (target.xml from it).
Imports nothing else of gdbstub (tests/test_import_layers.py).
"""

"""Load the kthread kernel's gdb helpers: `source gdb_scripts/kt.py`.

Puts this directory on sys.path and imports the kt package's modules,
which register kt-ps, kt-dmesg, kt-kthreads, $kt_task() and $kt_current().
Sourcing it again reloads them (handy while editing the helpers).
kernel_src/vmlinux-gdb.py runs this file when gdb auto-loads it.
"""
import importlib
import os
import sys

import gdb

_here = os.path.dirname(os.path.abspath(__file__))
if not os.path.isdir(os.path.join(_here, "kt")):
    raise gdb.GdbError(f"kt.py: no kt/ package next to {__file__}")
if _here not in sys.path:
    sys.path.insert(0, _here)

_KT_MODULES = ("kt.walkers", "kt.utils", "kt.taskstate", "kt.tasks", "kt.threads", "kt.dmesg",
               "kt.kthreads")
for _name in ("kt",) + _KT_MODULES:
    if _name in sys.modules:
        importlib.reload(sys.modules[_name])
    else:
        importlib.import_module(_name)

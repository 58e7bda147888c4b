# vmlinux-gdb.py - auto-load hook for the kthread kernel's gdb helpers
# (kt-ps, kt-dmesg, kt-kthreads, $kt_task(), $kt_current()).
#
# gdb auto-loads "<objfile>-gdb.py" from the directory of the objfile's real
# path, so this file works once it is linked next to the kernel, the way
# Linux's `make scripts_gdb` links its vmlinux-gdb.py into the build tree:
#     ln -s ../gdb_scripts/vmlinux-gdb.py kernel_src/vmlinux-gdb.py
# and only for a gdb that trusts the repository:
#     gdb -iex "add-auto-load-safe-path $PWD" kernel_src/vmlinux
# Without the safe-path flag gdb declines it with its own warning ("auto-loading
# has been declined by your `auto-load safe-path'"); `source gdb_scripts/kt.py`
# always works.  See gdb_scripts/README.md.
import os

import gdb


def _find_kt():
    here = os.path.dirname(os.path.realpath(__file__))
    for d in (here, os.path.join(os.path.dirname(here), "gdb_scripts")):
        path = os.path.join(d, "kt.py")
        if os.path.isfile(path):
            return path
    return None


_kt = _find_kt()
if _kt is None:
    gdb.write(f"vmlinux-gdb.py: gdb_scripts/kt.py not found from {__file__} "
              f"(link this file, do not copy it); kt-* helpers not loaded\n",
              gdb.STDERR)
else:
    # Run kt.py with its own globals: a nested `source` would see this
    # file's __file__ (Python keeps an outer __main__.__file__).
    with open(_kt) as _f:
        exec(compile(_f.read(), _kt, "exec"),
             {"__file__": _kt, "__name__": "kt_loader"})

"""kt: gdb helpers for the kthread teaching kernel (kernel_src/).

Load with `source gdb_scripts/kt.py`, or let gdb auto-load
kernel_src/vmlinux-gdb.py (see gdb_scripts/README.md).  One module per
concern, in the style of Linux's scripts/gdb/linux/: utils (types, lists,
memory errors), taskstate (the task-state decoder the stub shares, no gdb;
its values in the generated constants.py), tasks (kt-ps, $kt_task,
$kt_current), dmesg (kt-dmesg), kthreads (kt-kthreads).  Every command's logic is a plain function that
returns its text, so tests can call it without going through a command.
"""

# kthreadd.gdb - the kthreadd walkthrough (../shared/seed/kthreadd-walkthrough.md).
#
# Run against a machine stopped at its reset/entry point, e.g.
#   gdb -q -batch -ex 'target remote :1234' -x gdb_scripts/kthreadd.gdb kernel_src/vmlinux
# The connection itself is the runner's job: this script has no `target`.
#
# Session: stop in start_kernel, then at kthreadd's first instruction (pid 2
# runs it when init first asks for a kthread), show that kthreadd was called
# by kernel_thread_helper, walk kthreadd's loop to its create_kthread() call
# (init has queued a request, so the list is not empty), step into it,
# and come back out at the spin_lock() that follows.
set pagination off
set confirm off
# The seed was captured on a terminal where gdb wrapped frame #1's
# "at arch/x86/kernel/entry_32.S:1000" onto a line of its own; that line is
# 76 columns, so any width below 77 reproduces it.  (-batch never wraps.)
set width 72
break start_kernel
continue
break kthreadd
continue
bt
next
next
next
next
next
next
next
next
step
next
next

# The seed session (../../shared/seed/kthreadd-walkthrough.md as gdb_scripts/kthreadd.gdb):
# stop in start_kernel, then in kthreadd when init first asks for a kthread, show
# who called it, walk its loop to create_kthread(), step in, and come back out.
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

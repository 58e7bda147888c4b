# Lab 3 reference solution (runs after start.gdb: at kthreadd's first instruction).
kt-ps
kt-runq
print nr_switches
# the next context switch: kthreadd (pid 2) hands the CPU to the new thread
break __switch_to
continue
print prev->pid
print next->pid
print prev->state
print nr_switches
kt-runq
# every task as a gdb thread, and where each one sleeps
monitor tasks on
info threads
kt-bt-all

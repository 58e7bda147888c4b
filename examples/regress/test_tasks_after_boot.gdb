# stub: --tasks
# Every kernel task is a gdb thread (--tasks): list them once boot is complete
# (init runs oops_test last), with the backtrace of the sleeping kthreadd.
set width 0
break oops_test
continue
info threads
thread 3
bt

# Lab 5's check: the grader runs this against the kernel built with your
# kernel/lab5.c (you hand in C, no gdb commands).  It stops when init calls
# lab5_stop() (100 ms after lab5_start()), lists the tasks, collects what
# kthread_stop() returns for each thread and what lab5_stop() reported, then
# runs to the end of the boot (oops_test() comes after "init: boot complete").
# Every fact comes from gdb, never from the console, which your printk() writes.
break lab5_stop
continue
kt-ps
delete
break kthread_stop
continue
print k->comm
finish
continue
print k->comm
finish
finish
printf "@lab5 err=%d produced=%d consumed=%d sum=%d\n", $, produced, consumed, sum
delete
break oops_test
continue
kt-ps

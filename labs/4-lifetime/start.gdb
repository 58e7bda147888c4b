# Lab 4 starts when kthread_demo (pid 6) calls do_exit(): kthread_stop() asked it to stop.
# The kernel runs with kthread_bug=lost_complete (grading.json's stub_args): its hang
# comes later, after init has stopped kthread_demo (part 2 of the lab).
break do_exit
continue
delete 1

# Lab 3 starts at kthreadd's first instruction: pid 2 has just been switched to
# for the first time (init sleeps in kthread_create, waiting for ksoftirqd/0).
break kthreadd
continue
delete 1

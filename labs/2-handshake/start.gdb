# Lab 2 starts at init's first kthread_create() call (for ksoftirqd/0),
# before the request is queued.
break kthread_create
continue
delete 1

# Lab 4 starts when kthread_demo (pid 6) calls do_exit(): kthread_stop() asked it to stop.
break do_exit
continue
delete 1

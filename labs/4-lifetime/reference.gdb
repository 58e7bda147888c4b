# Lab 4 reference solution (runs after start.gdb: kthread_demo in do_exit).
bt
kt-ps
print current_task->pid
# kthread()'s frame: the thread's own struct kthread, on its stack
up
print self.should_stop
# who set it?  run backwards to the last write
watch -l self.should_stop
reverse-continue
bt 2
kt-ps
delete
# forwards again: init reaps the zombie
break release_task
continue
bt 3
print p->pid
kt-ps

# Lab 2 reference solution (runs after start.gdb: stopped at kthread_create's first line).
bt
kt-kthreads
# Who writes the list head?  list_add_tail() in kthread_create.
watch kthread_create_list.next
break wake_up_process
continue
kt-kthreads
# Who is woken?  kthreadd (pid 2).
continue
print p == kthreadd_task
print p->pid
# has kthreadd ever run?  Is it asleep?
kt-ps
finish
delete
# init now sleeps on the request's completion ...
break wait_for_completion
continue
bt 2
kt-kthreads
delete
# ... until the new thread completes it, from kthread().
break complete
continue
bt 3
up
print ((struct kthread_create_info *) _create)->result->pid
kt-ps

# Lab 2 by other commands than the reference's (the tests grade it 100 too).
where
watch -location kthread_create_list.next
continue
kt-kthreads
tbreak wake_up_process
continue
print kthreadd_task->pid
kt-ps
finish
delete
tbreak wait_for_completion
continue
backtrace 2
tbreak complete
continue
where 3
print current_task->pid

# A wrong solution: watches the list, but never stops in wake_up_process or
# wait_for_completion, and breaks on complete while the watchpoint still fires.
bt
watch kthread_create_list.next
continue
break complete
continue
bt

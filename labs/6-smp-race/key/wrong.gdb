# A wrong solution: finds the hang and the stuck pool, but watches the list head
# instead of the link to the lost request: going backwards it stops at kthreadd's
# last list_del_init() and blames it.
info threads
break kernel/process_32.c:115 if jiffies >= 40
continue
delete
kt-ps
kt-completions
print kthread_create_list
watch -l kthread_create_list.next
reverse-continue
bt 3

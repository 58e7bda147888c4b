# Lab 6 by other commands than the reference's (the tests grade it 100 too).
info thr
tbreak kernel/process_32.c:115 if jiffies >= 40
continue
kt-ps
kt-bt pool/1
p kthread_create_list
info threads
thread 13
frame function kthread_create_many
p create[i]
watch -location create[i].list.prev->next
rc
where 3
rc
where
monitor cpus
rc
where 3
monitor cpus
thread 12
where 1

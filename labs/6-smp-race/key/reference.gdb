# Lab 6 reference solution (runs after start.gdb: init in kthread_race_test, on CPU 0).
# The machine: --cpus 2 --quantum 100 --sched-seed 14 --append kthread_bug=create_race
# (grading.json's stub_args); seed 14 is one of the seeds `kthread-lab seeds 6` lists.
# --- Part 2: the hang ---
# each CPU is a gdb thread (tasks off): CPU#1 idles in cpu_idle
info threads
# a healthy boot prints "init: boot complete" at jiffies 20; stop at 40
break kernel/process_32.c:115 if jiffies >= 40
continue
print jiffies
delete
kt-ps
kt-completions
print kthread_create_list
# --- Part 3: the lost request ---
info threads
thread 13
frame 2
print i
print create[i].list
print *create[i].list.prev
# who wrote the pointer that once led to our request?  run backwards, write by write
watch -l create[i].list.prev->next
reverse-continue
bt 2
monitor cpus
reverse-continue
bt 3
monitor cpus
reverse-continue
bt 3
monitor cpus
# and CPU 0 at that instruction: pool/0, in the middle of its own list_add_tail()
thread 12
bt 3
x/i $pc
list kernel/kthread_race.c:32,37

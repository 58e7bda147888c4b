# Lab 6 starts when init calls kthread_race_test() on CPU 0: it is about to start a
# pool thread on each CPU.  The machine (grading.json's stub_args) has two CPUs that
# run in turns of about 100 instructions, drawn from --sched-seed 14, and the kernel
# command line kthread_bug=create_race.
break kthread_race_test
continue
delete 1

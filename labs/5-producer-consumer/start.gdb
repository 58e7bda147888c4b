# Lab 5 starts where init calls your lab5_start() (the kernel boots with
# lab5=run, grading.json's stub_args).
break lab5_start
continue
delete 1

# Lab 1 starts in start_kernel: paging is on, the kernel's symbols are readable,
# no kernel thread exists yet.
break start_kernel
continue
delete 1

# Lab 1 by other commands than the reference's (the tests grade it 100 too).
tbreak kthreadd
continue
where
info registers ebx edx
disassemble kernel_thread_helper
info symbol *(unsigned long *) $esp
break create_kthread
continue
finish
next
info args

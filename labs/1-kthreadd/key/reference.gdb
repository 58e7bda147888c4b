# Lab 1 reference solution (runs after start.gdb: stopped in start_kernel).
break kthreadd
continue
bt
# The registers kernel_thread() gave the new thread: fn in %ebx, arg in %edx.
print (void *) $ebx
print $edx
# kernel_thread_helper: the pushed 0, then fn(arg).
x/4i kernel_thread_helper
# kthreadd's return address, its argument slot (the pushed %edx), the pushed 0.
x/3wx $sp
info symbol *(unsigned long *) $sp
next
next
next
next
next
next
next
next
step
next
next

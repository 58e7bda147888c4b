# A wrong solution: reaches kthreadd and its backtrace, but `next`s over
# create_kthread instead of stepping into it, and never looks at the registers.
break kthreadd
continue
bt
next
next
next
next
next
next
next
next
next

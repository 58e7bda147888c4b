# A wrong solution: goes back to kthread_stop's entry with a breakpoint instead of
# watching the flag, so it never sees the write; never follows the reaping.
bt
break kthread_stop
reverse-continue
bt 2

# A wrong solution: goes back to kthread_stop's entry with a breakpoint instead of
# watching the flag, so it never sees the write; never follows the reaping.
bt
break kthread_stop
reverse-continue
bt 2
delete
# Part 2: finds the hang and the completion, but stops at the first writer going
# backwards (init's own wait_for_completion) and blames it.
break kernel/process_32.c:115 if jiffies >= 20
continue
delete
kt-ps
kt-completions
watch -l late_started.done
reverse-continue
bt 2

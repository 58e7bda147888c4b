# Lab 4 by other commands than the reference's (the tests grade it 100 too).
backtrace
frame 1
print self.should_stop
watch -location self.should_stop
rc
where 2
delete
tbreak release_task
continue
where 3
kt-ps
tbreak do_wait
continue
finish
break kernel/process_32.c:115 if jiffies >= 20
continue
delete
kt-ps
kt-completions
watch -location late_started.done
rc
rc
where 2
rc
where 2
rc

# Who told kthread_demo to stop?  Stop where it exits, watch its should_stop flag
# and run backwards to the last write: kthread_stop(), called by init.
set width 0
break do_exit
continue
up
print self.should_stop
watch -l self.should_stop
reverse-continue
bt 2
print k->comm

/*
 * lab5.c - lab 5: a producer and a consumer kthread (labs/5-producer-consumer).
 *
 * Yours to write: include/linux/lab5.h says what lab5_start() and
 * lab5_stop() must do.  As handed out they do nothing and lab5_start()
 * fails, so the kernel boots as before.  Build and boot your version with
 * `kthread-lab start 5` (it boots with "lab5=run"), grade it with
 * `kthread-lab grade 5 kernel_src/kernel/lab5.c`.
 *
 * What you will need: kthread_run(), kthread_should_stop(), kthread_stop()
 * (include/linux/kthread.h); a spinlock (include/linux/spinlock.h); wait
 * queues: DECLARE_WAIT_QUEUE_HEAD(), wait_event_interruptible(), wake_up()
 * (include/linux/wait.h).
 */
#include <linux/kthread.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/errno.h>
#include <linux/lab5.h>

int lab5_start(void)
{
	return -ENOSYS;
}

int lab5_stop(int *produced, int *consumed, int *sum)
{
	return -ENOSYS;
}

/*
 * lab5.c - lab 5's reference solution: a producer and a consumer kthread
 * sharing a ring buffer of LAB5_SLOTS items.
 *
 * The buffer (buf, head, count) is guarded by lab5_lock.  Each thread sleeps
 * on its own wait queue while it cannot work (the producer while the buffer
 * is full, the consumer while it is empty) and wakes the other after each
 * item.  Both wait conditions include kthread_should_stop(): kthread_stop()
 * wakes the thread with wake_up_process(), and a thread that went back to
 * sleep on its condition alone would never return.
 */
#include <linux/kthread.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/errno.h>
#include <linux/lab5.h>

static DEFINE_SPINLOCK(lab5_lock);
static int buf[LAB5_SLOTS];
static int head, count;		/* the items are buf[head], ... (count of them) */
static int taken;		/* items the consumer took */
static DECLARE_WAIT_QUEUE_HEAD(lab5_space);	/* the producer waits here */
static DECLARE_WAIT_QUEUE_HEAD(lab5_items);	/* the consumer waits here */
static struct task_struct *producer, *consumer;

/* Puts 1, 2, 3, ... in the buffer until stopped; returns how many it put. */
static int lab5_producer(void *unused)
{
	int next = 1;

	while (!kthread_should_stop()) {
		wait_event_interruptible(lab5_space,
					 count < LAB5_SLOTS || kthread_should_stop());
		spin_lock(&lab5_lock);
		if (count < LAB5_SLOTS) {
			buf[(head + count) % LAB5_SLOTS] = next++;
			count++;
		}
		spin_unlock(&lab5_lock);
		wake_up(&lab5_items);
	}
	return next - 1;
}

/* Takes items until stopped and the buffer is empty; returns their sum. */
static int lab5_consumer(void *unused)
{
	int sum = 0, item;

	for (;;) {
		wait_event_interruptible(lab5_items, count > 0 || kthread_should_stop());
		spin_lock(&lab5_lock);
		if (!count) {			/* stopped, and nothing left */
			spin_unlock(&lab5_lock);
			break;
		}
		item = buf[head];
		head = (head + 1) % LAB5_SLOTS;
		count--;
		spin_unlock(&lab5_lock);
		sum += item;
		taken++;
		wake_up(&lab5_space);
	}
	return sum;
}

int lab5_start(void)
{
	head = count = taken = 0;
	consumer = kthread_run(lab5_consumer, NULL, "lab5/consumer");
	if (IS_ERR(consumer))
		return PTR_ERR(consumer);
	producer = kthread_run(lab5_producer, NULL, "lab5/producer");
	if (IS_ERR(producer)) {
		kthread_stop(consumer);
		return PTR_ERR(producer);
	}
	return 0;
}

int lab5_stop(int *produced, int *consumed, int *sum)
{
	*produced = kthread_stop(producer);
	*sum = kthread_stop(consumer);
	*consumed = taken;
	return 0;
}

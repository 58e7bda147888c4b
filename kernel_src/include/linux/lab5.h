#ifndef _LINUX_LAB5_H
#define _LINUX_LAB5_H

/*
 * Lab 5 (labs/5-producer-consumer): a producer and a consumer kthread that
 * share a small buffer.  The student writes kernel/lab5.c.  Booted with
 * "lab5=run", init calls lab5_test() (kernel/lab5_test.c) after the boot
 * kthreads: lab5_start(), 100 ms of running, then lab5_stop().
 */

/* The buffer holds at most this many items. */
#define LAB5_SLOTS	4

/*
 * lab5_start - start the kthreads "lab5/producer" and "lab5/consumer".
 * The producer puts the items 1, 2, 3, ... in the buffer, waiting while it
 * is full; the consumer takes them out in order and adds them up, waiting
 * while it is empty.  Returns 0, or a negative errno.
 */
int lab5_start(void);

/*
 * lab5_stop - stop the producer, then the consumer (which first takes what
 * is left in the buffer), with kthread_stop().  Stores how many items the
 * producer made, how many the consumer took and their sum.  Returns 0, or
 * a negative errno.
 */
int lab5_stop(int *produced, int *consumed, int *sum);

#endif

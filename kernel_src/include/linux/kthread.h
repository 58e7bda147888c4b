#ifndef _LINUX_KTHREAD_H
#define _LINUX_KTHREAD_H

#include <linux/err.h>
#include <linux/sched.h>

struct task_struct *kthread_create(int (*threadfn)(void *data),
				   void *data,
				   const char namefmt[], ...)
	__attribute__((format(printf, 3, 4)));

/**
 * kthread_run - create a kthread and start it.
 * @threadfn: the function the thread runs
 * @data: its argument
 * @namefmt: printf-style format for the thread's name
 *
 * kthread_create(), then wake the new thread so that it starts running
 * @threadfn at once.  Returns the thread, or the ERR_PTR() from
 * kthread_create() (in which case nothing was woken).
 */
#define kthread_run(threadfn, data, namefmt, ...)			   \
({									   \
	struct task_struct *__k						   \
		= kthread_create(threadfn, data, namefmt, ## __VA_ARGS__); \
	if (!IS_ERR(__k))						   \
		wake_up_process(__k);					   \
	__k;								   \
})

void kthread_bind(struct task_struct *k, unsigned int cpu);
struct task_struct *kthread_create_on_cpu(int (*threadfn)(void *data),
					  void *data, unsigned int cpu,
					  const char *namefmt);
int kthread_stop(struct task_struct *k);
int kthread_should_stop(void);
int kthreadd(void *unused);
int kthread_create_list_empty(void);

/* The labs' planted bugs, only with "kthread_bug=..." (kernel/kthread_bug.c). */
void kthread_bug_test(void);
void kthread_race_test(void);	/* lab 6's, in kernel/kthread_race.c */
void lab5_test(void);		/* kernel/lab5_test.c (lab 5) */
void kthread_bench(void);	/* kernel/kthread_bench.c (bench/) */
void migrate_test(void);	/* kernel/migrate_test.c */

#endif

#ifndef _LINUX_DELAY_H
#define _LINUX_DELAY_H

/* Sleep (not spin) for at least @msecs milliseconds. */
void msleep(unsigned int msecs);
unsigned long msleep_interruptible(unsigned int msecs);

#endif

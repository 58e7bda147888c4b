#ifndef _LINUX_ERRNO_H
#define _LINUX_ERRNO_H

#define EPERM	1
#define ENOENT	2
#define ESRCH	3
#define EINTR	4
#define EAGAIN	11
#define ENOMEM	12
#define EINVAL	22
#define ECHILD	10
#define ENOSYS	38

#endif

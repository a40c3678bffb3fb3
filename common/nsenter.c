/* common/nsenter.c - enter a named network namespace briefly (see nsenter.h). */
#include "common/nsenter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "common/netaddr.h"

int nsenter_open(const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (!netaddr_valid_nsname(name))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", NSENTER_RUN_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int nsenter_enter(const char *name, int *saved)
{
	int target, cur, r;

	target = nsenter_open(name);
	if (target < 0)
		return target;
	cur = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (cur < 0) {
		r = -errno;
		goto close_target;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		r = -errno;
		close(cur);
		goto close_target;
	}
	close(target);
	*saved = cur;
	return 0;

close_target:
	close(target);
	return r;
}

int nsenter_restore(int saved)
{
	int r = 0;

	if (saved < 0)
		return -EBADF;
	if (setns(saved, CLONE_NEWNET) < 0)
		r = -errno;
	close(saved);
	return r;
}

/* agent/asys.c - see asys.h.  Every name read from sysfs is checked with
 * actl_name_valid() (or a length bound) before it is used in a path. */
#include "agent/asys.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DRV "bus/platform/drivers/virtio-mmio"
#define PATH_CAP 1024

/* snprintf into a path buffer; -ENAMETOOLONG instead of a truncated path. */
static int __attribute__((format(printf, 3, 4))) pathf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Reads a small sysfs attribute into BUF (NUL-terminated, trailing newline
 * dropped).  0 or -errno. */
static int read_attr(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* The single subdirectory of DIR whose name starts with PREFIX. */
static int first_entry(const char *dir, const char *prefix, char *out, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = -ENOENT;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) || strlen(e->d_name) >= cap)
			continue;
		if (!actl_name_valid(e->d_name))
			continue;
		strcpy(out, e->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

static void describe(const char *sysfs, struct asys_vdev *v)
{
	char path[PATH_CAP], buf[80];

	v->device_id = -1;
	if (pathf(path, sizeof(path), "%s/" DRV "/%s", sysfs, v->name) ||
	    first_entry(path, "virtio", v->virtio, sizeof(v->virtio)))
		return;
	if (!pathf(path, sizeof(path), "%s/" DRV "/%s/%s/device", sysfs, v->name, v->virtio) &&
	    !read_attr(path, buf, sizeof(buf)))
		v->device_id = (int)strtol(buf, NULL, 0);
	if (pathf(path, sizeof(path), "%s/" DRV "/%s/%s/block", sysfs, v->name, v->virtio) ||
	    first_entry(path, "vd", v->block, sizeof(v->block)))
		return;
	if (pathf(path, sizeof(path), "%s/" DRV "/%s/%s/block/%s/serial", sysfs, v->name,
		  v->virtio, v->block) ||
	    read_attr(path, buf, sizeof(buf)) || !actl_name_valid(buf))
		return;
	strcpy(v->serial, buf);
}

static int cmp_vdev(const void *x, const void *y)
{
	return strcmp(((const struct asys_vdev *)x)->name, ((const struct asys_vdev *)y)->name);
}

int asys_virtio_list(const char *sysfs, struct asys_vdev *out, int max)
{
	char path[PATH_CAP];
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (pathf(path, sizeof(path), "%s/" DRV, sysfs))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < max) {
		struct stat st;
		char p2[PATH_CAP];

		/* The driver directory also holds bind, unbind, uevent, module. */
		if (!actl_name_valid(e->d_name))
			continue;
		if (pathf(p2, sizeof(p2), "%s/%s", path, e->d_name) || stat(p2, &st) || !S_ISDIR(st.st_mode) || !strcmp(e->d_name, "module"))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		strcpy(out[n].name, e->d_name);
		describe(sysfs, &out[n]);
		n++;
	}
	closedir(d);
	qsort(out, (size_t)n, sizeof(out[0]), cmp_vdev);
	return n;
}

int asys_virtio_unbind(const char *sysfs, const char *name)
{
	char path[PATH_CAP];
	struct stat st;
	ssize_t w;
	int fd, ret = 0;

	if (!actl_name_valid(name) || !strcmp(name, "module"))
		return -EINVAL;
	if (pathf(path, sizeof(path), "%s/" DRV "/%s", sysfs, name))
		return -ENAMETOOLONG;
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return -ENOENT;
	if (pathf(path, sizeof(path), "%s/" DRV "/unbind", sysfs))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, name, strlen(name));
	if (w < 0)
		ret = -errno;
	else if ((size_t)w != strlen(name))
		ret = -EIO;
	close(fd);
	return ret;
}

int asys_virtio_find_serial(const char *sysfs, const char *serial, char name[ACTL_NAME_MAX + 1])
{
	struct asys_vdev *v = calloc(ASYS_MAX_DEVICES, sizeof(*v));
	int n, ret = -ENOENT;

	if (!v)
		return -ENOMEM;
	n = asys_virtio_list(sysfs, v, ASYS_MAX_DEVICES);
	for (int i = 0; i < n; i++) {
		if (v[i].serial[0] && !strcmp(v[i].serial, serial)) {
			strcpy(name, v[i].name);
			ret = 0;
			break;
		}
	}
	free(v);
	return n < 0 ? n : ret;
}

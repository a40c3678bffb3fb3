/* lb/nsock.c - per-namespace socket factories (see nsock.h). */
#include "lb/nsock.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/nsenter.h"

#define NSOCK_POOL 32

struct nsock_fac {
	char *name;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv_more;   /* factory -> takers */
	pthread_cond_t cv_need;   /* takers -> factory */
	int pool[NSOCK_POOL];
	int n;
	int err;                  /* -errno while the namespace cannot be entered */
	bool stop;
	struct nsock_fac *next;
};

struct nsock {
	pthread_mutex_t mu;
	struct nsock_fac *facs;
};

static int tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

static void *fac_main(void *arg)
{
	struct nsock_fac *f = arg;
	int saved = -1, r;

	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		if (saved < 0) {
			pthread_mutex_unlock(&f->mu);
			/* stays inside for the thread's life; saved is closed at exit */
			r = nsenter_enter(f->name, &saved);
			pthread_mutex_lock(&f->mu);
			if (r < 0) {
				struct timespec ts;

				if (f->err != r)
					log_warn("netns %s: %s (retrying)", f->name, strerror(-r));
				f->err = r;
				pthread_cond_broadcast(&f->cv_more);
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 1;
				pthread_cond_timedwait(&f->cv_need, &f->mu, &ts);
				continue;
			}
			f->err = 0;
		}
		while (f->n < NSOCK_POOL) {
			int fd = tcp_socket();

			if (fd < 0) {
				f->err = fd;
				break;
			}
			f->pool[f->n++] = fd;
		}
		pthread_cond_broadcast(&f->cv_more);
		if (!f->stop)
			pthread_cond_wait(&f->cv_need, &f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	if (saved >= 0)
		close(saved);
	return NULL;
}

struct nsock *nsock_new(void)
{
	struct nsock *ns = calloc(1, sizeof(*ns));

	if (!ns)
		return NULL;
	pthread_mutex_init(&ns->mu, NULL);
	return ns;
}

void nsock_free(struct nsock *ns)
{
	struct nsock_fac *f, *nx;

	if (!ns)
		return;
	for (f = ns->facs; f; f = nx) {
		nx = f->next;
		pthread_mutex_lock(&f->mu);
		f->stop = true;
		pthread_cond_broadcast(&f->cv_need);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->th, NULL);
		for (int i = 0; i < f->n; i++)
			close(f->pool[i]);
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cv_more);
		pthread_cond_destroy(&f->cv_need);
		free(f->name);
		free(f);
	}
	pthread_mutex_destroy(&ns->mu);
	free(ns);
}

static struct nsock_fac *fac_find(struct nsock *ns, const char *name)
{
	struct nsock_fac *f;

	pthread_mutex_lock(&ns->mu);
	for (f = ns->facs; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	pthread_mutex_unlock(&ns->mu);
	return f;
}

int nsock_prepare(struct nsock *ns, const char *netns)
{
	struct nsock_fac *f;
	int r;

	if (!netns || !*netns || fac_find(ns, netns))
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->name = strdup(netns);
	if (!f->name) {
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv_more, NULL);
	pthread_cond_init(&f->cv_need, NULL);
	r = -pthread_create(&f->th, NULL, fac_main, f);
	if (r < 0) {
		free(f->name);
		free(f);
		return r;
	}
	pthread_mutex_lock(&ns->mu);
	f->next = ns->facs;
	ns->facs = f;
	pthread_mutex_unlock(&ns->mu);
	return 0;
}

int nsock_socket(struct nsock *ns, const char *netns)
{
	struct nsock_fac *f;
	int fd = -EAGAIN;
	struct timespec ts;

	if (!netns || !*netns)
		return tcp_socket();
	f = fac_find(ns, netns);
	if (!f)
		return -ESRCH;
	pthread_mutex_lock(&f->mu);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	while (f->n == 0 && f->err == 0 && !f->stop) {
		pthread_cond_signal(&f->cv_need);
		if (pthread_cond_timedwait(&f->cv_more, &f->mu, &ts) == ETIMEDOUT)
			break;
	}
	if (f->n > 0) {
		fd = f->pool[--f->n];
		if (f->n < NSOCK_POOL / 2)
			pthread_cond_signal(&f->cv_need);
	} else if (f->err) {
		fd = f->err;
	}
	pthread_mutex_unlock(&f->mu);
	return fd;
}

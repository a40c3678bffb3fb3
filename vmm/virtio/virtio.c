/* vmm/virtio/virtio.c - the device core: worker thread, interrupts,
 * NEEDS_RESET, reset.  Contract and threading rules: virtio.h.
 */
#include "vmm/virtio/virtio.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

#define CORE_FEATURES ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
		       (1ull << VIRTIO_RING_F_INDIRECT_DESC))

static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("eventfd write: %s", strerror(errno));
}

static void eventfd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("eventfd read: %s", strerror(errno));
}

bool virtio_dev_live_locked(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(d->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)) && !d->stopping &&
	       !d->frozen;
}

void virtio_dev_quiesce_locked(struct virtio_dev *d)
{
	while (d->worker_busy)
		pthread_cond_wait(&d->idle_cond, &d->lock);
}

void virtio_dev_wake(struct virtio_dev *d)
{
	eventfd_signal(d->ctl_fd);
}

void virtio_dev_kick(struct virtio_dev *d, unsigned int qi)
{
	if (qi < d->nr_queues)
		eventfd_signal(d->kick_fd[qi]);
}

static void raise_irq(struct virtio_dev *d, uint32_t bits)
{
	__atomic_fetch_or(&d->isr, bits, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&d->irqs, 1, __ATOMIC_RELAXED);
	eventfd_signal(d->irq_fd);
}

void virtio_dev_notify_queue(struct virtio_dev *d, struct virtq *q)
{
	if (virtq_need_notify(q))
		raise_irq(d, VIRTIO_ISR_QUEUE);
	if (d->used_cb)
		d->used_cb(d->used_opaque);
}

void virtio_dev_config_changed(struct virtio_dev *d)
{
	__atomic_fetch_add(&d->config_generation, 1, __ATOMIC_SEQ_CST);
	raise_irq(d, VIRTIO_ISR_CONFIG);
}

void virtio_dev_set_needs_reset_locked(struct virtio_dev *d, const char *why)
{
	if (d->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (!d->broken_logged) {
		/* Once per device life: a hostile guest cannot flood the log. */
		log_warn("virtio %s: device needs reset: %s", d->name, why);
		d->broken_logged = true;
	}
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_dev_config_changed(d);
}

void virtio_dev_set_needs_reset(struct virtio_dev *d, const char *why)
{
	pthread_mutex_lock(&d->lock);
	virtio_dev_set_needs_reset_locked(d, why);
	pthread_mutex_unlock(&d->lock);
}

void virtio_dev_reset_locked(struct virtio_dev *d)
{
	virtio_dev_quiesce_locked(d);
	d->status = 0;
	d->driver_features = 0;
	__atomic_store_n(&d->isr, 0, __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < d->nr_queues; i++)
		virtq_reset(&d->vqs[i]);
	if (d->ops->reset)
		d->ops->reset(d);
}

int virtio_dev_freeze(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->frozen = true;
	virtio_dev_quiesce_locked(d);
	pthread_mutex_unlock(&d->lock);
	/* The worker sees `frozen` at its next round and runs nothing. */
	return d->ops->quiesce ? d->ops->quiesce(d) : 0;
}

void virtio_dev_thaw(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->frozen = false;
	for (unsigned int i = 0; i < d->nr_queues; i++)
		if (d->vqs[i].ready)
			virtio_dev_kick(d, i);
	pthread_mutex_unlock(&d->lock);
	virtio_dev_wake(d);
}

int virtio_dev_watch_fd(struct virtio_dev *d, int fd, short events, virtio_fd_cb cb, void *opaque)
{
	for (int i = 0; i < VIRTIO_MAX_WATCHES; i++) {
		if (d->watches[i].fd < 0) {
			d->watches[i] = (struct virtio_watch){ fd, events, cb, opaque };
			return i;
		}
	}
	return -ENOSPC;
}

void virtio_dev_watch_set(struct virtio_dev *d, int id, short events)
{
	if (id >= 0 && id < VIRTIO_MAX_WATCHES)
		d->watches[id].events = events;
}

/* The worker: poll the kick eventfds, the control eventfd and the device's
 * own fds; run callbacks only while the device is live.  worker_busy is set
 * (under the lock) for the whole round, so the transport can wait for a
 * quiet moment before it changes queue state. */
static void *worker_main(void *arg)
{
	struct virtio_dev *d = arg;
	enum { MAXFD = 1 + VIRTIO_MAX_QUEUES + VIRTIO_MAX_WATCHES };
	struct pollfd pfd[MAXFD];
	int what[MAXFD];   /* -1 ctl, 0..: queue, 100+: watch */

	for (;;) {
		unsigned int n = 0;
		bool live;

		pthread_mutex_lock(&d->lock);
		if (d->stopping) {
			pthread_mutex_unlock(&d->lock);
			break;
		}
		live = virtio_dev_live_locked(d);
		pthread_mutex_unlock(&d->lock);

		pfd[n] = (struct pollfd){ .fd = d->ctl_fd, .events = POLLIN };
		what[n++] = -1;
		for (unsigned int i = 0; i < d->nr_queues; i++) {
			/* Kicks are read even when not live, so a stale one
			 * does not spin; they are acted on only when live. */
			pfd[n] = (struct pollfd){ .fd = d->kick_fd[i], .events = POLLIN };
			what[n++] = (int)i;
		}
		for (int i = 0; live && i < VIRTIO_MAX_WATCHES; i++) {
			if (d->watches[i].fd < 0 || !d->watches[i].events)
				continue;
			pfd[n] = (struct pollfd){ .fd = d->watches[i].fd, .events = d->watches[i].events };
			what[n++] = 100 + i;
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("virtio %s: poll: %s", d->name, strerror(errno));
			break;
		}

		pthread_mutex_lock(&d->lock);
		live = virtio_dev_live_locked(d);
		d->worker_busy = true;
		pthread_mutex_unlock(&d->lock);

		for (unsigned int k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (what[k] == -1) {
				eventfd_drain(d->ctl_fd);
			} else if (what[k] < 100) {
				struct virtq *q = &d->vqs[what[k]];

				eventfd_drain(pfd[k].fd);
				__atomic_fetch_add(&d->kicks, 1, __ATOMIC_RELAXED);
				if (!live || !q->ready || !d->ops->queue_notify)
					continue;
				d->ops->queue_notify(d, q);
			} else if (live) {
				struct virtio_watch *w = &d->watches[what[k] - 100];

				w->cb(d, w->fd, pfd[k].revents, w->opaque);
			}
			/* A callback may have broken the device: stop this round. */
			pthread_mutex_lock(&d->lock);
			live = virtio_dev_live_locked(d);
			pthread_mutex_unlock(&d->lock);
		}

		pthread_mutex_lock(&d->lock);
		d->worker_busy = false;
		pthread_cond_broadcast(&d->idle_cond);
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

int virtio_dev_init(struct virtio_dev *d, const struct guest_mem *mem)
{
	int r;

	if (!d->ops || !d->ops->free || d->nr_queues < 1 || d->nr_queues > VIRTIO_MAX_QUEUES ||
	    d->config_len > VIRTIO_CONFIG_MAX)
		return -EINVAL;
	for (unsigned int i = 0; i < d->nr_queues; i++) {
		uint16_t m = d->queue_max[i];

		if (m == 0 || m > VIRTQ_MAX_SIZE || (m & (m - 1)))
			return -EINVAL;
	}
	d->mem = mem;
	d->offered = d->host_features | CORE_FEATURES;
	d->status = 0;
	d->irq_fd = d->ctl_fd = -1;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->kick_fd[i] = -1;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		d->vqs[i].index = i;
		d->vqs[i].num_max = i < d->nr_queues ? d->queue_max[i] : 0;
		virtq_reset(&d->vqs[i]);
	}
	for (int i = 0; i < VIRTIO_MAX_WATCHES; i++)
		d->watches[i] = (struct virtio_watch){ .fd = -1 };
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->idle_cond, NULL);
	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irq_fd < 0 || d->ctl_fd < 0)
		goto fail_errno;
	for (unsigned int i = 0; i < d->nr_queues; i++) {
		d->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fd[i] < 0)
			goto fail_errno;
	}
	/* The worker takes no signals: SIGTERM & co. belong to the main
	 * thread's signalfd, whenever the device is created. */
	{
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		r = -pthread_create(&d->worker, NULL, worker_main, d);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (r < 0)
		goto fail;
	d->worker_started = true;
	return 0;

fail_errno:
	r = -errno;
fail:
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (d->kick_fd[i] >= 0)
			close(d->kick_fd[i]);
	if (d->ctl_fd >= 0)
		close(d->ctl_fd);
	if (d->irq_fd >= 0)
		close(d->irq_fd);
	pthread_cond_destroy(&d->idle_cond);
	pthread_mutex_destroy(&d->lock);
	return r;
}

void virtio_dev_free(struct virtio_dev *d)
{
	if (!d)
		return;
	if (d->worker_started) {
		pthread_mutex_lock(&d->lock);
		d->stopping = true;
		pthread_mutex_unlock(&d->lock);
		virtio_dev_wake(d);
		pthread_join(d->worker, NULL);
		d->worker_started = false;
	}
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (d->kick_fd[i] >= 0)
			close(d->kick_fd[i]);
	close(d->ctl_fd);
	close(d->irq_fd);
	pthread_cond_destroy(&d->idle_cond);
	pthread_mutex_destroy(&d->lock);
	d->ops->free(d);
}

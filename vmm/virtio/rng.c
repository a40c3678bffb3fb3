/* vmm/virtio/rng.c - virtio-rng (see rng.h). */
#include "vmm/virtio/rng.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "common/log.h"
#include "vmm/virtio/vsnap.h"

struct vrng {
	struct virtio_dev vdev;
	int timer_fd;
	int timer_watch;
	double tokens;           /* bytes we may still hand out */
	uint64_t last_ns;
	uint64_t bytes;
	bool waiting;            /* a chain is held back until the timer fires */
	struct virtq_chain chain;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void refill(struct vrng *r)
{
	uint64_t t = now_ns();

	r->tokens += (double)(t - r->last_ns) * VRNG_RATE / 1e9;
	if (r->tokens > VRNG_BURST)
		r->tokens = VRNG_BURST;
	r->last_ns = t;
}

static void arm_timer(struct vrng *r)
{
	struct itimerspec its = { .it_value = { .tv_nsec = 10 * 1000000 } };

	if (timerfd_settime(r->timer_fd, 0, &its, NULL) < 0)
		log_warn("virtio rng: timerfd: %s", strerror(errno));
	r->waiting = true;
}

static void vrng_run(struct virtio_dev *d, struct virtq *q)
{
	struct vrng *r = d->priv;

	if (!q->ready)
		return;
	for (;;) {
		int k;
		uint64_t done = 0;

		refill(r);
		if (r->tokens < 1) {
			arm_timer(r);
			break;
		}
		k = virtq_pop(q, &r->chain);
		if (k < 0) {
			virtio_dev_set_needs_reset(d, "malformed descriptor chain");
			return;
		}
		if (k == 0) {
			if (!virtq_enable_notify(q))
				break;
			continue;
		}
		for (unsigned int i = r->chain.nr_out; i < r->chain.nr_out + r->chain.nr_in; i++) {
			size_t want = r->chain.iov[i].iov_len;

			if ((double)want > r->tokens - (double)done)
				want = (size_t)(r->tokens - (double)done);
			if (!want)
				break;
			ssize_t g = getrandom(r->chain.iov[i].iov_base, want, 0);

			if (g <= 0)
				break;
			done += (uint64_t)g;
			if ((size_t)g < r->chain.iov[i].iov_len)
				break;
		}
		r->tokens -= (double)done;
		r->bytes += done;
		virtq_push(q, r->chain.head, (uint32_t)done);
	}
	virtio_dev_notify_queue(d, q);
}

static void vrng_notify(struct virtio_dev *d, struct virtq *q)
{
	if (!((struct vrng *)d->priv)->waiting)
		vrng_run(d, q);
}

static void vrng_timer(struct virtio_dev *d, int fd, short revents, void *opaque)
{
	struct vrng *r = d->priv;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	r->waiting = false;
	vrng_run(d, &d->vqs[0]);
}

static void vrng_reset(struct virtio_dev *d)
{
	struct vrng *r = d->priv;

	r->waiting = false;
	timerfd_settime(r->timer_fd, 0, &(struct itimerspec){ 0 }, NULL);
}

static void vrng_describe(struct virtio_dev *d, struct json_object *o)
{
	json_object_object_add(o, "type", json_object_new_string("rng"));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)((struct vrng *)d->priv)->bytes));
}

static void vrng_free(struct virtio_dev *d)
{
	struct vrng *r = d->priv;

	close(r->timer_fd);
	free(r);
}

/* Nothing but the device id re-creates it (vsnap.h). */
static void vrng_snap_cfg(struct virtio_dev *d, struct vsnap_devcfg *c)
{
	(void)d;
	(void)c;
}

static const struct virtio_dev_ops vrng_ops = {
	.snap_cfg = vrng_snap_cfg,
	.reset = vrng_reset,
	.queue_notify = vrng_notify,
	.free = vrng_free,
	.describe = vrng_describe,
};

struct virtio_dev *vrng_new(const struct guest_mem *mem)
{
	struct vrng *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return NULL;
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (r->timer_fd < 0) {
		e = errno;
		free(r);
		errno = e;
		return NULL;
	}
	r->tokens = VRNG_BURST;
	r->last_ns = now_ns();
	r->vdev.name = "rng";
	r->vdev.device_id = VIRTIO_ID_RNG;
	r->vdev.nr_queues = 1;
	r->vdev.queue_max[0] = VRNG_QUEUE_SIZE;
	r->vdev.ops = &vrng_ops;
	r->vdev.priv = r;
	e = virtio_dev_init(&r->vdev, mem);
	if (e < 0) {
		close(r->timer_fd);
		free(r);
		errno = -e;
		return NULL;
	}
	r->timer_watch = virtio_dev_watch_fd(&r->vdev, r->timer_fd, POLLIN, vrng_timer, NULL);
	return &r->vdev;
}

/* vmm/virtio/virtio.h - the contract between virtio devices (blk, rng, net,
 * vsock), the split virtqueue code and the virtio-mmio transport.
 *
 * HOW TO WRITE A DEVICE (read this first)
 * ---------------------------------------
 * 1. Embed a `struct virtio_dev` in your device struct and fill the part
 *    marked "set by the device" before calling virtio_dev_init():
 *        struct vnet { struct virtio_dev vdev; int tap_fd; ... };
 *        vn->vdev.name = "net0";  vn->vdev.device_id = VIRTIO_ID_NET;
 *        vn->vdev.host_features = (1ull << VIRTIO_NET_F_MAC) | ...;
 *        vn->vdev.nr_queues = 2;  vn->vdev.queue_max[0] = 256; ...
 *        vn->vdev.ops = &vnet_ops;  vn->vdev.priv = vn;
 *        r = virtio_dev_init(&vn->vdev, mem);   // creates eventfds + worker thread
 *    VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX and VIRTIO_RING_F_INDIRECT_DESC
 *    are added by the core; do not offer legacy-only features.
 *    Then hand it to the bus: vbus_add() (vmm/virtio/vbus.h) picks a slot,
 *    wires its interrupt (irqfd) and queue notifications (ioeventfd), and
 *    describes it to the guest in ACPI.  vbus owns it from then on and calls
 *    ops->free() when it is detached or the VMM exits.
 *
 * 2. Threads.  Every device has ONE worker thread, started by
 *    virtio_dev_init().  All of these run on it, one at a time:
 *      - ops->queue_notify(dev, q): the driver kicked queue q (ioeventfd on
 *        the QueueNotify register; the vCPU thread never runs device I/O);
 *      - your own fd callbacks registered with virtio_dev_watch_fd() (a tap,
 *        a listening Unix socket, a timerfd...).
 *    They are only called while the device is live: the driver has set
 *    DRIVER_OK and the device is not NEEDS_RESET.  Your fds are not even
 *    polled otherwise (so a readable tap does not spin while the guest has
 *    no driver).  Worker callbacks may block on I/O for a bounded time
 *    (a disk read), never indefinitely.
 *    ops->config_read/config_write run on a vCPU thread with dev->lock held:
 *    keep them short, touch only config state.
 *    ops->reset runs with dev->lock held after the worker has finished its
 *    current callback (the transport waits), so no callback is running: drop
 *    every in-flight request and forget queue positions.  The transport has
 *    already reset the queues.
 *
 * 3. Queues.  In queue_notify (or an fd callback), loop:
 *        struct virtq_chain *c = &dev_priv->chain;   // big: keep it in your struct
 *        for (;;) {
 *            int r = virtq_pop(q, c);
 *            if (r < 0) { virtio_dev_set_needs_reset(dev, "bad chain"); return; }
 *            if (r == 0) { if (!virtq_enable_notify(q)) break; continue; }
 *            ... c->iov[0 .. c->nr_out)      readable by the device (driver -> device)
 *            ... c->iov[c->nr_out .. c->nr_out + c->nr_in)  writable by the device
 *            ... c->out_len / c->in_len: their total byte counts
 *            virtq_push(q, c->head, bytes_written_into_in_iovs);
 *        }
 *        virtio_dev_notify_queue(dev, q);   // raises the interrupt if the driver wants one
 *    virtq_pop() has already checked every descriptor, index, length, loop
 *    and indirect table, and mapped every buffer through mem_ptr(): the
 *    iovecs point into guest RAM and nowhere else.  A negative result means
 *    the driver broke the ring: mark the device broken (above) and stop; the
 *    guest must reset it.  A request whose *content* is wrong (an unknown
 *    command, a too-short header) is failed with the device's error status,
 *    not a device reset.  Guest memory may change under you at any time:
 *    copy a header out of the iovecs (virtq_iov_read()) before checking it.
 *
 * 4. Interrupts: virtio_dev_notify_queue() after pushing (honours
 *    EVENT_IDX / NO_INTERRUPT), virtio_dev_config_changed() after changing
 *    config space (bumps ConfigGeneration, config interrupt).  Both are
 *    callable from any thread.  Under the hood: InterruptStatus bits plus a
 *    write to the device's irqfd eventfd (KVM injects an edge on the GSI).
 *
 * 5. Broken device: virtio_dev_set_needs_reset(dev, why) sets
 *    DEVICE_NEEDS_RESET in the status register, raises a config interrupt,
 *    logs `why` once, and stops calling your callbacks until the driver
 *    resets the device.  The VMM keeps running.
 *
 * 6. Hibernate (vmm/virtio/vsnap.h, docs/hibernate.md).  The transport's
 *    state (features, status, queue addresses and positions) is saved for
 *    you.  A device that can be saved once its driver has started it
 *    provides ops->snap_cfg (what a new process needs to re-create it: a
 *    path, a tap name...).  virtio_dev_freeze() stops the worker for the
 *    whole save (no callback runs, fds are not polled) and then calls
 *    ops->quiesce: leave nothing half-done there - a chain popped but not
 *    pushed is given back with virtq_unpop(), volumes are flushed.  After
 *    a resume, ops->restored runs once the transport state is back (tell
 *    the tap what the driver accepted, drop connections that could not
 *    survive the process); the core then re-kicks every ready queue.
 */
#ifndef VMM_VIRTIO_VIRTIO_H
#define VMM_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "vmm/mem.h"

#define VIRTIO_MAX_QUEUES   8
#define VIRTQ_MAX_SIZE      1024   /* largest QueueNumMax a device may offer (power of 2) */
#define VIRTQ_CHAIN_MAX     1024   /* most descriptors in one chain, indirect ones included */
#define VIRTIO_MAX_WATCHES  8      /* fds a device may add to its worker's poll set */
#define VIRTIO_CONFIG_MAX   256    /* device config space bytes (at transport offset 0x100) */

/* Status register bits (virtio 1.x, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE  1u
#define VIRTIO_STATUS_DRIVER       2u
#define VIRTIO_STATUS_DRIVER_OK    4u
#define VIRTIO_STATUS_FEATURES_OK  8u
#define VIRTIO_STATUS_NEEDS_RESET  0x40u
#define VIRTIO_STATUS_FAILED       0x80u

/* InterruptStatus bits. */
#define VIRTIO_ISR_QUEUE   1u
#define VIRTIO_ISR_CONFIG  2u

/* ------------------------------------------------------------------ */
/* Split virtqueue (vmm/virtio/virtq.c).  Pure: guest memory only.    */
/* ------------------------------------------------------------------ */

struct virtq {
	/* Written by the transport from the driver's register writes, only
	 * while the queue is not ready. */
	unsigned int index;
	uint16_t num_max;        /* QueueNumMax (power of 2, <= VIRTQ_MAX_SIZE) */
	uint16_t num;            /* QueueNum chosen by the driver */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;              /* QueueReady and rings mapped (virtq_map succeeded) */

	/* Device side, set by virtq_map(). */
	const struct guest_mem *mem;
	struct vring_desc *desc;       /* num entries, host view of guest RAM */
	struct vring_avail *avail;     /* flags, idx, ring[num], used_event */
	struct vring_used *used;       /* flags, idx, ring[num], avail_event */
	bool event_idx;                /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;                 /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint16_t last_avail;           /* next avail ring slot to take */
	uint16_t used_idx;             /* our copy of used->idx */
	uint16_t signalled_used;       /* used_idx when we last decided to interrupt */
	bool signalled_valid;
	/* Bumped by every successful virtq_map() and kept by virtq_reset():
	 * a device that holds a popped chain (or pointers into its buffers)
	 * from one round to the next records the epoch it popped it in and
	 * drops the chain if the epoch changed.  The driver may disable a
	 * queue (QueueReady = 0) and enable it on new rings without a device
	 * reset; the old chain's buffers may be freed guest memory by then
	 * and its head means nothing in the new ring. */
	uint32_t epoch;
};

/* One request: up to VIRTQ_CHAIN_MAX buffers, device-readable ones first. */
struct virtq_chain {
	uint16_t head;                 /* give back to virtq_push() */
	unsigned int nr_out;           /* iov[0, nr_out): driver -> device */
	unsigned int nr_in;            /* iov[nr_out, nr_out + nr_in): device -> driver */
	uint64_t out_len, in_len;      /* byte totals of each side (each < 2^32) */
	struct iovec iov[VIRTQ_CHAIN_MAX];
};

/* Reset the device side of q (keeps index and num_max; clears ready, num,
 * addresses and positions). */
void virtq_reset(struct virtq *q);

/* Validate the driver's queue configuration and map the three rings:
 * num a power of 2 in 1..num_max, alignment (desc 16, avail 2, used 4),
 * every ring inside guest RAM.  0, or -EINVAL (num/alignment) / -EFAULT
 * (not RAM); q is left not ready on error. */
int virtq_map(struct virtq *q, const struct guest_mem *mem, bool event_idx, bool indirect);

/* Take the next available chain.  Returns 1 with *c filled, 0 when the
 * queue is empty, or a negative errno when the driver broke the ring
 * (avail idx more than num ahead, head or next out of range, a loop or a
 * chain longer than the queue, a buffer outside RAM, a readable buffer
 * after a writable one, a bad or nested indirect table, a length total
 * >= 4 GiB).  After a negative result the queue must not be used until
 * reset.  Only call on a ready queue. */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/* Give back the last `n` chains virtq_pop() returned, unused (their
 * descriptors are still the driver's, untouched): the next pop returns
 * them again.  For a device that must stop between pop and push
 * (hibernate). */
void virtq_unpop(struct virtq *q, uint16_t n);

/* Put `head` in the used ring with `len` bytes written.  Publishes used->idx
 * with release ordering. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* Should the driver be interrupted for what was pushed since the last time
 * this returned true?  EVENT_IDX: vring_need_event(used_event, ...);
 * otherwise !(avail->flags & VRING_AVAIL_F_NO_INTERRUPT).  Includes the
 * full memory barrier the check needs. */
bool virtq_need_notify(struct virtq *q);

/* Ask the driver to kick us again (EVENT_IDX: avail_event = last_avail;
 * else clear VRING_USED_F_NO_NOTIFY), then re-check: true when buffers
 * arrived meanwhile and the caller must pop again. */
bool virtq_enable_notify(struct virtq *q);
/* Tell the driver not to bother kicking (we are polling the queue anyway). */
void virtq_disable_notify(struct virtq *q);

/* The pure EVENT_IDX rule (same as Linux's vring_need_event). */
static inline bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* Copy `len` bytes at byte offset `off` of the iovecs [iov, iov+n) into dst
 * / from src.  Return the bytes copied (less than len when the iovecs end). */
size_t virtq_iov_read(const struct iovec *iov, unsigned int n, size_t off, void *dst, size_t len);
size_t virtq_iov_write(const struct iovec *iov, unsigned int n, size_t off, const void *src,
		       size_t len);

/* ------------------------------------------------------------------ */
/* Devices (vmm/virtio/virtio.c)                                      */
/* ------------------------------------------------------------------ */

struct virtio_dev;
struct json_object;
struct vsnap_devcfg;

struct virtio_dev_ops {
	/* Device config space, `off` from the start of it; off + len <=
	 * dev->config_len is checked by the transport.  vCPU thread, dev->lock
	 * held.  NULL: reads of dev->config, writes ignored. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, void *data, uint32_t len);
	void (*config_write)(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len);
	/* The driver set DRIVER_OK; dev->driver_features is final and every
	 * ready queue is mapped.  Return 0, or -errno to mark the device
	 * NEEDS_RESET.  vCPU thread, dev->lock held, worker idle. Optional. */
	int (*activate)(struct virtio_dev *d);
	/* Device reset (driver wrote 0 to Status, or the VM rebooted).  dev->lock
	 * held, worker idle.  Optional. */
	void (*reset)(struct virtio_dev *d);
	/* Queue kicked.  Worker thread, device live. */
	void (*queue_notify)(struct virtio_dev *d, struct virtq *q);
	/* Release the device's own resources (files, fds, memory including the
	 * struct that embeds the virtio_dev).  Called by virtio_dev_free()
	 * after the worker has stopped.  Required. */
	void (*free)(struct virtio_dev *d);
	/* Device facts for the control `status` reply (may be NULL): add
	 * fields to the json-c object `o` (e.g. "file", "readonly").  Main
	 * thread, dev->lock held. */
	void (*describe)(struct virtio_dev *d, struct json_object *o);
	/* Hibernate, see 6. above.  All optional; without snap_cfg a device
	 * the driver has touched cannot be hibernated (the VMM refuses).
	 * snap_cfg: fill c (c->device_id is set) with what re-creates the
	 *   device in a new process.  Main thread, device frozen.
	 * quiesce: the worker is frozen and idle: finish or give back what is
	 *   in flight, flush.  0 or -errno (the hibernate is aborted and the
	 *   device thawed).  Main thread, dev->lock not held.
	 * restored: the transport state is back (status, features, mapped
	 *   queues).  Main thread, dev->lock held, worker idle. */
	void (*snap_cfg)(struct virtio_dev *d, struct vsnap_devcfg *c);
	int (*quiesce)(struct virtio_dev *d);
	void (*restored)(struct virtio_dev *d);
};

/* Callback for an fd the device watches: `revents` as poll(2) gives them. */
typedef void (*virtio_fd_cb)(struct virtio_dev *d, int fd, short revents, void *opaque);

struct virtio_watch {
	int fd;                  /* -1: slot unused */
	short events;            /* 0: registered but paused */
	virtio_fd_cb cb;
	void *opaque;
};

struct virtio_dev {
	/* ---- set by the device before virtio_dev_init() ---- */
	const char *name;               /* for logs, e.g. "blk0", "net0" */
	uint32_t device_id;             /* VIRTIO_ID_BLOCK, VIRTIO_ID_NET, ... */
	uint64_t host_features;         /* device-specific feature bits offered */
	unsigned int nr_queues;         /* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_max[VIRTIO_MAX_QUEUES]; /* QueueNumMax per queue (power of 2) */
	uint32_t config_len;            /* bytes of config space (<= VIRTIO_CONFIG_MAX) */
	uint8_t config[VIRTIO_CONFIG_MAX]; /* default config storage (little-endian) */
	const struct virtio_dev_ops *ops;
	void *priv;                     /* the device's own struct */

	/* ---- core state: read-only for devices unless said otherwise ---- */
	const struct guest_mem *mem;
	pthread_mutex_t lock;           /* transport registers, status, queue config */
	pthread_cond_t idle_cond;       /* worker finished a round */
	uint64_t offered;               /* host_features | VERSION_1 | EVENT_IDX | INDIRECT */
	uint64_t driver_features;       /* what the driver accepted (final at DRIVER_OK) */
	uint32_t status;                /* Status register */
	uint32_t isr;                   /* InterruptStatus (atomic) */
	uint32_t config_generation;     /* atomic */
	struct virtq vqs[VIRTIO_MAX_QUEUES];
	int irq_fd;                     /* eventfd: the transport binds it to a GSI (irqfd) */
	int kick_fd[VIRTIO_MAX_QUEUES]; /* eventfds: bound to QueueNotify (ioeventfd) */
	int ctl_fd;                     /* eventfd: wakes the worker (state change, stop) */
	struct virtio_watch watches[VIRTIO_MAX_WATCHES];
	pthread_t worker;
	bool worker_started;
	bool worker_busy;               /* inside a callback round (dev->lock protects) */
	bool stopping;
	bool frozen;                    /* hibernate: no callback runs (virtio_dev_freeze) */
	bool broken_logged;
	uint64_t kicks, irqs;           /* counters (atomic) */
	/* Set by the bus: called (worker thread, no lock held) after every
	 * virtio_dev_notify_queue(), so a vCPU polling in PV IDLE wakes up. */
	void (*used_cb)(void *opaque);
	void *used_opaque;
};

/* Set up the core part of `d` (the device fields must be filled): eventfds,
 * the lock, and the worker thread.  0 or -errno; on error nothing is left
 * to free in the core (the device still owns its own resources). */
int virtio_dev_init(struct virtio_dev *d, const struct guest_mem *mem);

/* Stop the worker, close the core's fds, then call d->ops->free(d).  The
 * device must no longer be on a bus. */
void virtio_dev_free(struct virtio_dev *d);

/* Watch `fd` on the worker thread (poll(2) `events`), calling cb while the
 * device is live.  Returns a watch id >= 0 or -ENOSPC.  Call after
 * virtio_dev_init() and before the device goes on a bus, or from the
 * worker thread. */
int virtio_dev_watch_fd(struct virtio_dev *d, int fd, short events, virtio_fd_cb cb, void *opaque);
/* Change the events of a watch (0 pauses it): e.g. stop reading a tap while
 * the receive queue has no buffers.  Worker thread only. */
void virtio_dev_watch_set(struct virtio_dev *d, int id, short events);

/* Interrupt the driver if q's rules say so (any thread). */
void virtio_dev_notify_queue(struct virtio_dev *d, struct virtq *q);
/* Config space changed: ConfigGeneration++ and a config interrupt (any thread). */
void virtio_dev_config_changed(struct virtio_dev *d);
/* The driver broke the device: NEEDS_RESET + config interrupt (any thread;
 * takes dev->lock, so do not call it with the lock held - use the _locked
 * variant there). */
void virtio_dev_set_needs_reset(struct virtio_dev *d, const char *why);
void virtio_dev_set_needs_reset_locked(struct virtio_dev *d, const char *why);

/* Hibernate: stop the worker (no callback runs and the device's fds are
 * not polled until virtio_dev_thaw), wait for its current round, then
 * ops->quiesce.  0 or -errno from quiesce (the device stays frozen: thaw
 * it).  Main thread. */
int virtio_dev_freeze(struct virtio_dev *d);
/* Undo virtio_dev_freeze (a failed hibernate) and look at every ready
 * queue again: kicks that arrived meanwhile were dropped.  Harmless on a
 * device that is not frozen. */
void virtio_dev_thaw(struct virtio_dev *d);

/* Did the driver accept feature `bit`? */
static inline bool virtio_has_feature(const struct virtio_dev *d, unsigned int bit)
{
	return (d->driver_features >> bit) & 1;
}

/* ---- for the transport (vmm/virtio/mmio.c) ---- */

/* Is the device live (DRIVER_OK, not NEEDS_RESET)?  dev->lock held. */
bool virtio_dev_live_locked(const struct virtio_dev *d);
/* Wait until the worker is between callback rounds; dev->lock held (it is
 * released while waiting).  After it returns, and while the lock is held,
 * no callback runs. */
void virtio_dev_quiesce_locked(struct virtio_dev *d);
/* Full device reset (status 0, queues reset, ops->reset); dev->lock held. */
void virtio_dev_reset_locked(struct virtio_dev *d);
/* Wake the worker so it re-reads the device state (after DRIVER_OK). */
void virtio_dev_wake(struct virtio_dev *d);
/* Kick queue `qi` by hand (a QueueNotify write that KVM did not turn into an
 * ioeventfd signal). */
void virtio_dev_kick(struct virtio_dev *d, unsigned int qi);

#endif

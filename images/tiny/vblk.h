/* images/tiny/vblk.h - polled virtio-blk driver: one request at a time. */
#ifndef IMAGES_TINY_VBLK_H
#define IMAGES_TINY_VBLK_H

#include <stdbool.h>
#include <stdint.h>

#include "images/tiny/clock.h"
#include "images/tiny/virtio.h"

#define VBLK_SECTOR 512
#define VBLK_SERIAL_LEN 20        /* GET_ID answer, not NUL-terminated when full */

struct vblk_req;                  /* header + status, in dma memory */

struct vblk {
	struct vdev dev;
	struct vq q;
	struct vblk_req *req;
	uint8_t *buf;                 /* one sector (or the GET_ID answer), dma memory */
	uint64_t capacity;            /* sectors */
	bool ro, flush;               /* VIRTIO_BLK_F_RO / F_FLUSH negotiated */
	bool pv;                      /* sleep in PV IDLE while waiting */
	const struct tclock *clock;
};

/* 0, or a negative code (the device is marked FAILED). */
int vblk_init(struct vblk *b, const struct vdev *found, struct dma_area *dma,
	      const struct tclock *clock, bool pv);
/* Sector I/O through b->buf.  0, or -1 (bad sector / read-only), -2 (device
 * error status), -3 (timeout: no completion within VBLK_TIMEOUT_US). */
int vblk_read(struct vblk *b, uint64_t sector);
int vblk_write(struct vblk *b, uint64_t sector);
int vblk_flush(struct vblk *b);
/* Serial (VIRTIO_BLK_T_GET_ID) into out (VBLK_SERIAL_LEN + 1, NUL-terminated). */
int vblk_serial(struct vblk *b, char *out);

#endif

/* vmm/virtio/blk.h - virtio-blk on a raw (sparse) image file.
 *
 * Requests: IN, OUT, FLUSH (fdatasync), GET_ID (the volume id, so the
 * guest's /dev/disk/by-id/virtio-<id> names the volume), DISCARD and
 * WRITE_ZEROES (fallocate PUNCH_HOLE | KEEP_SIZE).  Features: SIZE_MAX,
 * SEG_MAX, BLK_SIZE (512), FLUSH, and RO for read-only volumes (no discard
 * or write-zeroes then).  I/O runs on the device's worker thread with
 * preadv/pwritev, never on a vCPU thread.
 *
 * The image is locked with flock(2) - exclusive, or shared when read-only -
 * so a second VMM (or a second attach in this one) cannot open a volume in
 * use; the error says so.
 */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_blk.h>

#include "vmm/virtio/virtio.h"

#define VBLK_QUEUE_SIZE   256
#define VBLK_SEG_MAX      (VBLK_QUEUE_SIZE - 2)  /* data segments: header and status take 2 */
#define VBLK_SIZE_MAX     (1u << 20)             /* largest single segment */
#define VBLK_DISCARD_SEG_MAX 32
#define VBLK_SECTOR       512ull

struct vblk_cfg {
	const char *file;
	const char *id;           /* volume id: serial number, control-socket name */
	bool readonly;
};

/* Parse a --drive value "file=PATH,id=ID[,readonly]" into cfg (pointers into
 * `buf`, a writable copy the caller keeps alive).  0 or -EINVAL + err. */
int vblk_parse_spec(char *buf, struct vblk_cfg *cfg, char *err, size_t errlen);

/* Open and lock the image and build the device (virtio_dev_init done).
 * NULL with err filled and errno set: ENOENT/EACCES (cannot open),
 * EINVAL (not a regular file or block device, empty), EWOULDBLOCK (locked
 * by another VMM).  Freed through virtio_dev_free(&vb->vdev) - normally by
 * the bus. */
struct virtio_dev *vblk_new(const struct vblk_cfg *cfg, const struct guest_mem *mem,
			    char *err, size_t errlen);

/* ---- request parsing (pure; unit tests and the fuzzer drive it) ---- */

struct vblk_req {
	uint32_t type;
	uint64_t sector;
	uint8_t *status;             /* last writable byte of the chain */
	/* Data buffers, trimmed of header and status: readable for OUT,
	 * DISCARD, WRITE_ZEROES; writable for IN and GET_ID. */
	struct iovec *data;          /* points into the caller's scratch array */
	unsigned int nr_data;
	uint64_t data_len;
};

/* Check a chain as a virtio-blk request against a disk of `capacity`
 * sectors.  Returns VIRTIO_BLK_S_OK (execute it), VIRTIO_BLK_S_IOERR
 * (out of range, misaligned, write to a read-only disk),
 * VIRTIO_BLK_S_UNSUPP (unknown type), all with r->status set; or -EINVAL
 * when there is no place for a status byte or no header (the driver broke
 * the protocol; nothing can be reported).  `scratch` has VIRTQ_CHAIN_MAX
 * entries. */
int vblk_parse_req(const struct virtq_chain *c, uint64_t capacity, bool readonly,
		   struct iovec *scratch, struct vblk_req *r);

#endif

/* vmm/virtio/blk.c - virtio-blk on a raw image file (see blk.h). */
#include "vmm/virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <json-c/json.h>

#include "common/log.h"
#include "vmm/virtio/vsnap.h"

struct vblk {
	struct virtio_dev vdev;        /* first: the bus frees through it */
	char name[16];
	char id[64];
	char *path;
	int fd;
	bool readonly;
	uint64_t capacity;             /* sectors */
	uint64_t reads, writes, flushes, discards, errors;
	struct virtq_chain chain;      /* worker thread only */
	struct iovec scratch[VIRTQ_CHAIN_MAX];
};

/* ---- --drive parsing ---- */

int vblk_parse_spec(char *buf, struct vblk_cfg *cfg, char *err, size_t errlen)
{
	char *save = NULL;

	memset(cfg, 0, sizeof(*cfg));
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "file=", 5) && tok[5]) {
			cfg->file = tok + 5;
		} else if (!strncmp(tok, "id=", 3) && tok[3]) {
			cfg->id = tok + 3;
		} else if (!strcmp(tok, "readonly") || !strcmp(tok, "readonly=on") ||
			   !strcmp(tok, "ro")) {
			cfg->readonly = true;
		} else {
			snprintf(err, errlen, "unknown drive option '%s' (expected file=PATH,id=ID[,readonly])",
				 tok);
			return -EINVAL;
		}
	}
	if (!cfg->file || !cfg->id) {
		snprintf(err, errlen, "a drive needs file=PATH and id=ID");
		return -EINVAL;
	}
	if (strlen(cfg->id) > 63) {
		snprintf(err, errlen, "drive id '%.20s...' is longer than 63 characters", cfg->id);
		return -EINVAL;
	}
	return 0;
}

/* ---- request parsing ---- */

/* Copy the byte range [off, off + len) of iov[0..n) into dst as iovecs. */
static unsigned int iov_slice(const struct iovec *iov, unsigned int n, uint64_t off, uint64_t len,
			      struct iovec *dst)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t take = l - off < len ? l - off : len;

		dst[k++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, (size_t)take };
		len -= take;
		off = 0;
	}
	return k;
}

int vblk_parse_req(const struct virtq_chain *c, uint64_t capacity, bool readonly,
		   struct iovec *scratch, struct vblk_req *r)
{
	struct virtio_blk_outhdr hdr;
	const struct iovec *in = c->iov + c->nr_out;
	const struct iovec *last;
	uint64_t n;

	memset(r, 0, sizeof(*r));
	if (c->in_len < 1 || c->out_len < sizeof(hdr))
		return -EINVAL;
	/* The status byte is the last byte of the last writable buffer;
	 * zero-length buffers are skipped. */
	last = NULL;
	for (unsigned int i = c->nr_in; i-- > 0;) {
		if (in[i].iov_len) {
			last = &in[i];
			break;
		}
	}
	if (!last)
		return -EINVAL;
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	virtq_iov_read(c->iov, c->nr_out, 0, &hdr, sizeof(hdr)); /* copied: the guest may change it */
	r->type = hdr.type & ~VIRTIO_BLK_T_BARRIER;
	r->sector = hdr.sector;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		r->data_len = c->in_len - 1;
		r->nr_data = iov_slice(in, c->nr_in, 0, r->data_len, scratch);
		break;
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		r->data_len = c->out_len - sizeof(hdr);
		r->nr_data = iov_slice(c->iov, c->nr_out, sizeof(hdr), r->data_len, scratch);
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
	r->data = scratch;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (r->type == VIRTIO_BLK_T_OUT && readonly)
			return VIRTIO_BLK_S_IOERR;
		if (r->data_len % VBLK_SECTOR)
			return VIRTIO_BLK_S_IOERR;
		n = r->data_len / VBLK_SECTOR;
		if (r->sector > capacity || n > capacity - r->sector)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (readonly)
			return VIRTIO_BLK_S_IOERR;
		if (r->data_len == 0 || r->data_len % sizeof(struct virtio_blk_discard_write_zeroes) ||
		    r->data_len / sizeof(struct virtio_blk_discard_write_zeroes) > VBLK_DISCARD_SEG_MAX)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;   /* each segment is range-checked as it runs */
	default:
		return VIRTIO_BLK_S_OK;
	}
}

/* ---- execution (worker thread) ---- */

static int rw_all(struct vblk *vb, bool write, struct iovec *iov, unsigned int n, uint64_t off)
{
	while (n) {
		ssize_t k = write ? pwritev(vb->fd, iov, (int)n, (off_t)off)
				  : preadv(vb->fd, iov, (int)n, (off_t)off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0) {
			if (write)
				return -EIO;
			/* Past the end of a file that shrank: zeros. */
			for (unsigned int i = 0; i < n; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			return 0;
		}
		off += (uint64_t)k;
		while (n && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

static int write_zeroes(struct vblk *vb, uint64_t off, uint64_t len)
{
	static const uint8_t zero[65536];

	while (len) {
		size_t k = len < sizeof(zero) ? (size_t)len : sizeof(zero);
		ssize_t w = pwrite(vb->fd, zero, k, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static uint8_t do_discard(struct vblk *vb, const struct vblk_req *r)
{
	size_t nseg = (size_t)(r->data_len / sizeof(struct virtio_blk_discard_write_zeroes));

	for (size_t i = 0; i < nseg; i++) {
		struct virtio_blk_discard_write_zeroes seg;
		uint64_t off, len;

		virtq_iov_read(r->data, r->nr_data, i * sizeof(seg), &seg, sizeof(seg));
		if (seg.sector > vb->capacity || seg.num_sectors > vb->capacity - seg.sector)
			return VIRTIO_BLK_S_IOERR;
		if (seg.flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return VIRTIO_BLK_S_UNSUPP;
		off = seg.sector * VBLK_SECTOR;
		len = (uint64_t)seg.num_sectors * VBLK_SECTOR;
		if (!len)
			continue;
		/* A punched hole reads as zeros: right for both commands. */
		if (fallocate(vb->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len) == 0)
			continue;
		if (r->type == VIRTIO_BLK_T_DISCARD)
			continue;  /* discard is a hint: not punching is allowed */
		if (write_zeroes(vb, off, len) < 0)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* Run one request; returns the bytes written into the guest's buffers
 * (data + status) for the used ring. */
static uint32_t vblk_exec(struct vblk *vb, const struct virtq_chain *c)
{
	struct vblk_req r;
	uint32_t written = 1;
	int st = vblk_parse_req(c, vb->capacity, vb->readonly, vb->scratch, &r);
	int e;

	if (st < 0)
		return UINT32_MAX;   /* caller marks the device broken */
	if (st == VIRTIO_BLK_S_OK) {
		switch (r.type) {
		case VIRTIO_BLK_T_IN:
			e = rw_all(vb, false, r.data, r.nr_data, r.sector * VBLK_SECTOR);
			st = e < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
			if (!e)
				written += (uint32_t)r.data_len;
			vb->reads++;
			break;
		case VIRTIO_BLK_T_OUT:
			e = rw_all(vb, true, r.data, r.nr_data, r.sector * VBLK_SECTOR);
			st = e < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
			vb->writes++;
			break;
		case VIRTIO_BLK_T_FLUSH:
			st = !vb->readonly && fdatasync(vb->fd) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
			vb->flushes++;
			break;
		case VIRTIO_BLK_T_GET_ID: {
			char serial[VIRTIO_BLK_ID_BYTES] = { 0 };
			size_t n = strlen(vb->id);

			memcpy(serial, vb->id, n < sizeof(serial) ? n : sizeof(serial));
			n = r.data_len < sizeof(serial) ? (size_t)r.data_len : sizeof(serial);
			written += (uint32_t)virtq_iov_write(r.data, r.nr_data, 0, serial, n);
			break;
		}
		case VIRTIO_BLK_T_DISCARD:
		case VIRTIO_BLK_T_WRITE_ZEROES:
			st = do_discard(vb, &r);
			vb->discards++;
			break;
		default:
			st = VIRTIO_BLK_S_UNSUPP;
		}
	}
	if (st != VIRTIO_BLK_S_OK)
		vb->errors++;
	*r.status = (uint8_t)st;
	return written;
}

static void vblk_queue_notify(struct virtio_dev *d, struct virtq *q)
{
	struct vblk *vb = d->priv;
	unsigned int done = 0;

	for (;;) {
		int r = virtq_pop(q, &vb->chain);
		uint32_t len;

		if (r < 0) {
			virtio_dev_set_needs_reset(d, "malformed descriptor chain");
			break;
		}
		if (r == 0) {
			if (!virtq_enable_notify(q))
				break;
			continue;
		}
		len = vblk_exec(vb, &vb->chain);
		if (len == UINT32_MAX) {
			virtio_dev_set_needs_reset(d, "request without header or status byte");
			break;
		}
		virtq_push(q, vb->chain.head, len);
		if (++done % 32 == 0)
			virtio_dev_notify_queue(d, q);
	}
	virtio_dev_notify_queue(d, q);
}

static void vblk_describe(struct virtio_dev *d, struct json_object *o)
{
	struct vblk *vb = d->priv;

	json_object_object_add(o, "type", json_object_new_string("blk"));
	json_object_object_add(o, "file", json_object_new_string(vb->path));
	json_object_object_add(o, "readonly", json_object_new_boolean(vb->readonly));
	json_object_object_add(o, "sectors", json_object_new_int64((int64_t)vb->capacity));
	json_object_object_add(o, "reads", json_object_new_int64((int64_t)vb->reads));
	json_object_object_add(o, "writes", json_object_new_int64((int64_t)vb->writes));
	json_object_object_add(o, "flushes", json_object_new_int64((int64_t)vb->flushes));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)vb->errors));
}

static void vblk_free(struct virtio_dev *d)
{
	struct vblk *vb = d->priv;

	if (vb->fd >= 0) {
		if (!vb->readonly && fdatasync(vb->fd) < 0)
			log_warn("virtio %s: fdatasync %s: %s", vb->name, vb->path, strerror(errno));
		close(vb->fd);   /* drops the flock */
	}
	free(vb->path);
	free(vb);
}

/* Hibernate: the worker is frozen, so no request is in flight (each runs
 * to completion inside one worker round); what was acknowledged must be on
 * the disk before the snapshot says so. */
static int vblk_quiesce(struct virtio_dev *d)
{
	struct vblk *vb = d->priv;

	if (!vb->readonly && fdatasync(vb->fd) < 0) {
		int r = -errno;

		log_err("virtio %s: fdatasync %s: %s", vb->name, vb->path, strerror(-r));
		return r;
	}
	return 0;
}

static void vblk_snap_cfg(struct virtio_dev *d, struct vsnap_devcfg *c)
{
	struct vblk *vb = d->priv;
	struct stat st;

	snprintf(c->path, sizeof(c->path), "%s", vb->path);
	snprintf(c->serial, sizeof(c->serial), "%s", vb->id);
	c->readonly = vb->readonly;
	/* The file's size (a block device: the capacity): resume checks it. */
	c->size = fstat(vb->fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size
								  : vb->capacity * VBLK_SECTOR;
}

static const struct virtio_dev_ops vblk_ops = {
	.queue_notify = vblk_queue_notify,
	.free = vblk_free,
	.describe = vblk_describe,
	.snap_cfg = vblk_snap_cfg,
	.quiesce = vblk_quiesce,
};

struct virtio_dev *vblk_new(const struct vblk_cfg *cfg, const struct guest_mem *mem,
			    char *err, size_t errlen)
{
	struct virtio_blk_config bc;
	struct vblk *vb;
	struct stat st;
	uint64_t size = 0;
	int r;

	vb = calloc(1, sizeof(*vb));
	if (!vb) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	vb->fd = -1;
	vb->readonly = cfg->readonly;
	snprintf(vb->id, sizeof(vb->id), "%s", cfg->id);
	vb->path = strdup(cfg->file);
	if (!vb->path) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	vb->fd = open(cfg->file, (cfg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (vb->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "drive %s: cannot open %s: %s", cfg->id, cfg->file, strerror(errno));
		goto fail;
	}
	if (fstat(vb->fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "drive %s: %s: %s", cfg->id, cfg->file, strerror(errno));
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(vb->fd, BLKGETSIZE64, &size) < 0)
			size = 0;
	} else {
		r = -EINVAL;
		snprintf(err, errlen, "drive %s: %s is not a regular file or block device", cfg->id,
			 cfg->file);
		goto fail;
	}
	if (size < VBLK_SECTOR) {
		r = -EINVAL;
		snprintf(err, errlen, "drive %s: %s is smaller than one 512-byte sector", cfg->id,
			 cfg->file);
		goto fail;
	}
	/* One writer or several readers per image, across processes. */
	if (flock(vb->fd, (cfg->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		r = -errno;
		snprintf(err, errlen, "drive %s: %s is in use by another VMM (locked)%s", cfg->id,
			 cfg->file, errno == EWOULDBLOCK ? "" : ": lock failed");
		goto fail;
	}
	vb->capacity = size / VBLK_SECTOR;

	memset(&bc, 0, sizeof(bc));
	bc.capacity = vb->capacity;
	bc.size_max = VBLK_SIZE_MAX;
	bc.seg_max = VBLK_SEG_MAX;
	bc.blk_size = VBLK_SECTOR;
	bc.max_discard_sectors = UINT32_MAX;
	bc.max_discard_seg = VBLK_DISCARD_SEG_MAX;
	bc.discard_sector_alignment = 8;   /* 4 KiB: the host's hole granularity */
	bc.max_write_zeroes_sectors = UINT32_MAX;
	bc.max_write_zeroes_seg = VBLK_DISCARD_SEG_MAX;
	bc.write_zeroes_may_unmap = 1;

	snprintf(vb->name, sizeof(vb->name), "blk");
	vb->vdev.name = vb->name;
	vb->vdev.device_id = VIRTIO_ID_BLOCK;
	vb->vdev.host_features = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
				 (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH);
	if (cfg->readonly)
		vb->vdev.host_features |= 1ull << VIRTIO_BLK_F_RO;
	else
		vb->vdev.host_features |= (1ull << VIRTIO_BLK_F_DISCARD) |
					  (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	vb->vdev.nr_queues = 1;
	vb->vdev.queue_max[0] = VBLK_QUEUE_SIZE;
	vb->vdev.config_len = offsetof(struct virtio_blk_config, unused1) + sizeof(bc.unused1);
	memcpy(vb->vdev.config, &bc, vb->vdev.config_len);
	vb->vdev.ops = &vblk_ops;
	vb->vdev.priv = vb;
	r = virtio_dev_init(&vb->vdev, mem);
	if (r < 0) {
		snprintf(err, errlen, "drive %s: device setup: %s", cfg->id, strerror(-r));
		goto fail;
	}
	return &vb->vdev;

fail:
	if (vb->fd >= 0)
		close(vb->fd);
	free(vb->path);
	free(vb);
	errno = -r;
	return NULL;
}

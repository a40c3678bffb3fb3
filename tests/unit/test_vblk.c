/* tests/unit/test_vblk.c - virtio-blk (vmm/virtio/blk.c): --drive parsing,
 * request parsing against hostile headers and layouts, image opening and
 * the lock that keeps a second VMM off a volume in use. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/mem.h"
#include "vmm/virtio/blk.h"

static struct iovec scratch[VIRTQ_CHAIN_MAX];

/* A chain: header (readable), data, status (writable). */
static void mkchain(struct virtq_chain *c, struct virtio_blk_outhdr *h, void *data, size_t dlen,
		    bool data_writable, uint8_t *status)
{
	memset(c, 0, sizeof(*c));
	c->iov[c->nr_out++] = (struct iovec){ h, sizeof(*h) };
	c->out_len = sizeof(*h);
	if (dlen && !data_writable) {
		c->iov[c->nr_out++] = (struct iovec){ data, dlen };
		c->out_len += dlen;
	}
	if (dlen && data_writable) {
		c->iov[c->nr_out + c->nr_in++] = (struct iovec){ data, dlen };
		c->in_len += dlen;
	}
	c->iov[c->nr_out + c->nr_in++] = (struct iovec){ status, 1 };
	c->in_len += 1;
}

static void test_parse_spec(void **state)
{
	char a[] = "file=/tmp/x.img,id=vol-0abc,readonly", b[] = "id=v,file=/f", c[] = "file=/f",
	     d[] = "file=/f,id=v,bogus=1", err[160];
	struct vblk_cfg cfg;

	(void)state;
	assert_int_equal(vblk_parse_spec(a, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.file, "/tmp/x.img");
	assert_string_equal(cfg.id, "vol-0abc");
	assert_true(cfg.readonly);
	assert_int_equal(vblk_parse_spec(b, &cfg, err, sizeof(err)), 0);
	assert_false(cfg.readonly);
	assert_int_equal(vblk_parse_spec(c, &cfg, err, sizeof(err)), -EINVAL);
	assert_int_equal(vblk_parse_spec(d, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
}

static void test_parse_rw(void **state)
{
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN, .sector = 6 };
	uint8_t data[1024], st = 0xff;
	struct virtq_chain c;
	struct vblk_req r;

	(void)state;
	mkchain(&c, &h, data, sizeof(data), true, &st);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_OK);
	assert_ptr_equal(r.status, &st);
	assert_int_equal(r.data_len, 1024);
	assert_int_equal(r.nr_data, 1);
	h.sector = 7; /* 7 + 2 sectors > 8 */
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_IOERR);
	h.sector = UINT64_MAX; /* sector + count wraps */
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_IOERR);
	/* Not a multiple of 512. */
	h.sector = 0;
	mkchain(&c, &h, data, 100, true, &st);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_IOERR);
	/* Writes: fine, except on a read-only disk. */
	h.type = VIRTIO_BLK_T_OUT;
	mkchain(&c, &h, data, 512, false, &st);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.data_len, 512);
	assert_int_equal(vblk_parse_req(&c, 8, true, scratch, &r), VIRTIO_BLK_S_IOERR);
}

static void test_parse_header_and_data_in_one_buffer(void **state)
{
	/* Header and data share one readable buffer; status + data in one
	 * writable one: the parser slices by bytes, not by buffers. */
	uint8_t out[16 + 512], in[513];
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 1 };
	struct virtq_chain c = { 0 };
	struct vblk_req r;

	(void)state;
	memcpy(out, &h, sizeof(h));
	c.iov[0] = (struct iovec){ out, sizeof(out) };
	c.nr_out = 1;
	c.out_len = sizeof(out);
	c.iov[1] = (struct iovec){ in, sizeof(in) };
	c.nr_in = 1;
	c.in_len = sizeof(in);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_OK);
	assert_ptr_equal(r.data[0].iov_base, out + 16);
	assert_int_equal(r.data[0].iov_len, 512);
	assert_ptr_equal(r.status, in + 512);
	h.type = VIRTIO_BLK_T_IN;
	memcpy(out, &h, sizeof(h));
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.data_len, 512);
	assert_ptr_equal(r.data[0].iov_base, in);
}

static void test_parse_malformed(void **state)
{
	struct virtio_blk_outhdr h = { .type = 77 };
	uint8_t st, data[16];
	struct virtq_chain c;
	struct vblk_req r;

	(void)state;
	mkchain(&c, &h, NULL, 0, false, &st);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_UNSUPP);
	/* No status byte at all. */
	c.nr_in = 0;
	c.in_len = 0;
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), -EINVAL);
	/* Header too short. */
	mkchain(&c, &h, NULL, 0, false, &st);
	c.iov[0].iov_len = 8;
	c.out_len = 8;
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), -EINVAL);
	/* Discard with a payload that is not whole segments, or too many. */
	h.type = VIRTIO_BLK_T_DISCARD;
	mkchain(&c, &h, data, 10, false, &st);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_IOERR);
	mkchain(&c, &h, data, 16, false, &st);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(vblk_parse_req(&c, 8, true, scratch, &r), VIRTIO_BLK_S_IOERR);
	/* FLUSH and GET_ID. */
	h.type = VIRTIO_BLK_T_FLUSH;
	mkchain(&c, &h, NULL, 0, false, &st);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_OK);
	h.type = VIRTIO_BLK_T_GET_ID;
	mkchain(&c, &h, data, 16, true, &st);
	assert_int_equal(vblk_parse_req(&c, 8, false, scratch, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.data_len, 16);
}

static char *tmpimg(size_t size)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_vblk.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
	return path;
}

static void test_open_and_lock(void **state)
{
	struct guest_mem gm;
	struct vblk_cfg cfg = { .id = "vol-1" };
	char err[256];
	struct virtio_dev *a, *b;
	char *path = tmpimg(1 << 20);
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(mem_init(&gm, 16ull << 20), 0);
	cfg.file = "/nonexistent/haneul.img";
	assert_null(vblk_new(&cfg, &gm, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	cfg.file = "/tmp";
	assert_null(vblk_new(&cfg, &gm, err, sizeof(err)));
	assert_true(errno == EISDIR || errno == EINVAL);

	cfg.file = path;
	a = vblk_new(&cfg, &gm, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(a->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(*(uint64_t *)a->config, (1 << 20) / 512); /* capacity */
	assert_true(a->host_features & (1ull << VIRTIO_BLK_F_FLUSH));
	assert_false(a->host_features & (1ull << VIRTIO_BLK_F_RO));
	/* The same file again (this process): refused. */
	b = vblk_new(&cfg, &gm, err, sizeof(err));
	assert_null(b);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_non_null(strstr(err, "in use by another VMM"));
	/* Another process: refused too (flock is per open file). */
	pid = fork();
	if (pid == 0) {
		char e2[256];

		_exit(vblk_new(&cfg, &gm, e2, sizeof(e2)) == NULL && errno == EWOULDBLOCK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	virtio_dev_free(a);
	/* Read-only opens share the lock. */
	cfg.readonly = true;
	a = vblk_new(&cfg, &gm, err, sizeof(err));
	b = vblk_new(&cfg, &gm, err, sizeof(err));
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a->host_features & (1ull << VIRTIO_BLK_F_RO));
	virtio_dev_free(a);
	virtio_dev_free(b);
	unlink(path);
	mem_free(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_parse_rw),
		cmocka_unit_test(test_parse_header_and_data_in_one_buffer),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_open_and_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* vmm/snap.c - snapshot file format (see snap.h).  Pure except for the
 * CPU feature check that picks the CRC32C instruction. */
#include "vmm/snap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CRC32C ---- */

/* Reflected Castagnoli polynomial 0x82f63b78, one byte at a time. */
static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351
};

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc;

	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len)
{
	crc = ~crc;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(crc, buf, len);
#endif
	return ~crc32c_sw(crc, buf, len);
}

/* ---- output buffer ---- */

void snap_buf_free(struct snap_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void snap_put(struct snap_buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *d;

		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = true;
				return;
			}
			cap *= 2;
		}
		d = realloc(b->data, cap);
		if (!d) {
			b->oom = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void snap_put_u8(struct snap_buf *b, uint8_t v)
{
	snap_put(b, &v, 1);
}

void snap_put_u32(struct snap_buf *b, uint32_t v)
{
	uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	snap_put(b, le, 4);
}

void snap_put_u64(struct snap_buf *b, uint64_t v)
{
	snap_put_u32(b, (uint32_t)v);
	snap_put_u32(b, (uint32_t)(v >> 32));
}

void snap_put_str(struct snap_buf *b, const char *s)
{
	if (!s) {
		snap_put_u32(b, 0xffffffffu);
		return;
	}
	snap_put_u32(b, (uint32_t)strlen(s));
	snap_put(b, s, strlen(s));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

void snap_file_begin(struct snap_buf *b, uint64_t realtime_ns)
{
	uint8_t h[SNAP_HDR_SIZE] = { 0 };

	memcpy(h, SNAP_MAGIC, 8);
	wr32(h + 8, SNAP_VERSION);
	wr32(h + 12, SNAP_HDR_SIZE);
	wr64(h + 32, realtime_ns);
	snap_put(b, h, sizeof(h));
}

size_t snap_section_begin(struct snap_buf *b, uint32_t tag, uint32_t instance)
{
	uint8_t h[SNAP_SEC_HDR_SIZE] = { 0 };
	size_t start = b->len;

	wr32(h, tag);
	wr32(h + 4, instance);
	snap_put(b, h, sizeof(h));
	return start;
}

void snap_section_end(struct snap_buf *b, size_t start)
{
	static const uint8_t zero[8];
	uint8_t *h;
	uint64_t len;

	if (b->oom)
		return;
	h = b->data + start;
	len = b->len - start - SNAP_SEC_HDR_SIZE;
	wr64(h + 8, len);
	wr32(h + 16, snap_crc32c(0, h + SNAP_SEC_HDR_SIZE, (size_t)len));
	wr32(h + 20, snap_crc32c(0, h, 20));
	snap_put(b, zero, (8 - (b->len & 7)) & 7);
}

void snap_section_raw(struct snap_buf *b, uint32_t tag, uint32_t instance, const void *p, size_t n)
{
	size_t s = snap_section_begin(b, tag, instance);

	snap_put(b, p, n);
	snap_section_end(b, s);
}

int snap_file_end(struct snap_buf *b)
{
	unsigned int nr = 0;
	size_t off = SNAP_HDR_SIZE;

	if (b->oom || b->len < SNAP_HDR_SIZE)
		return -ENOMEM;
	while (off + SNAP_SEC_HDR_SIZE <= b->len) {
		uint64_t len = rd64(b->data + off + 8);

		off += SNAP_SEC_HDR_SIZE + (size_t)len;
		off = (off + 7) & ~(size_t)7;
		nr++;
	}
	wr64(b->data + 16, b->len);
	wr32(b->data + 24, nr);
	wr32(b->data + 60, snap_crc32c(0, b->data, 60));
	return 0;
}

/* ---- reader ---- */

void snap_rd_init(struct snap_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

bool snap_get(struct snap_rd *r, void *dst, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, r->p + r->off, n);
	r->off += n;
	return true;
}

uint8_t snap_get_u8(struct snap_rd *r)
{
	uint8_t v;

	snap_get(r, &v, 1);
	return v;
}

uint32_t snap_get_u32(struct snap_rd *r)
{
	uint8_t b[4];

	snap_get(r, b, 4);
	return rd32(b);
}

uint64_t snap_get_u64(struct snap_rd *r)
{
	uint8_t b[8];

	snap_get(r, b, 8);
	return rd64(b);
}

char *snap_get_str(struct snap_rd *r, size_t max)
{
	uint32_t n = snap_get_u32(r);
	char *s;

	if (r->bad || n == 0xffffffffu)
		return NULL;
	if (n > max || n > r->len - r->off || memchr(r->p + r->off, 0, n)) {
		r->bad = true;
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (!s) {
		r->bad = true;
		return NULL;
	}
	memcpy(s, r->p + r->off, n);
	s[n] = '\0';
	r->off += n;
	return s;
}

bool snap_rd_done(const struct snap_rd *r)
{
	return !r->bad && r->off == r->len;
}

/* ---- parser ---- */

const char *snap_tag_name(uint32_t tag, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)(tag >> (8 * i));

		buf[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	buf[4] = '\0';
	return buf;
}

int snap_parse(const uint8_t *buf, size_t len, struct snap_file *f, char *err, size_t errlen)
{
	uint32_t version, hsize, nr;
	uint64_t fsize;
	size_t off;
	char tn[5];

	memset(f, 0, sizeof(*f));
	if (len < SNAP_HDR_SIZE || memcmp(buf, SNAP_MAGIC, 8)) {
		snprintf(err, errlen, "not a haneul snapshot (bad magic or shorter than its header)");
		return -EINVAL;
	}
	version = rd32(buf + 8);
	hsize = rd32(buf + 12);
	fsize = rd64(buf + 16);
	nr = rd32(buf + 24);
	if (snap_crc32c(0, buf, 60) != rd32(buf + 60)) {
		snprintf(err, errlen, "header checksum mismatch (corrupt snapshot)");
		return -EBADMSG;
	}
	if (version != SNAP_VERSION) {
		snprintf(err, errlen, "snapshot format version %" PRIu32 ", this haneul-vmm reads version %u",
			 version, SNAP_VERSION);
		return -EPROTO;
	}
	if (hsize != SNAP_HDR_SIZE || rd32(buf + 28) != 0) {
		snprintf(err, errlen, "unsupported header (size %" PRIu32 ", flags 0x%" PRIx32 ")",
			 hsize, rd32(buf + 28));
		return -EINVAL;
	}
	if (fsize != len) {
		snprintf(err, errlen, "snapshot is %zu bytes, its header says %" PRIu64 " (truncated?)",
			 len, fsize);
		return -EINVAL;
	}
	if (nr > SNAP_MAX_SECTIONS) {
		snprintf(err, errlen, "%" PRIu32 " sections (at most %u)", nr, SNAP_MAX_SECTIONS);
		return -EINVAL;
	}
	f->version = version;
	f->realtime_ns = rd64(buf + 32);
	f->secs = calloc(nr ? nr : 1, sizeof(*f->secs));
	if (!f->secs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	off = SNAP_HDR_SIZE;
	for (uint32_t i = 0; i < nr; i++) {
		const uint8_t *h = buf + off;
		uint64_t slen;
		size_t pad;

		if (len - off < SNAP_SEC_HDR_SIZE) {
			snprintf(err, errlen, "section %" PRIu32 ": truncated header", i);
			goto bad;
		}
		if (snap_crc32c(0, h, 20) != rd32(h + 20)) {
			snprintf(err, errlen, "section %" PRIu32 ": header checksum mismatch", i);
			snap_file_free(f);
			return -EBADMSG;
		}
		slen = rd64(h + 8);
		off += SNAP_SEC_HDR_SIZE;
		if (slen > len - off) {
			snprintf(err, errlen, "section %" PRIu32 " (%s): %" PRIu64 " bytes, only %zu left",
				 i, snap_tag_name(rd32(h), tn), slen, len - off);
			goto bad;
		}
		if (snap_crc32c(0, buf + off, (size_t)slen) != rd32(h + 16)) {
			snprintf(err, errlen, "section %s/%" PRIu32 ": checksum mismatch (corrupt snapshot)",
				 snap_tag_name(rd32(h), tn), rd32(h + 4));
			snap_file_free(f);
			return -EBADMSG;
		}
		f->secs[i] = (struct snap_section){
			.tag = rd32(h), .instance = rd32(h + 4), .data = buf + off, .len = slen };
		off += (size_t)slen;
		pad = (8 - (off & 7)) & 7;
		if (pad > len - off) {
			snprintf(err, errlen, "section %" PRIu32 ": truncated padding", i);
			goto bad;
		}
		for (size_t j = 0; j < pad; j++) {
			if (buf[off + j]) {
				snprintf(err, errlen, "section %" PRIu32 ": non-zero padding", i);
				goto bad;
			}
		}
		off += pad;
		for (uint32_t j = 0; j < i; j++) {
			if (f->secs[j].tag == f->secs[i].tag && f->secs[j].instance == f->secs[i].instance) {
				snprintf(err, errlen, "section %s/%" PRIu32 " appears twice",
					 snap_tag_name(f->secs[i].tag, tn), f->secs[i].instance);
				goto bad;
			}
		}
		f->nr = i + 1;
	}
	if (off != len) {
		snprintf(err, errlen, "%zu bytes after the last section", len - off);
		goto bad;
	}
	return 0;

bad:
	snap_file_free(f);
	return -EINVAL;
}

void snap_file_free(struct snap_file *f)
{
	free(f->secs);
	f->secs = NULL;
	f->nr = 0;
}

const struct snap_section *snap_find(const struct snap_file *f, uint32_t tag, uint32_t instance)
{
	for (unsigned int i = 0; i < f->nr; i++)
		if (f->secs[i].tag == tag && f->secs[i].instance == instance)
			return &f->secs[i];
	return NULL;
}

/* ---- META ---- */

#define SNAP_PATH_MAX 4096
#define SNAP_CMDLINE_MAX (64u * 1024)

void snap_meta_put(struct snap_buf *b, const struct snap_meta *m)
{
	snap_put_u64(b, m->mem_size);
	snap_put_u32(b, m->nr_vcpus);
	snap_put_u32(b, m->flags);
	snap_put_u64(b, m->pv_clock_us);
	snap_put_u64(b, m->ready_us);
	snap_put_u32(b, m->reboots);
	snap_put_u32(b, m->boot_mode);
	snap_put_u32(b, m->tsc_khz);
	snap_put(b, m->boot_format, sizeof(m->boot_format));
	snap_put_str(b, m->kernel);
	snap_put_str(b, m->initrd);
	snap_put_str(b, m->cmdline);
}

int snap_meta_get(const struct snap_section *s, struct snap_meta *m, char *err, size_t errlen)
{
	struct snap_rd r;

	memset(m, 0, sizeof(*m));
	snap_rd_init(&r, s->data, (size_t)s->len);
	m->mem_size = snap_get_u64(&r);
	m->nr_vcpus = snap_get_u32(&r);
	m->flags = snap_get_u32(&r);
	m->pv_clock_us = snap_get_u64(&r);
	m->ready_us = snap_get_u64(&r);
	m->reboots = snap_get_u32(&r);
	m->boot_mode = snap_get_u32(&r);
	m->tsc_khz = snap_get_u32(&r);
	snap_get(&r, m->boot_format, sizeof(m->boot_format));
	m->kernel = snap_get_str(&r, SNAP_PATH_MAX);
	m->initrd = snap_get_str(&r, SNAP_PATH_MAX);
	m->cmdline = snap_get_str(&r, SNAP_CMDLINE_MAX);
	if (!snap_rd_done(&r)) {
		snprintf(err, errlen, "META section malformed");
		goto bad;
	}
	if (!memchr(m->boot_format, 0, sizeof(m->boot_format)) ||
	    (m->flags & ~(SNAP_META_PAUSED | SNAP_META_PREFER_PVH))) {
		snprintf(err, errlen, "META section: bad boot format or flags");
		goto bad;
	}
	if (m->nr_vcpus < 1 || m->nr_vcpus > 32) {
		snprintf(err, errlen, "META section: %" PRIu32 " vCPUs (1..32)", m->nr_vcpus);
		goto bad;
	}
	if (m->mem_size < (16ull << 20) || m->mem_size > (64ull << 30) || (m->mem_size & 0xfff)) {
		snprintf(err, errlen, "META section: bad memory size %" PRIu64, m->mem_size);
		goto bad;
	}
	return 0;

bad:
	snap_meta_free(m);
	return -EINVAL;
}

void snap_meta_free(struct snap_meta *m)
{
	free(m->kernel);
	free(m->initrd);
	free(m->cmdline);
	m->kernel = m->initrd = m->cmdline = NULL;
}

/* ---- MEMT ---- */

bool snap_mem_name_ok(const char *name)
{
	size_t n = strlen(SNAP_MEM_PREFIX);

	if (strncmp(name, SNAP_MEM_PREFIX, n) || strlen(name) != n + 16)
		return false;
	for (size_t i = n; i < n + 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

void snap_memt_put(struct snap_buf *b, const struct snap_memt *t)
{
	snap_put_u64(b, t->mem_size);
	snap_put_u32(b, SNAP_MEM_CHUNK_SHIFT);
	snap_put_u32(b, t->nr_chunks);
	snap_put_u64(b, t->data_bytes);
	snap_put_str(b, t->name);
	for (uint32_t i = 0; i < t->nr_chunks; i++) {
		snap_put_u8(b, t->kind[i]);
		snap_put_u32(b, t->crc[i]);
	}
}

int snap_memt_get(const struct snap_section *s, struct snap_memt *t, char *err, size_t errlen)
{
	struct snap_rd r;
	uint32_t shift;
	char *name;

	memset(t, 0, sizeof(*t));
	snap_rd_init(&r, s->data, (size_t)s->len);
	t->mem_size = snap_get_u64(&r);
	shift = snap_get_u32(&r);
	t->nr_chunks = snap_get_u32(&r);
	t->data_bytes = snap_get_u64(&r);
	name = snap_get_str(&r, sizeof(t->name) - 1);
	if (r.bad || !name || !snap_mem_name_ok(name)) {
		snprintf(err, errlen, "MEMT section: malformed header or memory file name");
		free(name);
		return -EINVAL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	free(name);
	if (shift != SNAP_MEM_CHUNK_SHIFT || t->mem_size == 0 || (t->mem_size & 0xfff) ||
	    t->mem_size > (64ull << 30) ||
	    t->nr_chunks != (t->mem_size + SNAP_MEM_CHUNK - 1) >> SNAP_MEM_CHUNK_SHIFT ||
	    t->data_bytes > t->mem_size || r.len - r.off != (size_t)t->nr_chunks * 5) {
		snprintf(err, errlen, "MEMT section: inconsistent sizes");
		return -EINVAL;
	}
	t->kind = malloc(t->nr_chunks);
	t->crc = malloc((size_t)t->nr_chunks * sizeof(*t->crc));
	if (!t->kind || !t->crc) {
		snap_memt_free(t);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < t->nr_chunks; i++) {
		t->kind[i] = snap_get_u8(&r);
		t->crc[i] = snap_get_u32(&r);
		if (t->kind[i] > SNAP_CHUNK_DATA || (t->kind[i] == SNAP_CHUNK_ZERO && t->crc[i])) {
			snap_memt_free(t);
			snprintf(err, errlen, "MEMT section: bad entry for chunk %" PRIu32, i);
			return -EINVAL;
		}
	}
	if (!snap_rd_done(&r)) {
		snap_memt_free(t);
		snprintf(err, errlen, "MEMT section malformed");
		return -EINVAL;
	}
	return 0;
}

void snap_memt_free(struct snap_memt *t)
{
	free(t->kind);
	free(t->crc);
	t->kind = NULL;
	t->crc = NULL;
}

/* ---- CPUID ---- */

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid_entry2 *e, unsigned int n,
						uint32_t fn, uint32_t idx)
{
	for (unsigned int i = 0; i < n; i++) {
		if (e[i].function != fn)
			continue;
		if ((e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e[i].index != idx)
			continue;
		return &e[i];
	}
	return NULL;
}

int snap_cpuid_check(const struct kvm_cpuid_entry2 *saved, unsigned int nsaved,
		     const struct kvm_cpuid_entry2 *host, unsigned int nhost,
		     char *err, size_t errlen)
{
	/* (leaf, subleaf, register mask: 1 eax, 2 ebx, 4 ecx, 8 edx) */
	static const struct { uint32_t fn, idx; unsigned int regs; } feat[] = {
		{ 1, 0, 4 | 8 }, { 7, 0, 2 | 4 | 8 }, { 0xd, 1, 1 },
		{ 0x80000001, 0, 4 | 8 }, { 0x80000007, 0, 8 }, { 0x80000008, 0, 2 },
		{ 0x40000001, 0, 1 },
	};
	static const char *const rn[4] = { "eax", "ebx", "ecx", "edx" };
	const struct kvm_cpuid_entry2 *s0 = find_leaf(saved, nsaved, 0, 0);
	const struct kvm_cpuid_entry2 *h0 = find_leaf(host, nhost, 0, 0);

	if (!s0 || !h0 || s0->ebx != h0->ebx || s0->ecx != h0->ecx || s0->edx != h0->edx) {
		snprintf(err, errlen, "CPU vendor differs from the one the guest was saved on");
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(feat) / sizeof(feat[0]); i++) {
		const struct kvm_cpuid_entry2 *s = find_leaf(saved, nsaved, feat[i].fn, feat[i].idx);
		const struct kvm_cpuid_entry2 *h = find_leaf(host, nhost, feat[i].fn, feat[i].idx);

		if (!s)
			continue;
		for (unsigned int r = 0; r < 4; r++) {
			uint32_t sv, hv;

			if (!(feat[i].regs & (1u << r)))
				continue;
			sv = r == 0 ? s->eax : r == 1 ? s->ebx : r == 2 ? s->ecx : s->edx;
			hv = !h ? 0 : r == 0 ? h->eax : r == 1 ? h->ebx : r == 2 ? h->ecx : h->edx;
			if (sv & ~hv) {
				snprintf(err, errlen,
					 "CPUID leaf 0x%" PRIx32 ".%" PRIu32 " %s bit %d is set in the snapshot "
					 "but this host does not offer it",
					 feat[i].fn, feat[i].idx, rn[r], __builtin_ctz(sv & ~hv));
				return -ENOTSUP;
			}
		}
	}
	return 0;
}

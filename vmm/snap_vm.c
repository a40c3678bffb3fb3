/* vmm/snap_vm.c - hibernate save and resume (see snap_vm.h). */
#include "vmm/snap_vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/cpuid.h"

#define PAGE_SZ        4096u
#define PAGES_PER_CHUNK (SNAP_MEM_CHUNK / PAGE_SZ)
#define PM_PRESENT     (1ull << 63)
#define PM_SWAPPED     (1ull << 62)
#define MSR_TSC_DEADLINE 0x6e0u
#define STATE_MAX      (64u << 20)   /* a state file is a few hundred KiB at most */
#define CPUID_MAX_ENT  256u

static const uint8_t zero_page[PAGE_SZ];

static int sio(struct kvm *k, int fd, unsigned long req, void *arg)
{
	int r = k->ops->ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The test hook described in snap_vm.h. */
static void stage(const char *name)
{
	const char *d = getenv("HANEUL_HIBERNATE_STAGE_DELAY_MS");

	if (!d || !*d)
		return;
	fprintf(stderr, "haneul-vmm: hibernate stage %s\n", name);
	fflush(stderr);
	usleep((useconds_t)strtoul(d, NULL, 10) * 1000u);
}

static int full_write(int fd, const void *p, size_t n, off_t off)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = pwrite(fd, b, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int full_read(int fd, void *p, size_t n, off_t off)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = pread(fd, b, n, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* shorter than expected */
		b += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* ================================================================ save == */

/* Indices from KVM_GET_MSR_INDEX_LIST that KVM_GET_MSRS accepts on this
 * vCPU (it stops at the first one it refuses: drop it and go on).
 * *out is malloc'd (caller frees). */
static int usable_msrs(struct kvm *k, struct vcpu *v, struct kvm_msrs **out, uint32_t *n_out)
{
	struct kvm_msr_list *list = NULL;
	struct kvm_msrs *m;
	uint32_t n, i = 0;
	int r;

	r = kvm_msr_index_list(k, &list);
	if (r < 0)
		return r;
	n = list->nmsrs;
	m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	if (!m) {
		free(list);
		return -ENOMEM;
	}
	for (uint32_t j = 0; j < n; j++)
		m->entries[j].index = list->indices[j];
	free(list);
	while (i < n) {
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e[64];
		} probe;
		uint32_t cnt = n - i < 64 ? n - i : 64;

		memset(&probe, 0, sizeof(probe));
		probe.h.nmsrs = cnt;
		memcpy(probe.e, &m->entries[i], cnt * sizeof(probe.e[0]));
		r = sio(k, v->fd, KVM_GET_MSRS, &probe);
		if (r < 0) {
			free(m);
			return r;
		}
		i += (uint32_t)r;
		if ((uint32_t)r < cnt) {
			/* entries[i] is refused: remove it. */
			memmove(&m->entries[i], &m->entries[i + 1], (n - i - 1) * sizeof(m->entries[0]));
			n--;
		}
	}
	m->nmsrs = n;
	*out = m;
	*n_out = n;
	return 0;
}

/* KVM_CHECK_EXTENSION on the VM when there is one (the answer may depend
 * on it), else on /dev/kvm (the resume checks run before the VM exists). */
static int check_ext(struct kvm *k, int cap)
{
	return sio(k, k->vm_fd >= 0 ? k->vm_fd : k->sys_fd, KVM_CHECK_EXTENSION,
		   (void *)(uintptr_t)cap);
}

static int xsave_size(struct kvm *k)
{
	int r = check_ext(k, KVM_CAP_XSAVE2);

	if (r >= (int)sizeof(struct kvm_xsave))
		return r;
	return check_ext(k, KVM_CAP_XSAVE) > 0 ? (int)sizeof(struct kvm_xsave) : 0;
}

static bool has_cap(struct kvm *k, int cap)
{
	return check_ext(k, cap) > 0;
}

static int save_vcpu(const struct snap_vm *sv, struct kvm *k, struct vcpu *v,
		     const struct kvm_msrs *msrs, struct snap_buf *b, const char **step)
{
	struct kvm_cpuid2 *c;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_debugregs dr;
	struct kvm_xcrs xcrs;
	struct kvm_msrs *m;
	size_t msz;
	int r, xs;

	*step = "CPUID";
	if (sv->src) {
		const struct snap_section *s = snap_find(&sv->src->file, SNAP_TAG_CPUI, v->index);

		if (!s)
			return -ENOENT;
		snap_section_raw(b, SNAP_TAG_CPUI, v->index, s->data, (size_t)s->len);
	} else {
		unsigned int cap = sv->supported->nent + CPUID_EXTRA_ENTRIES, nent = sv->supported->nent;
		struct cpuid_topo t = { .vcpu_index = v->index, .nr_vcpus = sv->nr_vcpus,
					.tsc_deadline = k->tsc_deadline };

		c = calloc(1, sizeof(*c) + cap * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		memcpy(c->entries, sv->supported->entries, nent * sizeof(c->entries[0]));
		r = cpuid_normalize(c->entries, &nent, cap, &t);
		if (r == 0)
			snap_section_raw(b, SNAP_TAG_CPUI, v->index, c->entries, nent * sizeof(c->entries[0]));
		free(c);
		if (r < 0)
			return r;
	}
	*step = "KVM_GET_REGS";
	if ((r = sio(k, v->fd, KVM_GET_REGS, &regs)) < 0)
		return r;
	snap_section_raw(b, SNAP_TAG_REGS, v->index, &regs, sizeof(regs));
	*step = "KVM_GET_SREGS";
	if ((r = sio(k, v->fd, KVM_GET_SREGS, &sregs)) < 0)
		return r;
	snap_section_raw(b, SNAP_TAG_SREG, v->index, &sregs, sizeof(sregs));
	*step = "KVM_GET_MSRS";
	msz = sizeof(*m) + msrs->nmsrs * sizeof(m->entries[0]);
	m = malloc(msz);
	if (!m)
		return -ENOMEM;
	memcpy(m, msrs, msz);
	r = sio(k, v->fd, KVM_GET_MSRS, m);
	if (r >= 0 && (uint32_t)r != m->nmsrs)
		r = -EIO;
	if (r >= 0)
		snap_section_raw(b, SNAP_TAG_MSRS, v->index, m->entries, m->nmsrs * sizeof(m->entries[0]));
	free(m);
	if (r < 0)
		return r;
	xs = xsave_size(k);
	if (xs > 0) {
		void *x = calloc(1, (size_t)xs);

		*step = "KVM_GET_XSAVE";
		if (!x)
			return -ENOMEM;
		r = sio(k, v->fd, xs > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, x);
		if (r >= 0)
			snap_section_raw(b, SNAP_TAG_XSAV, v->index, x, (size_t)xs);
		free(x);
		if (r < 0)
			return r;
	} else {
		struct kvm_fpu fpu;

		*step = "KVM_GET_FPU";
		if ((r = sio(k, v->fd, KVM_GET_FPU, &fpu)) < 0)
			return r;
		snap_section_raw(b, SNAP_TAG_FPU, v->index, &fpu, sizeof(fpu));
	}
	if (has_cap(k, KVM_CAP_XCRS)) {
		*step = "KVM_GET_XCRS";
		if ((r = sio(k, v->fd, KVM_GET_XCRS, &xcrs)) < 0)
			return r;
		snap_section_raw(b, SNAP_TAG_XCRS, v->index, &xcrs, sizeof(xcrs));
	}
	*step = "KVM_GET_LAPIC";
	if ((r = sio(k, v->fd, KVM_GET_LAPIC, &lapic)) < 0)
		return r;
	snap_section_raw(b, SNAP_TAG_LAPI, v->index, &lapic, sizeof(lapic));
	*step = "KVM_GET_VCPU_EVENTS";
	if ((r = sio(k, v->fd, KVM_GET_VCPU_EVENTS, &ev)) < 0)
		return r;
	snap_section_raw(b, SNAP_TAG_EVNT, v->index, &ev, sizeof(ev));
	*step = "KVM_GET_MP_STATE";
	if ((r = sio(k, v->fd, KVM_GET_MP_STATE, &mp)) < 0)
		return r;
	snap_section_raw(b, SNAP_TAG_MPST, v->index, &mp, sizeof(mp));
	if (has_cap(k, KVM_CAP_DEBUGREGS)) {
		*step = "KVM_GET_DEBUGREGS";
		if ((r = sio(k, v->fd, KVM_GET_DEBUGREGS, &dr)) < 0)
			return r;
		snap_section_raw(b, SNAP_TAG_DBGR, v->index, &dr, sizeof(dr));
	}
	return 0;
}

static int save_vm_state(struct kvm *k, struct snap_buf *b, const char **step)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clk;
	int r;

	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip ic;

		memset(&ic, 0, sizeof(ic));
		ic.chip_id = chip;
		*step = "KVM_GET_IRQCHIP";
		if ((r = sio(k, k->vm_fd, KVM_GET_IRQCHIP, &ic)) < 0)
			return r;
		snap_section_raw(b, SNAP_TAG_IRQC, chip, &ic, sizeof(ic));
	}
	*step = "KVM_GET_PIT2";
	if ((r = sio(k, k->vm_fd, KVM_GET_PIT2, &pit)) < 0)
		return r;
	snap_section_raw(b, SNAP_TAG_PIT2, 0, &pit, sizeof(pit));
	*step = "KVM_GET_CLOCK";
	memset(&clk, 0, sizeof(clk));
	if ((r = sio(k, k->vm_fd, KVM_GET_CLOCK, &clk)) < 0)
		return r;
	snap_section_raw(b, SNAP_TAG_CLCK, 0, &clk, sizeof(clk));
	return 0;
}

/* All-zero page?  Stops at the first non-zero 64 bytes: a page with data
 * usually has it near its start, so the check costs little next to the
 * CRC over the same page. */
static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < PAGE_SZ / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	return true;
}

/* Where the source memory file (a resumed VM's) has data: a moving window
 * over SEEK_DATA/SEEK_HOLE.  Pages there must be saved even though they
 * were never touched in this process. */
struct src_extents {
	int fd;
	uint64_t size, data, hole; /* [data, hole): the current extent */
};

static bool src_has_data(struct src_extents *s, uint64_t off)
{
	if (s->fd < 0)
		return false;
	while (off >= s->hole) {
		off_t d = lseek(s->fd, (off_t)off, SEEK_DATA);
		off_t h;

		if (d < 0) {
			s->data = s->hole = s->size; /* ENXIO: no data after off */
			return false;
		}
		h = lseek(s->fd, d, SEEK_HOLE);
		s->data = (uint64_t)d;
		s->hole = h < 0 ? s->size : (uint64_t)h;
		if (s->hole <= s->data)
			s->hole = s->data + PAGE_SZ;
	}
	return off >= s->data;
}

/* Memory is written by a second thread while the scanner (pagemap, zero
 * check, CRC) goes on: extents of guest RAM, merged up to WRITE_MAX, are
 * handed over through a small ring.  Nothing is copied: the writer writes
 * straight from the guest mapping (which nobody changes: vCPUs parked,
 * devices frozen), with O_DIRECT where the file system takes it, so the
 * data goes to the disk without a second copy through the page cache
 * (docs/hibernate.md, "Save throughput"). */
#define WRITE_MAX   (8u << 20)
#define WQ_LEN      16u

struct wq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct { uint64_t off, len; } ent[WQ_LEN];
	unsigned int head, n;
	bool done;
	int err;                   /* first write error (-errno) */
	int fd;
	const uint8_t *base;
	bool direct;               /* fd has O_DIRECT */
	uint64_t pend_off, pend_len; /* scanner side: the extent being grown */
};

static int write_extent(struct wq *q, uint64_t off, uint64_t len)
{
	int r = full_write(q->fd, q->base + off, (size_t)len, (off_t)off);

	if (r == -EINVAL && q->direct) {
		/* O_DIRECT refused after all (alignment rules of an odd
		 * device): buffered from here on. */
		int fl = fcntl(q->fd, F_GETFL);

		q->direct = false;
		if (fl < 0 || fcntl(q->fd, F_SETFL, fl & ~O_DIRECT) < 0)
			return -errno;
		r = full_write(q->fd, q->base + off, (size_t)len, (off_t)off);
	}
	if (r == 0 && !q->direct)
		/* Start write-back now so the final fsync has little left. */
		(void)sync_file_range(q->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
	return r;
}

static void *writer_main(void *arg)
{
	struct wq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		uint64_t off, len;
		int r;

		while (!q->n && !q->done)
			pthread_cond_wait(&q->cond, &q->lock);
		if (!q->n)
			break;
		off = q->ent[q->head].off;
		len = q->ent[q->head].len;
		pthread_mutex_unlock(&q->lock);
		r = q->err ? 0 : write_extent(q, off, len);
		pthread_mutex_lock(&q->lock);
		if (r < 0 && !q->err)
			q->err = r;
		q->head = (q->head + 1) % WQ_LEN;
		q->n--;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Hand the pending extent to the writer (waits while the ring is full).
 * Returns the writer's error, if any. */
static int wq_flush(struct wq *q)
{
	int r;

	pthread_mutex_lock(&q->lock);
	if (q->pend_len && !q->err) {
		while (q->n == WQ_LEN && !q->err)
			pthread_cond_wait(&q->cond, &q->lock);
		q->ent[(q->head + q->n) % WQ_LEN].off = q->pend_off;
		q->ent[(q->head + q->n) % WQ_LEN].len = q->pend_len;
		q->n++;
		pthread_cond_broadcast(&q->cond);
	}
	q->pend_len = 0;
	r = q->err;
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* Add [off, off+len) to what must be written. */
static int wq_add(struct wq *q, uint64_t off, uint64_t len)
{
	int r = 0;

	if (q->pend_len && q->pend_off + q->pend_len == off && q->pend_len + len <= WRITE_MAX) {
		q->pend_len += len;
		return 0;
	}
	if (q->pend_len)
		r = wq_flush(q);
	q->pend_off = off;
	q->pend_len = len;
	return r;
}

/* Write guest RAM's touched, non-zero pages to fd at their offsets (the
 * file is pre-sized, so everything else stays a hole) and fill t. */
static int save_memory(const struct snap_vm *sv, int fd, struct snap_memt *t,
		       char *err, size_t errlen)
{
	const struct guest_mem *gm = sv->mem;
	uint64_t pm[PAGES_PER_CHUNK];
	struct src_extents src = { .fd = sv->mem_src_fd, .size = gm->size };
	struct wq q = { .fd = fd, .base = gm->base };
	pthread_t writer;
	int pmfd, fl, r = 0, wr;

	err[0] = '\0';
	pmfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pmfd < 0) {
		r = -errno;
		snprintf(err, errlen, "/proc/self/pagemap: %s", strerror(-r));
		return r;
	}
	/* Guest RAM is page-aligned, and so is every extent: O_DIRECT works
	 * wherever the file system has it (not tmpfs: buffered then). */
	fl = fcntl(fd, F_GETFL);
	q.direct = fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.cond, NULL);
	r = -pthread_create(&writer, NULL, writer_main, &q);
	if (r < 0) {
		snprintf(err, errlen, "memory writer thread: %s", strerror(-r));
		goto destroy;
	}
	for (uint32_t c = 0; c < t->nr_chunks && r == 0; c++) {
		uint64_t off = (uint64_t)c << SNAP_MEM_CHUNK_SHIFT;
		uint64_t clen = gm->size - off < SNAP_MEM_CHUNK ? gm->size - off : SNAP_MEM_CHUNK;
		unsigned int np = (unsigned int)(clen / PAGE_SZ);
		uint64_t vpage = (uint64_t)(uintptr_t)(gm->base + off) / PAGE_SZ;
		bool data[PAGES_PER_CHUNK], any = false;
		uint32_t crc = 0;

		r = full_read(pmfd, pm, np * sizeof(pm[0]), (off_t)(vpage * sizeof(pm[0])));
		if (r < 0) {
			snprintf(err, errlen, "/proc/self/pagemap: %s", strerror(-r));
			break;
		}
		for (unsigned int p = 0; p < np; p++) {
			const uint8_t *hva = gm->base + off + (uint64_t)p * PAGE_SZ;
			bool cand = (pm[p] & (PM_PRESENT | PM_SWAPPED)) ||
				    src_has_data(&src, off + (uint64_t)p * PAGE_SZ);

			data[p] = cand && !page_is_zero(hva);
			any |= data[p];
		}
		if (!any) {
			t->kind[c] = SNAP_CHUNK_ZERO;
			t->crc[c] = 0;
			continue;
		}
		/* CRC over the chunk as the guest sees it; zero pages from a
		 * static buffer so untouched guest pages are not faulted in. */
		for (unsigned int p = 0; p < np;) {
			unsigned int e = p + 1;

			while (e < np && data[e] == data[p])
				e++;
			if (data[p]) {
				crc = snap_crc32c(crc, gm->base + off + (uint64_t)p * PAGE_SZ,
						  (size_t)(e - p) * PAGE_SZ);
				r = wq_add(&q, off + (uint64_t)p * PAGE_SZ, (uint64_t)(e - p) * PAGE_SZ);
				t->data_bytes += (uint64_t)(e - p) * PAGE_SZ;
			} else {
				for (unsigned int z = p; z < e; z++)
					crc = snap_crc32c(crc, zero_page, PAGE_SZ);
			}
			p = e;
		}
		t->kind[c] = SNAP_CHUNK_DATA;
		t->crc[c] = crc;
		if (r < 0)
			break;
	}
	wr = wq_flush(&q);
	pthread_mutex_lock(&q.lock);
	q.done = true;
	pthread_cond_broadcast(&q.cond);
	pthread_mutex_unlock(&q.lock);
	pthread_join(writer, NULL);
	wr = q.err ? q.err : wr;
	if (r == 0 && wr < 0) {
		r = wr;
		snprintf(err, errlen, "writing guest memory: %s", strerror(-r));
	} else if (r < 0 && !err[0]) {
		snprintf(err, errlen, "writing guest memory: %s", strerror(-r));
	}
destroy:
	pthread_cond_destroy(&q.cond);
	pthread_mutex_destroy(&q.lock);
	close(pmfd);
	return r;
}

/* Write buf to dir/tmp, fsync it, rename to dir/name.  The caller fsyncs
 * the directory. */
static int write_file_atomic(int dfd, const char *tmp, const char *name, const void *buf,
			     size_t len, char *err, size_t errlen)
{
	int fd, r;

	(void)unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "creating %s: %s", tmp, strerror(-r));
		return r;
	}
	r = full_write(fd, buf, len, 0);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(err, errlen, "writing %s: %s", name, strerror(-r));
		(void)unlinkat(dfd, tmp, 0);
	}
	return r;
}

/* Remove memory files other than `keep` and leftover temporaries. */
static void remove_stale(int dfd, const char *keep)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		bool stale_mem = snap_mem_name_ok(e->d_name) && strcmp(e->d_name, keep);
		bool tmp = !strncmp(e->d_name, ".mem-", 5) || !strcmp(e->d_name, ".state.tmp");

		if (stale_mem || tmp)
			(void)unlinkat(dfd, e->d_name, 0);
	}
	closedir(d);
}

int snap_save(const struct snap_vm *sv, const struct snap_meta *meta, const char *dir,
	      char *err, size_t errlen)
{
	struct snap_buf b = { 0 };
	struct snap_memt t = { 0 };
	struct kvm_msrs *msrs = NULL;
	char tmp[80], why[160];
	const char *step = "";
	uint64_t id;
	uint32_t nmsrs;
	int dfd, mfd = -1, r;
	size_t sec;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	/* 1. CPU, VM and device state into memory: nothing on disk yet. */
	snap_file_begin(&b, realtime_ns());
	sec = snap_section_begin(&b, SNAP_TAG_META, 0);
	snap_meta_put(&b, meta);
	snap_section_end(&b, sec);
	r = usable_msrs(sv->kvm, &sv->vcpus[0], &msrs, &nmsrs);
	if (r < 0) {
		snprintf(err, errlen, "listing MSRs: %s", strerror(-r));
		goto out;
	}
	for (unsigned int i = 0; i < sv->nr_vcpus; i++) {
		r = save_vcpu(sv, sv->kvm, &sv->vcpus[i], msrs, &b, &step);
		if (r < 0) {
			snprintf(err, errlen, "vcpu %u: %s: %s", i, step, strerror(-r));
			goto out;
		}
	}
	r = save_vm_state(sv->kvm, &b, &step);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", step, strerror(-r));
		goto out;
	}
	for (unsigned int i = 0; i < sv->nr_devs; i++) {
		const struct snap_dev *d = &sv->devs[i];

		if (d->ops->quiesce && (r = d->ops->quiesce(d->dev)) < 0) {
			snprintf(err, errlen, "device %s: quiesce: %s", d->ops->name, strerror(-r));
			goto out;
		}
		sec = snap_section_begin(&b, d->ops->tag, d->instance);
		d->ops->save(d->dev, &b);
		snap_section_end(&b, sec);
	}
	stage("cpu-state");

	/* 2. Memory under a temporary name, then its final (new) name. */
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = realtime_ns() ^ ((uint64_t)getpid() << 32);
	t.mem_size = sv->mem->size;
	t.nr_chunks = (uint32_t)((sv->mem->size + SNAP_MEM_CHUNK - 1) >> SNAP_MEM_CHUNK_SHIFT);
	snprintf(t.name, sizeof(t.name), SNAP_MEM_PREFIX "%016" PRIx64, id);
	t.kind = calloc(t.nr_chunks, 1);
	t.crc = calloc(t.nr_chunks, sizeof(*t.crc));
	if (!t.kind || !t.crc) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(tmp, sizeof(tmp), ".%s.tmp", t.name);
	mfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (mfd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/%s: %s", dir, tmp, strerror(-r));
		goto out;
	}
	if (ftruncate(mfd, (off_t)sv->mem->size) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/%s: ftruncate: %s", dir, tmp, strerror(-r));
		goto unlink_tmp;
	}
	r = save_memory(sv, mfd, &t, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, tmp, why);
		goto unlink_tmp;
	}
	stage("memory-written");
	if (fsync(mfd) < 0 || renameat(dfd, tmp, dfd, t.name) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/%s: fsync/rename: %s", dir, tmp, strerror(-r));
		goto unlink_tmp;
	}
	stage("memory-renamed");

	/* 3. The state file: the commit point.  The directory is fsync'd first
	 * so the memory file's name is durable before anything points at it. */
	sec = snap_section_begin(&b, SNAP_TAG_MEMT, 0);
	snap_memt_put(&b, &t);
	snap_section_end(&b, sec);
	if (snap_file_end(&b) < 0) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory building the state file");
		goto unlink_mem;
	}
	if (fsync(dfd) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(-r));
		goto unlink_mem;
	}
	stage("state-writing");
	r = write_file_atomic(dfd, ".state.tmp", SNAP_STATE_NAME, b.data, b.len, err, errlen);
	if (r < 0)
		goto unlink_mem;
	if (fsync(dfd) < 0) {
		/* The rename happened; whether it is durable is unknown.  Keep
		 * the memory file: the state file may point at it. */
		r = -errno;
		snprintf(err, errlen, "%s: fsync after commit: %s", dir, strerror(-r));
		goto out;
	}
	stage("committed");
	remove_stale(dfd, t.name);
	(void)fsync(dfd);
	stage("cleaned");
	r = 0;
	goto out;

unlink_mem:
	(void)unlinkat(dfd, t.name, 0);
	goto out;
unlink_tmp:
	(void)unlinkat(dfd, tmp, 0);
out:
	if (mfd >= 0)
		close(mfd);
	close(dfd);
	free(msrs);
	snap_memt_free(&t);
	snap_buf_free(&b);
	return r;
}

/* ============================================================== resume == */

static const struct snap_section *need(const struct snap_image *img, uint32_t tag, uint32_t inst,
				       size_t want, bool exact, char *err, size_t errlen)
{
	const struct snap_section *s = snap_find(&img->file, tag, inst);
	char tn[5];

	if (!s) {
		snprintf(err, errlen, "snapshot lacks section %s/%" PRIu32, snap_tag_name(tag, tn), inst);
		return NULL;
	}
	if (exact ? s->len != want : s->len > want) {
		snprintf(err, errlen, "section %s/%" PRIu32 ": %" PRIu64 " bytes, expected %s%zu",
			 snap_tag_name(tag, tn), inst, s->len, exact ? "" : "at most ", want);
		return NULL;
	}
	return s;
}

/* Structure checks that need no KVM: every vCPU has its sections with the
 * right sizes, the VM sections are there. */
static int check_sections(const struct snap_image *img, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < img->meta.nr_vcpus; i++) {
		const struct snap_section *s;

		s = snap_find(&img->file, SNAP_TAG_CPUI, i);
		if (!s || !s->len || s->len % sizeof(struct kvm_cpuid_entry2) ||
		    s->len / sizeof(struct kvm_cpuid_entry2) > CPUID_MAX_ENT) {
			snprintf(err, errlen, "vcpu %" PRIu32 ": CPUID section missing or malformed", i);
			return -EINVAL;
		}
		s = snap_find(&img->file, SNAP_TAG_MSRS, i);
		if (!s || s->len % sizeof(struct kvm_msr_entry) || s->len / sizeof(struct kvm_msr_entry) > 65536) {
			snprintf(err, errlen, "vcpu %" PRIu32 ": MSR section missing or malformed", i);
			return -EINVAL;
		}
		if (!need(img, SNAP_TAG_REGS, i, sizeof(struct kvm_regs), true, err, errlen) ||
		    !need(img, SNAP_TAG_SREG, i, sizeof(struct kvm_sregs), true, err, errlen) ||
		    !need(img, SNAP_TAG_LAPI, i, sizeof(struct kvm_lapic_state), true, err, errlen) ||
		    !need(img, SNAP_TAG_EVNT, i, sizeof(struct kvm_vcpu_events), true, err, errlen) ||
		    !need(img, SNAP_TAG_MPST, i, sizeof(struct kvm_mp_state), true, err, errlen))
			return -EINVAL;
		s = snap_find(&img->file, SNAP_TAG_XSAV, i);
		if (s ? s->len < sizeof(struct kvm_xsave) || s->len > (1u << 20)
		      : !need(img, SNAP_TAG_FPU, i, sizeof(struct kvm_fpu), true, err, errlen)) {
			if (s)
				snprintf(err, errlen, "vcpu %" PRIu32 ": XSAVE section size %" PRIu64, i, s->len);
			return -EINVAL;
		}
		if ((s = snap_find(&img->file, SNAP_TAG_XCRS, i)) && s->len != sizeof(struct kvm_xcrs)) {
			snprintf(err, errlen, "vcpu %" PRIu32 ": XCRS section size", i);
			return -EINVAL;
		}
		if ((s = snap_find(&img->file, SNAP_TAG_DBGR, i)) && s->len != sizeof(struct kvm_debugregs)) {
			snprintf(err, errlen, "vcpu %" PRIu32 ": DBGR section size", i);
			return -EINVAL;
		}
	}
	if (snap_find(&img->file, SNAP_TAG_REGS, img->meta.nr_vcpus)) {
		snprintf(err, errlen, "snapshot holds more vCPUs than its META says");
		return -EINVAL;
	}
	for (uint32_t chip = 0; chip < 3; chip++)
		if (!need(img, SNAP_TAG_IRQC, chip, sizeof(struct kvm_irqchip), true, err, errlen))
			return -EINVAL;
	if (!need(img, SNAP_TAG_PIT2, 0, sizeof(struct kvm_pit_state2), true, err, errlen) ||
	    !need(img, SNAP_TAG_CLCK, 0, sizeof(struct kvm_clock_data), true, err, errlen))
		return -EINVAL;
	return 0;
}

int snap_open(const char *dir, struct snap_image *img, char *err, size_t errlen)
{
	const struct snap_section *s;
	struct stat st;
	char why[200];
	int dfd, fd, r;

	memset(img, 0, sizeof(*img));
	img->mem_fd = -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	fd = openat(dfd, SNAP_STATE_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/%s: %s%s", dir, SNAP_STATE_NAME, strerror(-r),
			 r == -ENOENT ? " (no snapshot here)" : "");
		goto close_dir;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > STATE_MAX) {
		r = -EINVAL;
		snprintf(err, errlen, "%s/%s: not a regular file of a sane size", dir, SNAP_STATE_NAME);
		goto close_fd;
	}
	img->len = (size_t)st.st_size;
	img->buf = malloc(img->len);
	if (!img->buf) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto close_fd;
	}
	r = full_read(fd, img->buf, img->len, 0);
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: read: %s", dir, SNAP_STATE_NAME, strerror(-r));
		goto close_fd;
	}
	r = snap_parse(img->buf, img->len, &img->file, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, SNAP_STATE_NAME, why);
		goto close_fd;
	}
	r = -EINVAL;
	s = snap_find(&img->file, SNAP_TAG_META, 0);
	if (!s || snap_meta_get(s, &img->meta, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, s ? why : "no META section");
		goto close_fd;
	}
	s = snap_find(&img->file, SNAP_TAG_MEMT, 0);
	if (!s || (r = snap_memt_get(s, &img->memt, why, sizeof(why))) < 0) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: %s", dir, s ? why : "no MEMT section");
		goto close_fd;
	}
	if (img->memt.mem_size != img->meta.mem_size) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: memory table is for %" PRIu64 " bytes, the VM has %" PRIu64,
			 dir, img->memt.mem_size, img->meta.mem_size);
		goto close_fd;
	}
	r = check_sections(img, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", dir, why);
		goto close_fd;
	}
	img->mem_fd = openat(dfd, img->memt.name, O_RDONLY | O_CLOEXEC);
	if (img->mem_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/%s: %s (memory file missing)", dir, img->memt.name, strerror(-r));
		goto close_fd;
	}
	if (fstat(img->mem_fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != img->meta.mem_size) {
		r = -EINVAL;
		snprintf(err, errlen, "%s/%s: %lld bytes, the snapshot's guest has %" PRIu64
			 " (truncated or wrong memory file)", dir, img->memt.name,
			 (long long)st.st_size, img->meta.mem_size);
		goto close_fd;
	}
	/* Files the VM needs later (a reboot reloads the kernel). */
	if (img->meta.kernel && access(img->meta.kernel, R_OK) < 0)
		log_warn("%s: kernel %s: %s: a guest reboot will fail", dir, img->meta.kernel,
			 strerror(errno));
	if (img->meta.initrd && access(img->meta.initrd, R_OK) < 0)
		log_warn("%s: initrd %s: %s: a guest reboot will fail", dir, img->meta.initrd,
			 strerror(errno));
	close(fd);
	close(dfd);
	return 0;

close_fd:
	close(fd);
close_dir:
	close(dfd);
	snap_close(img);
	return r;
}

void snap_close(struct snap_image *img)
{
	if (img->mem_fd >= 0)
		close(img->mem_fd);
	img->mem_fd = -1;
	snap_meta_free(&img->meta);
	snap_memt_free(&img->memt);
	snap_file_free(&img->file);
	free(img->buf);
	img->buf = NULL;
}

int snap_check_host(const struct snap_image *img, struct kvm *k,
		    const struct kvm_cpuid2 *supported, char *err, size_t errlen)
{
	unsigned int cap = supported->nent + CPUID_EXTRA_ENTRIES;
	struct kvm_cpuid_entry2 *host;
	int r = 0;

	if ((int)img->meta.nr_vcpus > k->max_vcpus) {
		snprintf(err, errlen, "snapshot has %" PRIu32 " vCPUs; this host's KVM allows %d",
			 img->meta.nr_vcpus, k->max_vcpus);
		return -ENOTSUP;
	}
	host = calloc(cap, sizeof(*host));
	if (!host)
		return -ENOMEM;
	for (uint32_t i = 0; i < img->meta.nr_vcpus && r == 0; i++) {
		const struct snap_section *s = snap_find(&img->file, SNAP_TAG_CPUI, i);
		struct cpuid_topo t = { .vcpu_index = i, .nr_vcpus = img->meta.nr_vcpus,
					.tsc_deadline = k->tsc_deadline };
		unsigned int nent = supported->nent;
		struct kvm_cpuid_entry2 *saved;
		char why[200];

		memcpy(host, supported->entries, nent * sizeof(*host));
		r = cpuid_normalize(host, &nent, cap, &t);
		if (r < 0) {
			snprintf(err, errlen, "normalizing this host's CPUID: %s", strerror(-r));
			break;
		}
		/* An aligned copy: section payloads are only 8-byte aligned. */
		saved = malloc((size_t)s->len);
		if (!saved) {
			r = -ENOMEM;
			break;
		}
		memcpy(saved, s->data, (size_t)s->len);
		r = snap_cpuid_check(saved, (unsigned int)(s->len / sizeof(*saved)), host, nent,
				     why, sizeof(why));
		free(saved);
		if (r < 0)
			snprintf(err, errlen, "vcpu %" PRIu32 ": %s", i, why);
	}
	free(host);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < img->meta.nr_vcpus; i++) {
		const struct snap_section *s = snap_find(&img->file, SNAP_TAG_XSAV, i);
		int xs = xsave_size(k);

		if (s && (xs <= 0 || s->len > (uint64_t)xs)) {
			snprintf(err, errlen, "vcpu %" PRIu32 ": XSAVE state of %" PRIu64
				 " bytes; this host's KVM takes %d", i, s->len, xs);
			return -ENOTSUP;
		}
		if (snap_find(&img->file, SNAP_TAG_XCRS, i) && !has_cap(k, KVM_CAP_XCRS)) {
			snprintf(err, errlen, "snapshot has XCRs; this host's KVM lacks KVM_CAP_XCRS");
			return -ENOTSUP;
		}
		if (snap_find(&img->file, SNAP_TAG_DBGR, i) && !has_cap(k, KVM_CAP_DEBUGREGS)) {
			snprintf(err, errlen, "snapshot has debug registers; this host's KVM lacks KVM_CAP_DEBUGREGS");
			return -ENOTSUP;
		}
	}
	return 0;
}

int snap_map_memory(const struct snap_image *img, struct guest_mem *gm, char *err, size_t errlen)
{
	void *p;

	if (gm->size != img->meta.mem_size) {
		snprintf(err, errlen, "guest memory is %" PRIu64 " bytes, snapshot %" PRIu64,
			 gm->size, img->meta.mem_size);
		return -EINVAL;
	}
	p = mmap(gm->base, gm->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
		 img->mem_fd, 0);
	if (p == MAP_FAILED) {
		int r = -errno;

		snprintf(err, errlen, "mapping the memory file: %s", strerror(r));
		return r;
	}
	(void)madvise(gm->base, gm->size, MADV_DONTFORK);
	return 0;
}

int snap_vcpu_create(struct vcpu *v, struct kvm *k, unsigned int index, char *err, size_t errlen)
{
	void *p;
	int r;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	v->index = index;
	r = sio(k, k->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)index);
	if (r < 0) {
		snprintf(err, errlen, "vcpu %u: KVM_CREATE_VCPU: %s", index, strerror(-r));
		return r;
	}
	v->fd = r;
	p = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		snprintf(err, errlen, "vcpu %u: mmap kvm_run: %s", index, strerror(-r));
		return r;
	}
	v->run = p;
	v->run_size = (size_t)k->run_size;
	return 0;
}

/* An aligned, zero-padded copy of a section payload (size >= s->len). */
static void *sec_copy(const struct snap_section *s, size_t size)
{
	void *p = calloc(1, size > s->len ? size : (size_t)s->len);

	if (p)
		memcpy(p, s->data, (size_t)s->len);
	return p;
}

static int set_msrs(struct kvm *k, struct vcpu *v, const struct kvm_msr_entry *e, uint32_t n,
		    bool only_deadline)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + (n ? n : 1) * sizeof(m->entries[0]));
	int r = 0;

	if (!m)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		if (!only_deadline || e[i].index == MSR_TSC_DEADLINE)
			m->entries[m->nmsrs++] = e[i];
	while (m->nmsrs) {
		uint32_t ok;

		r = sio(k, v->fd, KVM_SET_MSRS, m);
		if (r < 0)
			break;
		ok = (uint32_t)r;
		r = 0;
		if (ok >= m->nmsrs)
			break;
		/* entries[ok] was refused (those before it are set): say so and
		 * go on with the rest. */
		log_warn("vcpu %u: KVM_SET_MSRS refused MSR 0x%x (value 0x%llx); skipped", v->index,
			 m->entries[ok].index, (unsigned long long)m->entries[ok].data);
		memmove(m->entries, &m->entries[ok + 1], (m->nmsrs - ok - 1) * sizeof(m->entries[0]));
		m->nmsrs -= ok + 1;
	}
	free(m);
	return r;
}

int snap_restore_vcpu(const struct snap_image *img, struct kvm *k, struct vcpu *v,
		      char *err, size_t errlen)
{
	const struct snap_file *f = &img->file;
	const struct snap_section *s;
	struct kvm_vcpu_events ev;
	struct kvm_cpuid2 *c;
	struct kvm_msr_entry *msrs = NULL;
	const char *step;
	void *p = NULL;
	int r, xs;

	step = "KVM_SET_CPUID2";
	s = snap_find(f, SNAP_TAG_CPUI, v->index);
	c = calloc(1, sizeof(*c) + (size_t)s->len);
	if (!c)
		return -ENOMEM;
	c->nent = (uint32_t)(s->len / sizeof(c->entries[0]));
	memcpy(c->entries, s->data, (size_t)s->len);
	r = sio(k, v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (r < 0)
		goto fail;
#define SET_RAW(tag, req, type, name) do {					\
		step = name;							\
		s = snap_find(f, tag, v->index);				\
		p = sec_copy(s, sizeof(type));					\
		if (!p) { r = -ENOMEM; goto fail; }				\
		r = sio(k, v->fd, req, p);					\
		free(p);							\
		p = NULL;							\
		if (r < 0)							\
			goto fail;						\
	} while (0)
	SET_RAW(SNAP_TAG_SREG, KVM_SET_SREGS, struct kvm_sregs, "KVM_SET_SREGS");
	SET_RAW(SNAP_TAG_REGS, KVM_SET_REGS, struct kvm_regs, "KVM_SET_REGS");
	step = "KVM_SET_MSRS";
	s = snap_find(f, SNAP_TAG_MSRS, v->index);
	msrs = sec_copy(s, sizeof(struct kvm_msr_entry));
	if (!msrs) {
		r = -ENOMEM;
		goto fail;
	}
	r = set_msrs(k, v, msrs, (uint32_t)(s->len / sizeof(struct kvm_msr_entry)), false);
	if (r < 0)
		goto fail;
	if ((s = snap_find(f, SNAP_TAG_XSAV, v->index))) {
		void *x;

		xs = xsave_size(k);
		step = "KVM_SET_XSAVE";
		x = sec_copy(s, (size_t)xs);
		if (!x) {
			r = -ENOMEM;
			goto fail;
		}
		r = sio(k, v->fd, KVM_SET_XSAVE, x);
		free(x);
		if (r < 0)
			goto fail;
	} else {
		SET_RAW(SNAP_TAG_FPU, KVM_SET_FPU, struct kvm_fpu, "KVM_SET_FPU");
	}
	if (snap_find(f, SNAP_TAG_XCRS, v->index))
		SET_RAW(SNAP_TAG_XCRS, KVM_SET_XCRS, struct kvm_xcrs, "KVM_SET_XCRS");
	SET_RAW(SNAP_TAG_LAPI, KVM_SET_LAPIC, struct kvm_lapic_state, "KVM_SET_LAPIC");
	/* The TSC-deadline MSR is ignored unless the LAPIC timer is in
	 * TSC-deadline mode: write it again now that the LAPIC is back. */
	step = "KVM_SET_MSRS (TSC deadline)";
	s = snap_find(f, SNAP_TAG_MSRS, v->index);
	r = set_msrs(k, v, msrs, (uint32_t)(s->len / sizeof(struct kvm_msr_entry)), true);
	if (r < 0)
		goto fail;
	step = "KVM_SET_VCPU_EVENTS";
	s = snap_find(f, SNAP_TAG_EVNT, v->index);
	memcpy(&ev, s->data, sizeof(ev));
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	r = sio(k, v->fd, KVM_SET_VCPU_EVENTS, &ev);
	if (r < 0)
		goto fail;
	SET_RAW(SNAP_TAG_MPST, KVM_SET_MP_STATE, struct kvm_mp_state, "KVM_SET_MP_STATE");
	if (snap_find(f, SNAP_TAG_DBGR, v->index))
		SET_RAW(SNAP_TAG_DBGR, KVM_SET_DEBUGREGS, struct kvm_debugregs, "KVM_SET_DEBUGREGS");
#undef SET_RAW
	free(msrs);
	return 0;

fail:
	free(p);
	free(msrs);
	snprintf(err, errlen, "vcpu %u: %s: %s", v->index, step, strerror(-r));
	return r;
}

int snap_restore_vm(const struct snap_image *img, struct kvm *k, char *err, size_t errlen)
{
	const struct snap_section *s;
	struct kvm_clock_data clk;
	struct kvm_pit_state2 pit;
	uint64_t now = realtime_ns(), away;
	int r;

	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip ic;

		s = snap_find(&img->file, SNAP_TAG_IRQC, chip);
		memcpy(&ic, s->data, sizeof(ic));
		if (ic.chip_id != chip) {
			snprintf(err, errlen, "irqchip section %" PRIu32 " holds chip %u", chip, ic.chip_id);
			return -EINVAL;
		}
		r = sio(k, k->vm_fd, KVM_SET_IRQCHIP, &ic);
		if (r < 0) {
			snprintf(err, errlen, "KVM_SET_IRQCHIP %" PRIu32 ": %s", chip, strerror(-r));
			return r;
		}
	}
	s = snap_find(&img->file, SNAP_TAG_PIT2, 0);
	memcpy(&pit, s->data, sizeof(pit));
	r = sio(k, k->vm_fd, KVM_SET_PIT2, &pit);
	if (r < 0) {
		snprintf(err, errlen, "KVM_SET_PIT2: %s", strerror(-r));
		return r;
	}
	s = snap_find(&img->file, SNAP_TAG_CLCK, 0);
	memcpy(&clk, s->data, sizeof(clk));
	/* kvmclock counts the time spent hibernated, so the guest's wall clock
	 * (boot wall time + kvmclock) is right again at once. */
	away = now > img->file.realtime_ns ? now - img->file.realtime_ns : 0;
	clk = (struct kvm_clock_data){ .clock = clk.clock + away };
	r = sio(k, k->vm_fd, KVM_SET_CLOCK, &clk);
	if (r < 0) {
		snprintf(err, errlen, "KVM_SET_CLOCK: %s", strerror(-r));
		return r;
	}
	return 0;
}

static bool core_tag(uint32_t tag)
{
	static const uint32_t tags[] = {
		SNAP_TAG_META, SNAP_TAG_MEMT, SNAP_TAG_IRQC, SNAP_TAG_PIT2, SNAP_TAG_CLCK,
		SNAP_TAG_CPUI, SNAP_TAG_REGS, SNAP_TAG_SREG, SNAP_TAG_MSRS, SNAP_TAG_XSAV,
		SNAP_TAG_FPU, SNAP_TAG_XCRS, SNAP_TAG_LAPI, SNAP_TAG_EVNT, SNAP_TAG_MPST,
		SNAP_TAG_DBGR,
	};

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (tags[i] == tag)
			return true;
	return false;
}

int snap_restore_devs(const struct snap_image *img, const struct snap_dev *devs,
		      unsigned int nr, char *err, size_t errlen)
{
	char tn[5], why[200];

	for (unsigned int i = 0; i < img->file.nr; i++) {
		const struct snap_section *s = &img->file.secs[i];
		bool claimed = core_tag(s->tag);

		for (unsigned int j = 0; j < nr && !claimed; j++)
			claimed = devs[j].ops->tag == s->tag && devs[j].instance == s->instance;
		if (!claimed) {
			snprintf(err, errlen, "snapshot has a device this VMM does not restore (section %s/%" PRIu32 ")",
				 snap_tag_name(s->tag, tn), s->instance);
			return -ENOTSUP;
		}
	}
	for (unsigned int j = 0; j < nr; j++) {
		const struct snap_section *s = snap_find(&img->file, devs[j].ops->tag, devs[j].instance);
		int r;

		if (!s) {
			snprintf(err, errlen, "snapshot has no state for device %s", devs[j].ops->name);
			return -EINVAL;
		}
		r = devs[j].ops->restore(devs[j].dev, s->data, (size_t)s->len, why, sizeof(why));
		if (r < 0) {
			snprintf(err, errlen, "device %s: %s", devs[j].ops->name, why);
			return r;
		}
	}
	return 0;
}

int snap_verify_memory(const struct snap_image *img, const volatile bool *stop, uint32_t *bad_chunk)
{
	uint8_t *buf = malloc(SNAP_MEM_CHUNK);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint32_t c = 0; c < img->memt.nr_chunks; c++) {
		uint64_t off = (uint64_t)c << SNAP_MEM_CHUNK_SHIFT;
		size_t len = (size_t)(img->memt.mem_size - off < SNAP_MEM_CHUNK ? img->memt.mem_size - off
						   : SNAP_MEM_CHUNK);
		off_t d;

		if (stop && *stop) {
			r = -ECANCELED;
			break;
		}
		if (img->memt.kind[c] == SNAP_CHUNK_ZERO) {
			/* Must be all holes (or zeros): data here is corruption. */
			d = lseek(img->mem_fd, (off_t)off, SEEK_DATA);
			if (d < 0 || (uint64_t)d >= off + len)
				continue;
		}
		r = full_read(img->mem_fd, buf, len, (off_t)off);
		if (r < 0)
			break;
		if (img->memt.kind[c] == SNAP_CHUNK_ZERO) {
			for (size_t i = 0; i < len; i += PAGE_SZ)
				if (!page_is_zero(buf + i)) {
					r = -EBADMSG;
					break;
				}
		} else if (snap_crc32c(0, buf, len) != img->memt.crc[c]) {
			r = -EBADMSG;
		}
		if (r < 0) {
			*bad_chunk = c;
			break;
		}
	}
	free(buf);
	return r;
}

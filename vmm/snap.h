/* vmm/snap.h - the hibernate snapshot file format (pure: no KVM, no VM).
 *
 * A snapshot is a directory holding two files (docs/hibernate.md):
 *   state        header + tagged sections (vCPUs, VM, devices, memory table)
 *   mem-<id>     guest RAM image, byte i = host mapping offset i, sparse:
 *                untouched and all-zero pages are holes
 * `state` is the commit point: it is written last, under a temporary name,
 * fsync'd and renamed; it names its memory file and carries a CRC32C per
 * SNAP_MEM_CHUNK of it.
 *
 * `state` layout (all integers little-endian):
 *   header, 64 bytes:
 *     0  magic "HANEULSN"           8  u32 version (SNAP_VERSION)
 *    12  u32 header size (64)      16  u64 file size
 *    24  u32 number of sections    28  u32 flags (0)
 *    32  u64 CLOCK_REALTIME ns at save
 *    40  20 reserved bytes (0)     60  u32 CRC32C of bytes 0..59
 *   then each section, 8-byte aligned:
 *     u32 tag, u32 instance, u64 payload length, u32 CRC32C(payload),
 *     u32 CRC32C of these first 20 bytes; payload; zero padding to 8.
 *   The sections exactly fill the file.
 *
 * The parser (snap_parse) trusts nothing: every length is checked against
 * what is left before it is used, and every checksum before a section is
 * handed out.  tests/unit/test_snap.c, tests/fuzz/fuzz_snap.c.
 *
 * FOR DEVICE AUTHORS (virtio-blk/net/vsock...): to survive hibernate, a
 * device provides a `struct snap_dev_ops` (below) and the VM registers it
 * with the saver.  save() appends ONE section payload describing the device
 * completely (including what is needed to re-create it in a new process,
 * e.g. the drive path); restore() must validate the whole payload before it
 * changes anything, then apply it.  quiesce() runs with every vCPU parked
 * and must finish in-flight requests and flush (fsync) volumes; a failure
 * aborts the hibernate and the VM keeps running.  For virtio-mmio devices
 * the generic part (features, status, queue addresses and indexes, config
 * generation) is meant to be saved by the transport with the same hook.
 */
#ifndef VMM_SNAP_H
#define VMM_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#define SNAP_MAGIC        "HANEULSN"
#define SNAP_VERSION      1u
#define SNAP_HDR_SIZE     64u
#define SNAP_SEC_HDR_SIZE 24u
#define SNAP_MAX_SECTIONS 4096u
#define SNAP_STATE_NAME   "state"
#define SNAP_MEM_PREFIX   "mem-"
#define SNAP_MEM_CHUNK_SHIFT 21u          /* 2 MiB: one checksum per chunk */
#define SNAP_MEM_CHUNK    (1ull << SNAP_MEM_CHUNK_SHIFT)

#define SNAP_TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | \
			      (uint32_t)(d) << 24)
/* VM-wide */
#define SNAP_TAG_META   SNAP_TAG('M', 'E', 'T', 'A') /* struct snap_meta */
#define SNAP_TAG_MEMT   SNAP_TAG('M', 'E', 'M', 'T') /* memory file name + chunk table */
#define SNAP_TAG_IRQC   SNAP_TAG('I', 'R', 'Q', 'C') /* struct kvm_irqchip, instance = chip id */
#define SNAP_TAG_PIT2   SNAP_TAG('P', 'I', 'T', '2') /* struct kvm_pit_state2 */
#define SNAP_TAG_CLCK   SNAP_TAG('C', 'L', 'C', 'K') /* struct kvm_clock_data */
/* per vCPU (instance = vCPU index) */
#define SNAP_TAG_CPUI   SNAP_TAG('C', 'P', 'U', 'I') /* kvm_cpuid_entry2[] */
#define SNAP_TAG_REGS   SNAP_TAG('R', 'E', 'G', 'S') /* struct kvm_regs */
#define SNAP_TAG_SREG   SNAP_TAG('S', 'R', 'E', 'G') /* struct kvm_sregs */
#define SNAP_TAG_MSRS   SNAP_TAG('M', 'S', 'R', 'S') /* kvm_msr_entry[] */
#define SNAP_TAG_XSAV   SNAP_TAG('X', 'S', 'A', 'V') /* KVM_GET_XSAVE(2) area */
#define SNAP_TAG_FPU    SNAP_TAG('F', 'P', 'U', ' ') /* struct kvm_fpu (no XSAVE) */
#define SNAP_TAG_XCRS   SNAP_TAG('X', 'C', 'R', 'S') /* struct kvm_xcrs */
#define SNAP_TAG_LAPI   SNAP_TAG('L', 'A', 'P', 'I') /* struct kvm_lapic_state */
#define SNAP_TAG_EVNT   SNAP_TAG('E', 'V', 'N', 'T') /* struct kvm_vcpu_events */
#define SNAP_TAG_MPST   SNAP_TAG('M', 'P', 'S', 'T') /* struct kvm_mp_state */
#define SNAP_TAG_DBGR   SNAP_TAG('D', 'B', 'G', 'R') /* struct kvm_debugregs */
/* legacy devices (vmm/snap_dev.c) */
#define SNAP_TAG_UART   SNAP_TAG('U', 'A', 'R', 'T')
#define SNAP_TAG_KBD    SNAP_TAG('I', '8', '0', '4')
#define SNAP_TAG_RTC    SNAP_TAG('R', 'T', 'C', ' ')
#define SNAP_TAG_PV     SNAP_TAG('P', 'V', 'P', 'T')
/* virtio (vmm/virtio/vsnap.h) */
#define SNAP_TAG_VBUS   SNAP_TAG('V', 'B', 'U', 'S') /* hotplug registers, slots in use */
#define SNAP_TAG_VDEV   SNAP_TAG('V', 'D', 'E', 'V') /* one slot, instance = slot number */

/* ---- CRC32C (Castagnoli), hardware-accelerated when SSE4.2 is there ---- */

/* Continue `crc` (start with 0) over buf[0..len). */
uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- growable output buffer ---- */

struct snap_buf {
	uint8_t *data;   /* malloc'd; freed by snap_buf_free */
	size_t len, cap;
	bool oom;        /* an append failed: the buffer is incomplete */
};

void snap_buf_free(struct snap_buf *b);
void snap_put(struct snap_buf *b, const void *p, size_t n);
void snap_put_u8(struct snap_buf *b, uint8_t v);
void snap_put_u32(struct snap_buf *b, uint32_t v);
void snap_put_u64(struct snap_buf *b, uint64_t v);
/* u32 length + bytes (s may be NULL: length 0xffffffff = "none"). */
void snap_put_str(struct snap_buf *b, const char *s);

/* A whole `state` file: snap_file_begin, then per section
 * snap_section_begin / puts / snap_section_end, then snap_file_end. */
void snap_file_begin(struct snap_buf *b, uint64_t realtime_ns);
size_t snap_section_begin(struct snap_buf *b, uint32_t tag, uint32_t instance);
void snap_section_end(struct snap_buf *b, size_t start);
/* Fills in the header.  Returns 0 or -ENOMEM (an append failed). */
int snap_file_end(struct snap_buf *b);
/* Convenience: one section with a raw payload. */
void snap_section_raw(struct snap_buf *b, uint32_t tag, uint32_t instance, const void *p, size_t n);

/* ---- bounded reader ---- */

struct snap_rd {
	const uint8_t *p;
	size_t len, off;
	bool bad;        /* read past the end, or a malformed value */
};

void snap_rd_init(struct snap_rd *r, const void *p, size_t len);
bool snap_get(struct snap_rd *r, void *dst, size_t n);
uint8_t snap_get_u8(struct snap_rd *r);
uint32_t snap_get_u32(struct snap_rd *r);
uint64_t snap_get_u64(struct snap_rd *r);
/* A malloc'd NUL-terminated copy (caller frees) or NULL: "none" or r->bad
 * (strings longer than max or holding a NUL set r->bad). */
char *snap_get_str(struct snap_rd *r, size_t max);
/* True when everything was read and nothing was bad. */
bool snap_rd_done(const struct snap_rd *r);

/* ---- parsing a `state` file ---- */

struct snap_section {
	uint32_t tag, instance;
	const uint8_t *data;   /* points into the parsed buffer */
	uint64_t len;
};

struct snap_file {
	uint32_t version;
	uint64_t realtime_ns;
	unsigned int nr;
	struct snap_section *secs;  /* malloc'd; snap_file_free */
};

/* Check header, version, sizes and every checksum of buf[0..len).
 * Returns 0 with *f filled (sections point into buf, which must outlive f),
 * -EPROTO (version), -EBADMSG (checksum), -EINVAL (anything else malformed,
 * truncated or not a snapshot) or -ENOMEM, with one line in err. */
int snap_parse(const uint8_t *buf, size_t len, struct snap_file *f, char *err, size_t errlen);
void snap_file_free(struct snap_file *f);
const struct snap_section *snap_find(const struct snap_file *f, uint32_t tag, uint32_t instance);
/* "REGS" etc. for messages; buf of at least 5 bytes. */
const char *snap_tag_name(uint32_t tag, char buf[5]);

/* ---- VM-wide facts (section META) ---- */

struct snap_meta {
	uint64_t mem_size;
	uint32_t nr_vcpus;
	uint32_t flags;            /* SNAP_META_* */
	uint64_t pv_clock_us;      /* PV CLOCK value at save */
	uint64_t ready_us;         /* 0 = not ready yet */
	uint32_t reboots;
	uint32_t boot_mode;        /* enum boot_mode */
	uint32_t tsc_khz;          /* 0 = unknown */
	char boot_format[16];
	char *kernel, *initrd, *cmdline;  /* malloc'd or NULL; snap_meta_free */
};
#define SNAP_META_PAUSED     1u   /* hibernated while paused: resume paused */
#define SNAP_META_PREFER_PVH 2u

void snap_meta_put(struct snap_buf *b, const struct snap_meta *m);
/* 0 or -EINVAL with err; on error *m holds nothing to free. */
int snap_meta_get(const struct snap_section *s, struct snap_meta *m, char *err, size_t errlen);
void snap_meta_free(struct snap_meta *m);

/* ---- memory table (section MEMT) ---- */

enum snap_chunk_kind { SNAP_CHUNK_ZERO = 0, SNAP_CHUNK_DATA = 1 };

struct snap_memt {
	uint64_t mem_size;
	uint32_t nr_chunks;        /* ceil(mem_size / SNAP_MEM_CHUNK) */
	char name[64];             /* "mem-<16 hex>" */
	uint64_t data_bytes;       /* bytes of non-hole data written */
	uint8_t *kind;             /* nr_chunks entries, malloc'd */
	uint32_t *crc;             /* nr_chunks entries (0 for zero chunks), malloc'd */
};

void snap_memt_put(struct snap_buf *b, const struct snap_memt *t);
int snap_memt_get(const struct snap_section *s, struct snap_memt *t, char *err, size_t errlen);
void snap_memt_free(struct snap_memt *t);
/* Is `name` a memory file name this format writes ("mem-" + 16 hex)? */
bool snap_mem_name_ok(const char *name);

/* ---- CPUID compatibility ---- */

/* Would this host give the guest at least what it saw?  `saved`: the
 * vCPU's CPUID at save time; `host`: this host's KVM_GET_SUPPORTED_CPUID
 * normalized the same way (cpuid_normalize with the same topology).
 * Checks the vendor string and that every feature bit of leaves 1, 7.0,
 * 0xd.1, 0x80000001, 0x80000007, 0x80000008 (ebx) and 0x40000001 set in
 * saved is set in host.  0, or -ENOTSUP with the first missing bit in err. */
int snap_cpuid_check(const struct kvm_cpuid_entry2 *saved, unsigned int nsaved,
		     const struct kvm_cpuid_entry2 *host, unsigned int nhost,
		     char *err, size_t errlen);

/* ---- device hook ---- */

/* One device's part in a snapshot; see "FOR DEVICE AUTHORS" above.  All
 * called on the main thread with every vCPU parked. */
struct snap_dev_ops {
	const char *name;          /* for messages */
	uint32_t tag;              /* section tag (SNAP_TAG(...)), unique per device type */
	/* Finish in-flight I/O, flush volumes.  0 or -errno (hibernate aborted). Optional. */
	int (*quiesce)(void *dev);
	/* Append the device's payload (not the section header) to b. */
	void (*save)(void *dev, struct snap_buf *b);
	/* Validate payload[0..len) completely, then apply it.  0, or -EINVAL
	 * with err filled and the device unchanged. */
	int (*restore)(void *dev, const uint8_t *payload, size_t len, char *err, size_t errlen);
};

struct snap_dev {
	const struct snap_dev_ops *ops;
	void *dev;
	uint32_t instance;
};

#endif

/* bench/io/iotool.c - block I/O from inside a guest, for bench/io and the
 * nested tests (static; the Linux guest image carries it as /bin/iotool).
 *
 *   iotool seqwrite DEV MIB [BS_KIB]    O_DIRECT sequential write + fdatasync
 *   iotool seqread  DEV MIB [BS_KIB]    O_DIRECT sequential read
 *   iotool randread  DEV SECS [SPAN_MIB] 4 KiB O_DIRECT random reads, QD 1
 *   iotool randwrite DEV SECS [SPAN_MIB] 4 KiB O_DIRECT random writes, QD 1
 *       each prints one line: "iotool OP bytes=N secs=S mbps=M iops=I"
 *   iotool records DEV FIRST COUNT [DELAY_MS]
 *       writes record i (one 4 KiB block at offset i * 4 KiB, "haneul-rec
 *       <i>\n" + a pattern) with O_DIRECT | O_DSYNC for i = FIRST ..
 *       FIRST+COUNT-1 (COUNT 0: forever) and prints "ack <i>" after each
 *       write returned: an acknowledged write, which must survive a host
 *       crash or a hibernate.
 *   iotool verify FILE COUNT
 *       checks records 0 .. COUNT-1 in FILE (the volume's image on the
 *       host): prints "verify ok=N first_bad=I" (-1 when all are good);
 *       exit 0 when all are good, 1 otherwise.
 * Exit status 0, 1 (I/O error, message on stderr), 2 (usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>

#define IOT_BLK 4096u

static double iot_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *iot_buf(size_t len, int fill)
{
	void *p = NULL;

	if (posix_memalign(&p, IOT_BLK, len))
		return NULL;
	memset(p, fill, len);
	return p;
}

/* Size of a block device or regular file, or -errno. */
static int64_t iot_size(int fd)
{
	struct stat st;
	uint64_t sz;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
			return -errno;
		return (int64_t)sz;
	}
	return st.st_size;
}

static unsigned long iot_num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "iotool: %s '%s' is not a number\n", what, s);
		exit(2);
	}
	return v;
}

static void iot_report(const char *op, uint64_t bytes, uint64_t ops, double secs)
{
	printf("iotool %s bytes=%" PRIu64 " secs=%.3f mbps=%.1f iops=%.0f\n", op, bytes, secs,
	       secs > 0 ? (double)bytes / secs / 1e6 : 0.0, secs > 0 ? (double)ops / secs : 0.0);
	fflush(stdout);
}

static int iot_seq(const char *dev, bool write_, unsigned long mib, unsigned long bs_kib)
{
	size_t bs = bs_kib * 1024;
	uint64_t total = (uint64_t)mib << 20, done = 0, ops = 0;
	int fd = open(dev, (write_ ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	char *buf;
	double t0;

	if (fd < 0) {
		fprintf(stderr, "iotool: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	if (!bs || bs % IOT_BLK || !(buf = iot_buf(bs, 0x5a))) {
		fprintf(stderr, "iotool: block size must be a multiple of 4 KiB\n");
		close(fd);
		return 2;
	}
	t0 = iot_now();
	while (done < total) {
		size_t n = total - done < bs ? (size_t)(total - done) : bs;
		ssize_t r = write_ ? pwrite(fd, buf, n, (off_t)done) : pread(fd, buf, n, (off_t)done);

		if (r <= 0) {
			fprintf(stderr, "iotool: %s at %" PRIu64 ": %s\n", dev, done, r < 0 ? strerror(errno) : "end of device");
			free(buf);
			close(fd);
			return 1;
		}
		done += (uint64_t)r;
		ops++;
	}
	if (write_ && fdatasync(fd) < 0) {
		fprintf(stderr, "iotool: fdatasync %s: %s\n", dev, strerror(errno));
		free(buf);
		close(fd);
		return 1;
	}
	iot_report(write_ ? "seqwrite" : "seqread", done, ops, iot_now() - t0);
	free(buf);
	close(fd);
	return 0;
}

static int iot_rand(const char *dev, bool write_, unsigned long secs, unsigned long span_mib)
{
	int fd = open(dev, (write_ ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	uint64_t blocks, ops = 0, x = 0x9e3779b97f4a7c15ull;
	int64_t size;
	char *buf;
	double t0, t;

	if (fd < 0) {
		fprintf(stderr, "iotool: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	size = iot_size(fd);
	if (size < (int64_t)IOT_BLK || !(buf = iot_buf(IOT_BLK, 0xa5))) {
		fprintf(stderr, "iotool: %s: too small or no size\n", dev);
		close(fd);
		return 1;
	}
	blocks = (uint64_t)size / IOT_BLK;
	if (span_mib && ((uint64_t)span_mib << 20) / IOT_BLK < blocks)
		blocks = ((uint64_t)span_mib << 20) / IOT_BLK;
	t0 = iot_now();
	do {
		for (int k = 0; k < 64; k++) {
			off_t off;
			ssize_t r;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
			off = (off_t)((x % blocks) * IOT_BLK);
			r = write_ ? pwrite(fd, buf, IOT_BLK, off) : pread(fd, buf, IOT_BLK, off);
			if (r != (ssize_t)IOT_BLK) {
				fprintf(stderr, "iotool: %s at %lld: %s\n", dev, (long long)off,
					r < 0 ? strerror(errno) : "short");
				free(buf);
				close(fd);
				return 1;
			}
			ops++;
		}
		t = iot_now() - t0;
	} while (t < (double)secs);
	iot_report(write_ ? "randwrite" : "randread", ops * IOT_BLK, ops, t);
	free(buf);
	close(fd);
	return 0;
}

/* The content of record I. */
static void iot_rec_fill(char *b, uint64_t i)
{
	int n = snprintf(b, IOT_BLK, "haneul-rec %" PRIu64 "\n", i);

	for (unsigned k = (unsigned)n; k < IOT_BLK; k++)
		b[k] = (char)((i * 31 + k) & 0xff);
}

static int iot_records(const char *dev, uint64_t first, uint64_t count, unsigned long delay_ms)
{
	int fd = open(dev, O_WRONLY | O_DIRECT | O_DSYNC | O_CLOEXEC);
	char *buf = iot_buf(IOT_BLK, 0);

	if (fd < 0 || !buf) {
		fprintf(stderr, "iotool: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	for (uint64_t i = first; !count || i < first + count; i++) {
		iot_rec_fill(buf, i);
		if (pwrite(fd, buf, IOT_BLK, (off_t)(i * IOT_BLK)) != (ssize_t)IOT_BLK) {
			fprintf(stderr, "iotool: record %" PRIu64 ": %s\n", i, strerror(errno));
			free(buf);
			close(fd);
			return 1;
		}
		printf("ack %" PRIu64 "\n", i);
		fflush(stdout);
		if (delay_ms)
			usleep((useconds_t)delay_ms * 1000);
	}
	free(buf);
	close(fd);
	return 0;
}

static int iot_verify(const char *path, uint64_t count)
{
	char *want = iot_buf(IOT_BLK, 0), *got = iot_buf(IOT_BLK, 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int64_t first_bad = -1;
	uint64_t ok = 0;

	if (fd < 0 || !want || !got) {
		fprintf(stderr, "iotool: %s: %s\n", path, strerror(errno));
		return 2;
	}
	for (uint64_t i = 0; i < count; i++) {
		iot_rec_fill(want, i);
		if (pread(fd, got, IOT_BLK, (off_t)(i * IOT_BLK)) == (ssize_t)IOT_BLK &&
		    !memcmp(want, got, IOT_BLK))
			ok++;
		else if (first_bad < 0)
			first_bad = (int64_t)i;
	}
	printf("verify ok=%" PRIu64 " first_bad=%" PRId64 "\n", ok, first_bad);
	free(want);
	free(got);
	close(fd);
	return first_bad < 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";

	if (argc >= 4 && (!strcmp(op, "seqwrite") || !strcmp(op, "seqread")))
		return iot_seq(argv[2], op[3] == 'w', iot_num(argv[3], "MIB"),
			       argc > 4 ? iot_num(argv[4], "BS_KIB") : 1024);
	if (argc >= 4 && (!strcmp(op, "randread") || !strcmp(op, "randwrite")))
		return iot_rand(argv[2], op[4] == 'w', iot_num(argv[3], "SECS"),
				argc > 4 ? iot_num(argv[4], "SPAN_MIB") : 0);
	if (argc >= 5 && !strcmp(op, "records"))
		return iot_records(argv[2], iot_num(argv[3], "FIRST"), iot_num(argv[4], "COUNT"),
				   argc > 5 ? iot_num(argv[5], "DELAY_MS") : 0);
	if (argc == 4 && !strcmp(op, "verify"))
		return iot_verify(argv[2], iot_num(argv[3], "COUNT"));
	fprintf(stderr, "usage: iotool seqwrite|seqread DEV MIB [BS_KIB] | randread|randwrite DEV SECS [SPAN_MIB]\n"
			"       iotool records DEV FIRST COUNT [DELAY_MS] | verify FILE COUNT\n");
	return 2;
}

/* bench/boot/bootwatch.c - time a VMM from process start to its guest's
 * readiness marker and sample its memory there.
 *
 *   bootwatch [--marker STR] [--count N] [--timeout S] [--log FILE]
 *             [--control SOCK] [--guest-mem MIB] [--stop term|control|none]
 *             -- CMD [ARG...]
 *
 * Starts CMD with its stdout on a pipe (stderr is inherited), copies that
 * output to FILE (default: discarded), and when the N-th line containing STR
 * (default "haneul-ready", N = 1) appears prints, one `key=value` per line:
 *   ready_us     microseconds from just before fork() to that line
 *   rss_kb       VmRSS of CMD at that moment, hwm_kb its VmHWM
 *   guest_rss_kb the Rss of CMD's mappings exactly --guest-mem MiB large
 *                (the guest RAM of a VMM that maps it in one piece)
 *   metrics      the reply to {"cmd":"metrics"} on --control SOCK (raw JSON)
 * then stops CMD (--stop: SIGTERM, default; `control`: {"cmd":"shutdown"} on
 * the control socket; `none`: wait for it to exit by itself), and prints
 * `exit=<status>` (128+signal when killed) and `markers=<lines seen>`.
 * Exit status: 0 when the marker came, 1 when not (timeout: `timeout=1`), 2
 * on usage errors.  Static, so the nested harness can copy it anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct bw_opts {
	const char *marker;
	unsigned int count;
	double timeout_s;
	const char *log_path;
	const char *control;
	unsigned long guest_mib;
	const char *stop;
	char **argv;
};

static long long bw_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Value in kB of "Key:" in /proc/PID/status; -1 when absent. */
static long bw_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Sum of Rss over the mappings of exactly `mib` MiB: the guest RAM block. */
static long bw_guest_rss_kb(pid_t pid, unsigned long mib)
{
	char path[64], line[512];
	unsigned long want_kb = mib * 1024, size_kb = 0, rss_kb;
	int in_match = 0;
	long sum = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %lu kB", &size_kb) == 1)
			in_match = size_kb == want_kb;
		else if (in_match && sscanf(line, "Rss: %lu kB", &rss_kb) == 1)
			sum += (long)rss_kb;
	}
	fclose(f);
	return sum;
}

/* Send one JSON line on the control socket; copy one reply line into out
 * (NUL-terminated, newline stripped).  Returns 0 or -errno. */
static int bw_control(const char *sock, const char *req, char *out, size_t outlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = 0;
	int fd, ret = 0;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		ret = -errno;
		goto out_close;
	}
	while (n + 1 < outlen) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		r = read(fd, out + n, outlen - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(out, '\n', n))
			break;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
out_close:
	close(fd);
	return ret;
}

static int bw_parse(int argc, char **argv, struct bw_opts *o)
{
	int i;

	*o = (struct bw_opts){ .marker = "haneul-ready", .count = 1, .timeout_s = 120,
			       .stop = "term" };
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			o->argv = argv + i + 1;
			return argv[i + 1] ? 0 : -EINVAL;
		}
		if (!v)
			return -EINVAL;
		if (strcmp(a, "--marker") == 0)
			o->marker = v;
		else if (strcmp(a, "--count") == 0)
			o->count = (unsigned int)strtoul(v, NULL, 10);
		else if (strcmp(a, "--timeout") == 0)
			o->timeout_s = strtod(v, NULL);
		else if (strcmp(a, "--log") == 0)
			o->log_path = v;
		else if (strcmp(a, "--control") == 0)
			o->control = v;
		else if (strcmp(a, "--guest-mem") == 0)
			o->guest_mib = strtoul(v, NULL, 10);
		else if (strcmp(a, "--stop") == 0)
			o->stop = v;
		else
			return -EINVAL;
		i++;
	}
	return -EINVAL;
}

/* Feed `buf` into the line splitter; returns how many complete lines in it
 * contained the marker.  `line`/`llen` carry a partial line across calls. */
static unsigned int bw_scan(const struct bw_opts *o, const char *buf, size_t n,
			    char *line, size_t cap, size_t *llen)
{
	unsigned int hits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			line[*llen] = '\0';
			if (strstr(line, o->marker))
				hits++;
			*llen = 0;
		} else if (*llen + 1 < cap) {
			line[(*llen)++] = buf[i];
		}
	}
	return hits;
}

int main(int argc, char **argv)
{
	struct bw_opts o;
	char buf[4096], line[4096], reply[8192];
	size_t llen = 0;
	unsigned int seen = 0;
	long long t0, deadline, ready_us = -1, stop_at = -1;
	int pfd[2], logfd = -1, status = 0, exited = 0, eof = 0, killed_at_deadline = 0;
	pid_t pid;

	if (bw_parse(argc, argv, &o) < 0 || o.count == 0) {
		fprintf(stderr, "usage: bootwatch [--marker STR] [--count N] [--timeout S] [--log FILE]\n"
				"       [--control SOCK] [--guest-mem MIB] [--stop term|control|none] -- CMD...\n");
		return 2;
	}
	if (o.log_path) {
		logfd = open(o.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (logfd < 0) {
			fprintf(stderr, "bootwatch: %s: %s\n", o.log_path, strerror(errno));
			return 2;
		}
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("bootwatch: pipe");
		return 2;
	}
	t0 = bw_now_us();
	pid = fork();
	if (pid < 0) {
		perror("bootwatch: fork");
		return 2;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		execvp(o.argv[0], o.argv);
		fprintf(stderr, "bootwatch: exec %s: %s\n", o.argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	deadline = t0 + (long long)(o.timeout_s * 1e6);

	while (!exited || !eof) {
		long long now = bw_now_us();
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int wait_ms = 50;

		if (now > deadline) {
			if (killed_at_deadline)
				break; /* even SIGKILL did not end it: give up */
			printf("timeout=1\n");
			kill(pid, SIGKILL);
			killed_at_deadline = 1;
			deadline = now + 5000000;
		}
		if (stop_at > 0 && now > stop_at) { /* the stop did not work: kill */
			kill(pid, SIGKILL);
			stop_at = -1;
		}
		if (!eof && poll(&p, 1, wait_ms) > 0) {
			ssize_t r = read(pfd[0], buf, sizeof(buf));

			if (r <= 0) {
				eof = 1;
			} else {
				if (logfd >= 0 && write(logfd, buf, (size_t)r) < 0)
					logfd = -1;
				seen += bw_scan(&o, buf, (size_t)r, line, sizeof(line), &llen);
				if (ready_us < 0 && seen >= o.count) {
					ready_us = bw_now_us() - t0;
					printf("ready_us=%lld\n", ready_us);
					printf("rss_kb=%ld\nhwm_kb=%ld\n", bw_status_kb(pid, "VmRSS"),
					       bw_status_kb(pid, "VmHWM"));
					if (o.guest_mib)
						printf("guest_rss_kb=%ld\n", bw_guest_rss_kb(pid, o.guest_mib));
					if (o.control) {
						int ret = bw_control(o.control, "{\"cmd\":\"metrics\"}\n",
								     reply, sizeof(reply));
						if (ret < 0)
							printf("metrics_error=%s\n", strerror(-ret));
						else
							printf("metrics=%s\n", reply);
					}
					fflush(stdout);
					if (strcmp(o.stop, "term") == 0) {
						kill(pid, SIGTERM);
					} else if (strcmp(o.stop, "control") == 0 && o.control) {
						if (bw_control(o.control, "{\"cmd\":\"shutdown\"}\n", reply,
							       sizeof(reply)) < 0)
							kill(pid, SIGTERM);
					}
					if (strcmp(o.stop, "none") != 0)
						stop_at = bw_now_us() + 10000000;
				}
			}
		} else if (eof) {
			usleep(20000);
		}
		if (!exited && waitpid(pid, &status, WNOHANG) == pid)
			exited = 1;
	}
	printf("markers=%u\n", seen);
	if (WIFEXITED(status))
		printf("exit=%d\n", WEXITSTATUS(status));
	else
		printf("exit=%d\n", 128 + WTERMSIG(status));
	if (logfd >= 0)
		close(logfd);
	return ready_us >= 0 ? 0 : 1;
}

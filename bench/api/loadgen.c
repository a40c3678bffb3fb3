/* bench/api/loadgen.c - closed-loop HTTP/1.1 keep-alive load generator.
 *
 *   loadgen HOST PORT CONNECTIONS SECONDS REQUEST_FILE
 *
 * Every connection (one thread each) sends the same pre-built request bytes
 * (a pre-signed SigV4 request stays valid for 5 minutes) and waits for the
 * whole response before sending the next.  Prints one line:
 *   requests=N errors=E rps=R p50_us=A p99_us=B
 * A response that is not "200" counts as an error. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
	pthread_t th;
	struct sockaddr_in addr;
	const char *req;
	size_t req_len;
	double deadline;
	unsigned *lat;     /* microseconds, malloc'd */
	size_t n, cap;
	size_t errors;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_one(const struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads one response; returns its status or -1. */
static int read_response(int fd, char *buf, size_t cap)
{
	size_t have = 0;
	long body = -1;
	char *hdr_end = NULL;

	for (;;) {
		ssize_t r = read(fd, buf + have, cap - have - 1);

		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if (!hdr_end) {
			char *cl;

			hdr_end = strstr(buf, "\r\n\r\n");
			if (!hdr_end)
				continue;
			cl = strcasestr(buf, "\r\ncontent-length:");
			if (!cl || cl > hdr_end)
				return -1;
			body = strtol(cl + 17, NULL, 10);
		}
		if (have >= (size_t)(hdr_end + 4 - buf) + (size_t)body)
			return atoi(buf + 9);
		if (have + 1 >= cap)
			return -1;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char *buf = malloc(1 << 16);
	int fd = -1;

	while (buf && now_s() < w->deadline) {
		double t0;
		int st;

		if (fd < 0 && (fd = connect_one(&w->addr)) < 0) {
			w->errors++;
			usleep(1000);
			continue;
		}
		t0 = now_s();
		if (write(fd, w->req, w->req_len) != (ssize_t)w->req_len) {
			close(fd);
			fd = -1;
			w->errors++;
			continue;
		}
		st = read_response(fd, buf, 1 << 16);
		if (st < 0) {
			close(fd);
			fd = -1;
			w->errors++;
			continue;
		}
		if (st != 200)
			w->errors++;
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 4096;
			w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
			if (!w->lat)
				break;
		}
		w->lat[w->n++] = (unsigned)((now_s() - t0) * 1e6);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static int cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct worker *w;
	unsigned *all;
	size_t total = 0, errors = 0, k = 0;
	char req[16384];
	size_t req_len;
	int n, i, secs;
	double t0, el;
	FILE *f;

	if (argc != 6) {
		fprintf(stderr, "usage: loadgen HOST PORT CONNECTIONS SECONDS REQUEST_FILE\n");
		return 2;
	}
	n = atoi(argv[3]);
	secs = atoi(argv[4]);
	f = fopen(argv[5], "rb");
	if (!f || n < 1 || secs < 1)
		return 2;
	req_len = fread(req, 1, sizeof(req), f);
	fclose(f);
	w = calloc((size_t)n, sizeof(*w));
	if (!w)
		return 1;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		w[i].addr.sin_family = AF_INET;
		w[i].addr.sin_port = htons((unsigned short)atoi(argv[2]));
		inet_pton(AF_INET, argv[1], &w[i].addr.sin_addr);
		w[i].req = req;
		w[i].req_len = req_len;
		w[i].deadline = t0 + secs;
		pthread_create(&w[i].th, NULL, run, &w[i]);
	}
	for (i = 0; i < n; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	el = now_s() - t0;
	all = malloc((total ? total : 1) * sizeof(*all));
	for (i = 0; i < n; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(*all));
		k += w[i].n;
		free(w[i].lat);
	}
	qsort(all, total, sizeof(*all), cmp_u);
	printf("requests=%zu errors=%zu rps=%.0f p50_us=%u p99_us=%u\n", total, errors, (double)total / el,
	       total ? all[total / 2] : 0, total ? all[(size_t)((double)total * 0.99)] : 0);
	free(all);
	free(w);
	return 0;
}

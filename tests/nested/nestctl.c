/* tests/nested/nestctl.c - the host-side Unix socket client the nested tests
 * run inside the outer VM (static, no libraries; busybox has no AF_UNIX
 * client).
 *
 *   nestctl ctl SOCK JSON [TIMEOUT_S]
 *       one request on haneul-vmm's control socket: writes JSON + "\n",
 *       prints the reply line; exit 0 when the reply has "ok":true.
 *   nestctl listen SOCK TIMEOUT_S
 *       the host end of a guest-initiated vsock connection (hybrid vsock:
 *       the guest's connect(2, P) arrives on SOCK = UDS_P): binds SOCK,
 *       accepts one connection, prints its first line; exit 0, or 1 when
 *       nothing came within TIMEOUT_S.
 *   nestctl http ADDR PORT PATH [TIMEOUT_S]
 *       HTTP/1.0 GET to an IPv4 address; prints the status line and, after
 *       a line "--", the body; exit 0 on a 200 (busybox wget is a static
 *       glibc binary whose resolver crashes in the outer VM).
 *   nestctl vsock SOCK PORT LINE [TIMEOUT_S]
 *       host -> guest: "CONNECT PORT\n" on the VMM's vsock socket, expects
 *       "OK <n>", sends LINE + "\n", prints the first reply line.
 * Exit 1 with a message on stderr on any failure, 2 on usage errors.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

static long long nc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int nc_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "nestctl: %s: path too long\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

static int nc_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (nc_addr(path, &sa))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "nestctl: connect %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int nc_write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one line (without "\n") into BUF within DEADLINE; 0 or -1. */
static int nc_read_line(int fd, char *buf, size_t cap, long long deadline)
{
	size_t len = 0;

	while (len + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - nc_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = read(fd, buf + len, 1);
		if (r <= 0)
			break;
		if (buf[len] == '\n') {
			buf[len] = 0;
			return 0;
		}
		len++;
	}
	buf[len] = 0;
	return len ? 0 : -1;
}

static int nc_ctl(const char *sock, const char *json, int tmo)
{
	char line[65536];
	int fd = nc_connect(sock);

	if (fd < 0)
		return 1;
	if (nc_write_all(fd, json, strlen(json)) || nc_write_all(fd, "\n", 1) ||
	    nc_read_line(fd, line, sizeof(line), nc_now_ms() + tmo * 1000LL)) {
		fprintf(stderr, "nestctl: %s: no reply to %s\n", sock, json);
		close(fd);
		return 1;
	}
	close(fd);
	printf("%s\n", line);
	return strstr(line, "\"ok\":true") ? 0 : 1;
}

static int nc_listen(const char *path, int tmo)
{
	long long deadline = nc_now_ms() + tmo * 1000LL;
	struct sockaddr_un sa;
	struct pollfd p;
	char line[8192];
	int lfd, fd;

	if (nc_addr(path, &sa))
		return 1;
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
		fprintf(stderr, "nestctl: listen %s: %s\n", path, strerror(errno));
		return 1;
	}
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, tmo * 1000) <= 0 || (fd = accept(lfd, NULL, NULL)) < 0) {
		fprintf(stderr, "nestctl: %s: no connection within %d s\n", path, tmo);
		return 1;
	}
	if (nc_read_line(fd, line, sizeof(line), deadline)) {
		fprintf(stderr, "nestctl: %s: connection without a line\n", path);
		return 1;
	}
	printf("%s\n", line);
	close(fd);
	close(lfd);
	unlink(path);
	return 0;
}

static int nc_vsock(const char *sock, const char *port, const char *msg, int tmo)
{
	long long deadline = nc_now_ms() + tmo * 1000LL;
	char line[65536];
	int fd = nc_connect(sock);

	if (fd < 0)
		return 1;
	snprintf(line, sizeof(line), "CONNECT %s\n", port);
	if (nc_write_all(fd, line, strlen(line)) || nc_read_line(fd, line, sizeof(line), deadline) ||
	    strncmp(line, "OK ", 3)) {
		fprintf(stderr, "nestctl: %s: CONNECT %s refused (%s)\n", sock, port, line);
		close(fd);
		return 1;
	}
	if (nc_write_all(fd, msg, strlen(msg)) || nc_write_all(fd, "\n", 1) ||
	    nc_read_line(fd, line, sizeof(line), deadline)) {
		fprintf(stderr, "nestctl: %s: port %s: no reply\n", sock, port);
		close(fd);
		return 1;
	}
	close(fd);
	printf("%s\n", line);
	return 0;
}

static int nc_http(const char *addr, const char *port, const char *path, int tmo)
{
	long long deadline = nc_now_ms() + tmo * 1000LL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	static char resp[1 << 20];
	size_t len = 0;
	char req[1024];
	char *body;
	int fd;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "nestctl: %s: not an IPv4 address\n", addr);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "nestctl: connect %s:%s: %s\n", addr, port, strerror(errno));
		return 1;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr);
	if (nc_write_all(fd, req, strlen(req))) {
		fprintf(stderr, "nestctl: send to %s:%s: %s\n", addr, port, strerror(errno));
		return 1;
	}
	while (len + 1 < sizeof(resp)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - nc_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = read(fd, resp + len, sizeof(resp) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	resp[len] = 0;
	body = strstr(resp, "\r\n\r\n");
	if (!body) {
		fprintf(stderr, "nestctl: %s:%s%s: no HTTP response (%zu bytes)\n", addr, port, path, len);
		return 1;
	}
	*body = 0;
	printf("%.*s\n--\n%s\n", (int)strcspn(resp, "\r\n"), resp, body + 4);
	return strncmp(resp, "HTTP/1.1 200", 12) && strncmp(resp, "HTTP/1.0 200", 12) ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";

	if ((argc == 4 || argc == 5) && !strcmp(op, "ctl"))
		return nc_ctl(argv[2], argv[3], argc == 5 ? atoi(argv[4]) : 30);
	if (argc == 4 && !strcmp(op, "listen"))
		return nc_listen(argv[2], atoi(argv[3]));
	if ((argc == 5 || argc == 6) && !strcmp(op, "http"))
		return nc_http(argv[2], argv[3], argv[4], argc == 6 ? atoi(argv[5]) : 10);
	if ((argc == 5 || argc == 6) && !strcmp(op, "vsock"))
		return nc_vsock(argv[2], argv[3], argv[4], argc == 6 ? atoi(argv[5]) : 10);
	fprintf(stderr, "usage: nestctl ctl SOCK JSON [TMO] | listen SOCK TMO | http ADDR PORT PATH [TMO] |\n"
			"       vsock SOCK PORT LINE [TMO]\n");
	return 2;
}

/* vmm/dev/console.c - console sinks and source (see console.h). */
#include "vmm/dev/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

int console_open(struct console *c, const struct console_cfg *cfg, char *err, size_t errlen)
{
	c->out_fd = cfg->to_stdout ? cfg->out_fd : -1;
	c->in_fd = cfg->from_stdin ? cfg->in_fd : -1;
	c->log_fd = -1;
	c->log_size = 0;
	c->log_wraps = 0;
	c->log_max = cfg->log_max ? cfg->log_max : CONSOLE_LOG_MAX;
	c->tty_saved = false;
	c->total = 0;
	if (cfg->log_path) {
		c->log_fd = open(cfg->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (c->log_fd < 0) {
			int r = -errno;

			snprintf(err, errlen, "--console-log %s: %s", cfg->log_path, strerror(errno));
			return r;
		}
	}
	if (c->in_fd >= 0 && isatty(c->in_fd) && tcgetattr(c->in_fd, &c->saved_tio) == 0) {
		struct termios raw = c->saved_tio;

		/* Raw: every key (Ctrl-C included) goes to the guest. */
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* keep host-side newline handling of our stderr */
		if (tcsetattr(c->in_fd, TCSANOW, &raw) == 0)
			c->tty_saved = true;
	}
	if (c->in_fd >= 0) {
		int fl = fcntl(c->in_fd, F_GETFL);

		if (fl >= 0)
			(void)fcntl(c->in_fd, F_SETFL, fl | O_NONBLOCK);
	}
	return 0;
}

void console_close(struct console *c)
{
	if (c->tty_saved) {
		(void)tcsetattr(c->in_fd, TCSANOW, &c->saved_tio);
		c->tty_saved = false;
	}
	if (c->in_fd >= 0) {
		int fl = fcntl(c->in_fd, F_GETFL);

		if (fl >= 0)
			(void)fcntl(c->in_fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	if (c->log_fd >= 0)
		close(c->log_fd);
	c->log_fd = -1;
	c->in_fd = -1;
	c->out_fd = -1;
}

void console_ring_put(struct console *c, const uint8_t *buf, size_t len)
{
	if (len >= CONSOLE_RING_SIZE) {
		buf += len - CONSOLE_RING_SIZE;
		c->total += len - CONSOLE_RING_SIZE;
		len = CONSOLE_RING_SIZE;
	}
	size_t pos = c->total % CONSOLE_RING_SIZE;
	size_t first = CONSOLE_RING_SIZE - pos < len ? CONSOLE_RING_SIZE - pos : len;

	memcpy(c->ring + pos, buf, first);
	memcpy(c->ring, buf + first, len - first);
	c->total += len;
}

size_t console_ring_tail(const struct console *c, size_t want, uint8_t *out)
{
	size_t held = c->total < CONSOLE_RING_SIZE ? c->total : CONSOLE_RING_SIZE;
	size_t n = want < held ? want : held;
	size_t start = (c->total - n) % CONSOLE_RING_SIZE;
	size_t first = CONSOLE_RING_SIZE - start < n ? CONSOLE_RING_SIZE - start : n;

	memcpy(out, c->ring + start, first);
	memcpy(out + first, c->ring, n - first);
	return n;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0; /* a non-blocking sink that is full loses output */
		if (w <= 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static void log_append(struct console *c, const uint8_t *buf, size_t len)
{
	static const char marker[] = "\n[haneul-vmm: console log reached its size limit and restarted]\n";

	if (c->log_size + len > c->log_max) {
		if (ftruncate(c->log_fd, 0) < 0 || lseek(c->log_fd, 0, SEEK_SET) < 0) {
			log_warn("console log: cannot restart it: %s; log dropped", strerror(errno));
			close(c->log_fd);
			c->log_fd = -1;
			return;
		}
		c->log_size = 0;
		c->log_wraps++;
		if (write_all(c->log_fd, (const uint8_t *)marker, sizeof(marker) - 1) == 0)
			c->log_size = sizeof(marker) - 1;
		if (len > c->log_max / 2) {
			buf += len - c->log_max / 2;
			len = c->log_max / 2;
		}
	}
	if (write_all(c->log_fd, buf, len) < 0) {
		log_warn("console log: %s; log dropped", strerror(errno));
		close(c->log_fd);
		c->log_fd = -1;
		return;
	}
	c->log_size += len;
}

void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	console_ring_put(c, buf, len);
	if (c->out_fd >= 0 && write_all(c->out_fd, buf, len) < 0) {
		log_warn("console stdout: %s; output to stdout stopped", strerror(errno));
		c->out_fd = -1;
	}
	if (c->log_fd >= 0)
		log_append(c, buf, len);
}

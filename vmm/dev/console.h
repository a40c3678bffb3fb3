/* vmm/dev/console.h - where the guest's serial console goes and comes from:
 * stdout (optional), a size-bounded log file (optional), an in-memory ring
 * holding the last CONSOLE_RING_SIZE bytes (for the control socket's
 * "console" command, kept across guest reboots), and stdin as input (put in
 * raw mode when it is a terminal, restored by console_close()).
 *
 * Not thread-safe: the owner (vm.c) serializes calls with its device lock.
 */
#ifndef VMM_DEV_CONSOLE_H
#define VMM_DEV_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define CONSOLE_RING_SIZE   (64u * 1024)
/* The log file is truncated and restarted (with a marker line) when it
 * reaches this size, so a chatty guest cannot fill the disk. */
#define CONSOLE_LOG_MAX     (16ull << 20)

struct console_cfg {
	bool to_stdout;          /* --console stdout (default) */
	bool from_stdin;         /* read guest input from stdin */
	const char *log_path;    /* --console-log, NULL = none */
	uint64_t log_max;        /* 0 = CONSOLE_LOG_MAX */
	int out_fd;              /* normally STDOUT_FILENO */
	int in_fd;               /* normally STDIN_FILENO */
};

struct console {
	int out_fd;              /* -1 = none */
	int in_fd;               /* -1 = no input */
	int log_fd;              /* -1 = none */
	uint64_t log_size, log_max, log_wraps;
	bool tty_saved;
	struct termios saved_tio;
	uint8_t ring[CONSOLE_RING_SIZE];
	uint64_t total;          /* bytes ever written; ring holds the last min(total, size) */
};

/* Returns 0 or -errno with err filled (e.g. the log file cannot be created). */
int console_open(struct console *c, const struct console_cfg *cfg, char *err, size_t errlen);
/* Restores the terminal, closes the log. Safe to call twice. */
void console_close(struct console *c);
/* Guest output: ring, stdout, log.  Write errors on stdout/log are not
 * fatal to the guest: that sink is dropped with a warning. */
void console_write(struct console *c, const uint8_t *buf, size_t len);

/* Ring only (pure; unit-tested). */
void console_ring_put(struct console *c, const uint8_t *buf, size_t len);
/* Copy the last min(want, held) bytes into out (oldest first); returns the count. */
size_t console_ring_tail(const struct console *c, size_t want, uint8_t *out);

#endif

/* common/log.c - one line per message on stderr: "prog: level: text". */
#include "common/log.h"

#include <stdio.h>

/* Written once by log_init() before threads start; read-only afterwards. */
static struct {
	const char *prog;
	enum log_level level;
} log_cfg = { "haneul", LOG_INFO };

void log_init(const char *prog, enum log_level level)
{
	log_cfg.prog = prog;
	log_cfg.level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char buf[1024];
	va_list ap;

	if (level > log_cfg.level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One fprintf call so lines from different threads do not interleave. */
	fprintf(stderr, "%s: %s: %s\n", log_cfg.prog, names[level], buf);
}

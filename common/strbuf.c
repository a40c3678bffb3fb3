/* common/strbuf.c - growable byte buffer with sticky out-of-memory. */
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(struct strbuf *sb)
{
	sb->p = NULL;
	sb->len = sb->cap = 0;
	sb->oom = false;
}

void sb_free(struct strbuf *sb)
{
	free(sb->p);
	sb_init(sb);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->oom = false;
	if (sb->p)
		sb->p[0] = '\0';
}

int sb_reserve(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *np;

	if (sb->oom)
		return -12;
	if (extra > SIZE_MAX - sb->len - 1)
		goto oom;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	np = realloc(sb->p, cap);
	if (!np)
		goto oom;
	sb->p = np;
	sb->cap = cap;
	return 0;
oom:
	sb->oom = true;
	return -12;
}

void sb_append(struct strbuf *sb, const void *data, size_t n)
{
	if (sb_reserve(sb, n))
		return;
	if (n)
		memcpy(sb->p + sb->len, data, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

void sb_putc(struct strbuf *sb, char c)
{
	sb_append(sb, &c, 1);
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->p + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

const char *sb_cstr(struct strbuf *sb)
{
	if (!sb->p)
		return "";
	return sb->p;
}

char *sb_detach(struct strbuf *sb, size_t *len)
{
	char *p;

	if (sb->oom) {
		sb_free(sb);
		return NULL;
	}
	if (!sb->p && sb_reserve(sb, 0))
		return NULL;
	sb->p[sb->len] = '\0';
	p = sb->p;
	if (len)
		*len = sb->len;
	sb_init(sb);
	return p;
}

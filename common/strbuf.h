/* common/strbuf.h - growable, always NUL-terminated byte buffer.
 *
 * Out-of-memory is sticky: after a failed append the buffer keeps what it had,
 * sb_oom() turns true and later appends are no-ops, so callers build a whole
 * document and check once at the end. */
#ifndef COMMON_STRBUF_H
#define COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *p;      /* NUL-terminated when len > 0 or after sb_cstr(); owned, sb_free() frees */
	size_t len;
	size_t cap;
	bool oom;
};

#define STRBUF_INIT { NULL, 0, 0, false }

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);      /* len = 0, memory kept, oom cleared */
int sb_reserve(struct strbuf *sb, size_t extra);
void sb_append(struct strbuf *sb, const void *data, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool sb_oom(const struct strbuf *sb) { return sb->oom; }
/* Always a valid C string ("" for an empty buffer); owned by sb. */
const char *sb_cstr(struct strbuf *sb);
/* Hands the bytes to the caller (who frees them); sb is empty afterwards.
 * NULL if the buffer hit out-of-memory. */
char *sb_detach(struct strbuf *sb, size_t *len);

#endif

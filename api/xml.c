/* api/xml.c - escaping XML writer (see xml.h). */
#include "api/xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid.  Rejects
 * overlongs, surrogates, > U+10FFFF and the XML non-characters U+FFFE/U+FFFF. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned cp;

		if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		cp = (c & 0x0F) << 12 | (unsigned)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
		if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned cp;

		if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		cp = (c & 0x07) << 18 | (unsigned)(s[1] & 0x3F) << 12 | (unsigned)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
		if (cp < 0x10000 || cp > 0x10FFFF)
			return 0;
		return 4;
	}
	return 0;
}

void xml_escape(struct strbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		const unsigned char *run = p;
		size_t n;

		/* Copy the longest run of plain bytes in one go. */
		while (*p >= 0x20 && *p < 0x80 && *p != '&' && *p != '<' && *p != '>' && *p != '"' && *p != '\'')
			p++;
		if (p > run)
			sb_append(out, run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '&': sb_puts(out, "&amp;"); p++; continue;
		case '<': sb_puts(out, "&lt;"); p++; continue;
		case '>': sb_puts(out, "&gt;"); p++; continue;
		case '"': sb_puts(out, "&quot;"); p++; continue;
		case '\'': sb_puts(out, "&apos;"); p++; continue;
		case '\t': sb_puts(out, "&#9;"); p++; continue;
		case '\n': sb_puts(out, "&#10;"); p++; continue;
		case '\r': sb_puts(out, "&#13;"); p++; continue;
		default: break;
		}
		if (*p < 0x20) {
			sb_puts(out, replacement);
			p++;
			continue;
		}
		n = utf8_len(p);
		if (n == 0) {
			sb_puts(out, replacement);
			p++;
		} else {
			sb_append(out, p, n);
			p += n;
		}
	}
}

void xml_open(struct strbuf *out, const char *name)
{
	sb_putc(out, '<');
	sb_puts(out, name);
	sb_putc(out, '>');
}

void xml_close(struct strbuf *out, const char *name)
{
	sb_puts(out, "</");
	sb_puts(out, name);
	sb_putc(out, '>');
}

void xml_elem(struct strbuf *out, const char *name, const char *text)
{
	if (!text) {
		sb_putc(out, '<');
		sb_puts(out, name);
		sb_puts(out, "/>");
		return;
	}
	xml_open(out, name);
	xml_escape(out, text);
	xml_close(out, name);
}

void xml_elemf(struct strbuf *out, const char *name, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	xml_elem(out, name, buf);
}

void xml_decl(struct strbuf *out)
{
	sb_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

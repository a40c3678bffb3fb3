/* tests/fuzz/fuzz_lb_http.c - libFuzzer target for haneul-lb's HTTP parser:
 * request heads (with small and default limits), response heads, and the
 * body framing of whatever follows a head, fed in random-sized pieces.
 * Invariants: results in range, head_len within the input, pointers inside
 * the input, and the framer never claims more bytes than it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lb/http.h"

static void check_msg(const struct http_msg *m, const char *buf, size_t len)
{
	if (m->head_len > len)
		abort();
	for (size_t i = 0; i < m->nhdr; i++)
		if (m->hdr[i].name < buf || m->hdr[i].value + m->hdr[i].value_len > buf + len)
			abort();
}

static void feed_body(struct http_body *b, const uint8_t *p, size_t n)
{
	size_t off = 0, step = 1;

	while (off < n && !b->done) {
		size_t k = n - off < step ? n - off : step;
		ssize_t r = http_body_feed(b, (const char *)p + off, k);

		if (r < 0)
			return;
		if ((size_t)r > k)
			abort();
		if ((size_t)r < k && !b->done)
			abort(); /* only the end of a message stops short */
		off += (size_t)r;
		step = step * 3 + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_msg m;
	const struct http_limits def = { HTTP_DEFAULT_MAX_HEAD, HTTP_DEFAULT_MAX_HEADERS };
	const struct http_limits small = { 64, 4 };
	char *buf = malloc(size ? size : 1);
	ssize_t r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = http_parse_request(buf, size, &def, &m);
	if (r > 0) {
		struct http_body b;

		check_msg(&m, buf, size);
		if ((size_t)r != m.head_len)
			abort();
		if (m.body == HTTP_BODY_EOF)
			abort(); /* requests are never read to EOF */
		http_body_init(&b, m.body, m.content_length);
		feed_body(&b, data + r, size - (size_t)r);
	} else if (r != 0 && r != -400 && r != -431 && r != -501 && r != -505) {
		abort();
	}
	r = http_parse_request(buf, size, &small, &m);
	if (r > 64)
		abort();
	r = http_parse_response(buf, size, &def, size & 1, &m);
	if (r > 0) {
		struct http_body b;

		check_msg(&m, buf, size);
		http_body_init(&b, m.body, m.content_length);
		feed_body(&b, data + r, size - (size_t)r);
	} else if (r != 0 && r != -502) {
		abort();
	}
	{
		struct http_body b;

		http_body_init(&b, HTTP_BODY_CHUNKED, 0);
		feed_body(&b, data, size);
	}
	free(buf);
	return 0;
}

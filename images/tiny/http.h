/* images/tiny/http.h - the tiny guest's HTTP/1.1 responder (one request per
 * connection, always "Connection: close"). */
#ifndef IMAGES_TINY_HTTP_H
#define IMAGES_TINY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "images/tiny/clock.h"

#define HTTP_BURN_MAX_MS 10000u

struct http_ctx {
	const char *instance_id;      /* body of GET / (without the newline) */
	const struct tclock *clock;   /* for /burn */
	uint64_t requests;            /* answered, any status */
	uint64_t burned_ms;
};

/* Looks at the request bytes received so far.  Returns the length of the
 * response written to out (at most cap), or 0 when the request head is not
 * complete yet.  final: no more bytes can come (peer closed, or the buffer
 * is full), so an incomplete head gets a 400. */
size_t http_handle(struct http_ctx *h, const char *req, size_t len, bool final, char *out, size_t cap);

#endif

/* api/http.h - haneuld's HTTP front on libmicrohttpd.
 *
 * A pool of worker threads (epoll), HTTP/1.1 keep-alive, and limits against
 * abusive clients: request headers must fit MHD's per-connection memory
 * (64 KiB, else 431), bodies above API_MAX_BODY get 413 (early, from
 * Content-Length, when the client announces it), idle or slow connections
 * are closed after a timeout, and the number of connections is capped. */
#ifndef API_HTTP_H
#define API_HTTP_H

#include <stdint.h>

#include "api/api.h"

struct http_server;

struct http_config {
	const char *listen;      /* "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6); port 0 = any */
	unsigned threads;        /* worker threads */
	unsigned timeout_s;      /* idle / slow-client timeout */
	unsigned max_conns;
	size_t max_body;
};

/* Parses "ADDR:PORT".  0 or -EINVAL. */
int http_parse_listen(const char *s, char *host, size_t host_len, uint16_t *port);
/* Starts serving api.  *out is freed by http_stop().  0 or -errno (logged). */
int http_start(struct api *api, const struct http_config *cfg, struct http_server **out);
uint16_t http_port(const struct http_server *srv);
/* Stops accepting, finishes the requests in flight, frees srv. */
void http_stop(struct http_server *srv);

#endif

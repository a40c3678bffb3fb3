/* api/http.c - libmicrohttpd front end (see http.h). */
#include "api/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "common/log.h"
#include "api/xml.h"

#define HTTP_MAX_HEADERS 128

struct http_server {
	struct api *api;
	struct MHD_Daemon *mhd;
	size_t max_body;
	uint16_t port;
};

/* Per request: allocated by uri_logger() (MHD's first look at a request),
 * freed by request_done(). */
struct http_req {
	char *uri;           /* raw request target: path?query */
	struct strbuf body;
	bool started;
	bool too_large;
};

struct header_list {
	struct sigv4_header v[HTTP_MAX_HEADERS];
	size_t n;
	bool overflow;
};

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("http: %s", buf);
}

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_req *r = calloc(1, sizeof(*r));

	(void)cls;
	(void)c;
	if (!r)
		return NULL;
	r->uri = strdup(uri ? uri : "/");
	if (!r->uri) {
		free(r);
		return NULL;
	}
	sb_init(&r->body);
	return r;
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!r)
		return;
	free(r->uri);
	sb_free(&r->body);
	free(r);
	*con_cls = NULL;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct header_list *h = cls;

	(void)kind;
	if (h->n == HTTP_MAX_HEADERS) {
		h->overflow = true;
		return MHD_NO;
	}
	h->v[h->n].name = key;
	h->v[h->n].value = value ? value : "";
	h->n++;
	return MHD_YES;
}

static enum MHD_Result send_body(struct MHD_Connection *c, int status, const char *ctype,
				 char *body, size_t len, const char *request_id)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (request_id && *request_id) {
		MHD_add_response_header(resp, "x-amzn-RequestId", request_id);
		MHD_add_response_header(resp, "x-amz-request-id", request_id);
	}
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A transport-level error (before any service is known): AWS Query shape. */
static enum MHD_Result send_plain_error(struct MHD_Connection *c, int status, const char *code, const char *msg)
{
	struct strbuf b = STRBUF_INIT;
	char *p;
	size_t n;

	xml_decl(&b);
	sb_puts(&b, "<ErrorResponse><Error><Type>Sender</Type>");
	xml_elem(&b, "Code", code);
	xml_elem(&b, "Message", msg);
	sb_puts(&b, "</Error></ErrorResponse>");
	p = sb_detach(&b, &n);
	if (!p)
		return MHD_NO;
	return send_body(c, status, "text/xml", p, n, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size,
			      void **con_cls)
{
	struct http_server *srv = cls;
	struct http_req *r = *con_cls;
	struct header_list h;
	struct api_http_req in;
	struct api_http_resp out;
	char *q, *body;
	size_t n;

	(void)url;
	(void)version;
	if (!r)
		return MHD_NO; /* out of memory in uri_logger: drop the connection */
	if (!r->started) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		r->started = true;
		if (cl) {
			char *end;
			unsigned long long v = strtoull(cl, &end, 10);

			if (*end || v > srv->max_body)
				/* Answer before reading the body; MHD closes the connection. */
				return send_plain_error(c, 413, "RequestEntityTooLarge",
							"The request body is larger than haneuld accepts.");
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->too_large) {
			if (r->body.len + *upload_data_size > srv->max_body) {
				r->too_large = true;
				sb_free(&r->body);
			} else {
				sb_append(&r->body, upload_data, *upload_data_size);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return send_plain_error(c, 413, "RequestEntityTooLarge", "The request body is larger than haneuld accepts.");
	if (sb_oom(&r->body))
		return send_plain_error(c, 500, "InternalFailure", "Out of memory.");

	/* haneul's own liveness probe (unauthenticated, reveals nothing). */
	if (strcmp(r->uri, "/_haneul/health") == 0 && strcmp(method, "GET") == 0) {
		char *ok = strdup("ok\n");

		return ok ? send_body(c, 200, "text/plain", ok, 3, NULL) : MHD_NO;
	}

	memset(&h, 0, sizeof(h));
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &h);
	if (h.overflow)
		return send_plain_error(c, 431, "RequestHeaderFieldsTooLarge", "Too many request headers.");

	q = strchr(r->uri, '?');
	if (q)
		*q++ = '\0';
	memset(&in, 0, sizeof(in));
	in.method = method;
	in.path = r->uri;
	in.query = q;
	in.headers = h.v;
	in.n_headers = h.n;
	in.body = r->body.p ? r->body.p : "";
	in.body_len = r->body.len;
	memset(&out, 0, sizeof(out));
	sb_init(&out.body);
	api_handle(srv->api, &in, &out);
	log_debug("%s %s -> %d (%s)", method, r->uri, out.status, out.request_id);
	body = sb_detach(&out.body, &n);
	if (!body)
		return send_plain_error(c, 500, "InternalFailure", "Out of memory.");
	return send_body(c, out.status, out.content_type, body, n, out.request_id);
}

int http_parse_listen(const char *s, char *host, size_t host_len, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	unsigned long p;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= host_len)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || p > 65535)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

int http_start(struct api *api, const struct http_config *cfg, struct http_server **out)
{
	struct sockaddr_storage ss;
	struct http_server *srv;
	char host[128];
	uint16_t port;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (http_parse_listen(cfg->listen, host, sizeof(host), &port)) {
		log_err("bad listen address '%s' (want ADDR:PORT)", cfg->listen);
		return -EINVAL;
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		log_err("listen address '%s' is not a numeric IPv4/IPv6 address", host);
		return -EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->api = api;
	srv->max_body = cfg->max_body;
	srv->mhd = MHD_start_daemon(flags, port, NULL, NULL, handle, srv,
				    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
				    MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
				    MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s,
				    MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns,
				    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
				    MHD_OPTION_URI_LOG_CALLBACK, uri_logger, srv,
				    MHD_OPTION_NOTIFY_COMPLETED, request_done, srv,
				    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv,
				    MHD_OPTION_END);
	if (!srv->mhd) {
		log_err("cannot listen on %s (address in use, or not permitted)", cfg->listen);
		free(srv);
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : port;
	*out = srv;
	return 0;
}

uint16_t http_port(const struct http_server *srv)
{
	return srv->port;
}

void http_stop(struct http_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->mhd);
	free(srv);
}

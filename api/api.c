/* api/api.c - request dispatch: authentication, authorization, envelopes
 * (see api.h for the order of the checks). */
#include "api/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "api/iam.h"
#include "api/policy.h"
#include "api/sts.h"
#include "api/stubs.h"
#include "api/xml.h"
#include "common/log.h"

static const char sig_mismatch_msg[] =
	"The request signature we calculated does not match the signature you provided. "
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

static time_t default_now(void)
{
	return time(NULL);
}

/* ---- small helpers ---------------------------------------------------------- */

void api_format_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void api_random_id(const char *prefix, size_t n, char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char rnd[64];
	size_t plen = strlen(prefix), i;

	if (n > sizeof(rnd))
		n = sizeof(rnd);
	if (seal_random(rnd, n))
		abort(); /* no randomness: ids would collide; nothing sane to do */
	memcpy(out, prefix, plen);
	for (i = 0; i < n; i++)
		out[plen + i] = alphabet[rnd[i] & 31];
	out[plen + n] = '\0';
}

static void new_request_id(char out[40])
{
	unsigned char b[16];

	if (seal_random(b, sizeof(b)))
		abort();
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

int api_error(struct api_req *req, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (req->err_status)
		return -1; /* the first error is the one reported */
	req->err_status = status;
	snprintf(req->err_code, sizeof(req->err_code), "%s", code);
	sb_reset(&req->err_msg);
	va_start(ap, fmt);
	{
		char buf[1024];

		vsnprintf(buf, sizeof(buf), fmt, ap);
		sb_puts(&req->err_msg, buf);
	}
	va_end(ap);
	return -1;
}

int api_internal(struct api_req *req)
{
	return api_error(req, 500, "InternalFailure",
			 "The request processing has failed because of an unknown error, exception or failure.");
}

const char *api_param_required(struct api_req *req, const char *name)
{
	const char *v = api_param(req, name);

	if (!v || !*v) {
		api_error(req, 400, "MissingParameter",
			  "The request must contain the parameter %s", name);
		return NULL;
	}
	return v;
}

static const char *find_header(const struct api_http_req *in, const char *name)
{
	size_t i;

	for (i = 0; i < in->n_headers; i++)
		if (strcasecmp(in->headers[i].name, name) == 0)
			return in->headers[i].value;
	return NULL;
}

/* ---- registry ------------------------------------------------------------------ */

int api_register_service(struct api *api, const struct api_service *svc)
{
	size_t i;

	for (i = 0; i < api->n_services; i++)
		if (strcmp(api->services[i]->name, svc->name) == 0) {
			api->services[i] = svc; /* a real module replaces a stub */
			return 0;
		}
	if (api->n_services == API_MAX_SERVICES)
		return -ENOSPC;
	api->services[api->n_services++] = svc;
	return 0;
}

const struct api_service *api_find_service(const struct api *api, const char *name)
{
	size_t i;

	for (i = 0; i < api->n_services; i++)
		if (strcmp(api->services[i]->name, name) == 0)
			return api->services[i];
	return NULL;
}

static const struct api_service *service_by_version(const struct api *api, const char *version)
{
	size_t i;

	for (i = 0; version && i < api->n_services; i++)
		if (strcmp(api->services[i]->version, version) == 0)
			return api->services[i];
	return NULL;
}

static const struct api_action *find_action(const struct api_service *svc, const char *name)
{
	size_t i;

	for (i = 0; i < svc->n_actions; i++)
		if (strcmp(svc->actions[i].name, name) == 0)
			return &svc->actions[i];
	return NULL;
}

/* ---- init -------------------------------------------------------------------- */

int api_init(struct api *api, const char *data_dir, const char *region)
{
	char path[PATH_MAX + 32];
	struct stat st;
	int err;

	memset(api, 0, sizeof(*api));
	api->now = default_now;
	if (strlen(data_dir) >= sizeof(api->data_dir) || strlen(region) >= sizeof(api->region))
		return -ENAMETOOLONG;
	strcpy(api->data_dir, data_dir);
	strcpy(api->region, region);
	if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		log_err("cannot create data dir %s: %s", data_dir, strerror(-err));
		return err;
	}
	if (stat(data_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("data dir %s is not a directory", data_dir);
		return -ENOTDIR;
	}
	snprintf(path, sizeof(path), "%s/secret.key", data_dir);
	err = seal_load_key(&api->seal, path);
	if (err) {
		log_err("secret key %s: %s%s", path, strerror(-err),
			err == -EPERM ? " (must be mode 0600)" : "");
		return err;
	}
	snprintf(path, sizeof(path), "%s/state.db", data_dir);
	err = store_open(&api->store, path);
	if (err)
		goto fail_seal;
	api_register_service(api, &iam_service);
	api_register_service(api, &sts_service);
	api_register_service(api, &ec2_stub_service);
	api_register_service(api, &elbv2_stub_service);
	api_register_service(api, &autoscaling_stub_service);
	api_register_service(api, &s3_stub_service);
	err = iam_bootstrap(api);
	if (err)
		goto fail_store;
	return 0;
fail_store:
	store_close(&api->store);
fail_seal:
	seal_wipe(&api->seal);
	return err;
}

void api_fini(struct api *api)
{
	store_close(&api->store);
	seal_wipe(&api->seal);
}

/* ---- envelopes ----------------------------------------------------------------- */

static void render_error(const struct api_req *req, const struct api_service *svc,
			 struct api_http_resp *resp)
{
	struct strbuf *b = &resp->body;
	enum api_protocol proto = svc ? svc->proto : API_PROTO_QUERY;
	const char *msg = sb_cstr((struct strbuf *)&req->err_msg);

	resp->status = req->err_status;
	sb_reset(b);
	xml_decl(b);
	if (proto == API_PROTO_EC2) {
		sb_puts(b, "<Response><Errors><Error>");
		xml_elem(b, "Code", req->err_code);
		xml_elem(b, "Message", msg);
		sb_puts(b, "</Error></Errors>");
		xml_elem(b, "RequestID", req->request_id);
		sb_puts(b, "</Response>");
	} else if (proto == API_PROTO_REST) {
		sb_puts(b, "<Error>");
		xml_elem(b, "Code", req->err_code);
		xml_elem(b, "Message", msg);
		xml_elem(b, "RequestId", req->request_id);
		sb_puts(b, "</Error>");
	} else {
		sb_puts(b, "<ErrorResponse");
		if (svc) {
			sb_puts(b, " xmlns=\"");
			xml_escape(b, svc->xmlns);
			sb_putc(b, '"');
		}
		sb_puts(b, "><Error>");
		xml_elem(b, "Type", req->err_status >= 500 ? "Receiver" : "Sender");
		xml_elem(b, "Code", req->err_code);
		xml_elem(b, "Message", msg);
		sb_puts(b, "</Error>");
		xml_elem(b, "RequestId", req->request_id);
		sb_puts(b, "</ErrorResponse>");
	}
}

static void render_result(struct api_req *req, struct api_http_resp *resp)
{
	struct strbuf *b = &resp->body;
	const char *a = req->act->name;

	resp->status = 200;
	sb_reset(b);
	xml_decl(b);
	sb_printf(b, "<%sResponse xmlns=\"%s\">", a, req->svc->xmlns);
	if (req->svc->proto == API_PROTO_EC2) {
		xml_elem(b, "requestId", req->request_id);
		sb_append(b, sb_cstr(&req->out), req->out.len);
	} else {
		if (!(req->act->flags & API_ACT_NO_RESULT)) {
			sb_printf(b, "<%sResult>", a);
			sb_append(b, sb_cstr(&req->out), req->out.len);
			sb_printf(b, "</%sResult>", a);
		}
		sb_puts(b, "<ResponseMetadata>");
		xml_elem(b, "RequestId", req->request_id);
		sb_puts(b, "</ResponseMetadata>");
	}
	sb_printf(b, "</%sResponse>", a);
}

/* ---- authentication -------------------------------------------------------------- */

/* Codes differ per protocol (AWS-API.md section 5). */
static int auth_error(struct api_req *req, const char *kind, const char *msg)
{
	bool ec2 = req->svc && req->svc->proto == API_PROTO_EC2;
	bool s3 = req->svc && req->svc->proto == API_PROTO_REST;

	if (strcmp(kind, "missing") == 0)
		return api_error(req, ec2 ? 401 : 403, "MissingAuthenticationToken", "%s", msg);
	if (strcmp(kind, "incomplete") == 0)
		return api_error(req, 400, s3 ? "AuthorizationHeaderMalformed" : "IncompleteSignature", "%s", msg);
	if (strcmp(kind, "unknown-key") == 0) {
		if (ec2)
			return api_error(req, 401, "AuthFailure", "AWS was not able to validate the provided access credentials");
		return api_error(req, 403, s3 ? "InvalidAccessKeyId" : "InvalidClientTokenId", "%s", msg);
	}
	if (strcmp(kind, "expired") == 0) {
		if (ec2)
			return api_error(req, 400, "RequestExpired", "%s", msg);
		return api_error(req, 403, s3 ? "RequestTimeTooSkewed" : "SignatureDoesNotMatch", "%s", msg);
	}
	return api_error(req, 403, "SignatureDoesNotMatch", "%s", msg);
}

static int check_time(struct api_req *req, const char *amz_date)
{
	time_t t, now = req->api->now();
	char now_s[17], lim_s[17];

	if (sigv4_parse_amz_date(amz_date, &t))
		return auth_error(req, "incomplete", "Date must be in ISO-8601 'basic format'.");
	sigv4_format_amz_date(now, now_s);
	if (t < now - API_SKEW_SECONDS) {
		char m[160];

		sigv4_format_amz_date(now - API_SKEW_SECONDS, lim_s);
		if (req->svc->proto == API_PROTO_EC2)
			return auth_error(req, "expired", "Request has expired.");
		snprintf(m, sizeof(m), "Signature expired: %s is now earlier than %s (%s - 5 min.)",
			 amz_date, lim_s, now_s);
		return auth_error(req, "expired", m);
	}
	if (t > now + API_SKEW_SECONDS) {
		sigv4_format_amz_date(now + API_SKEW_SECONDS, lim_s);
		if (req->svc->proto != API_PROTO_EC2) {
			char m[160];

			snprintf(m, sizeof(m), "Signature not yet current: %s is still later than %s (%s + 5 min.)",
				 amz_date, lim_s, now_s);
			return auth_error(req, "expired", m);
		}
		return auth_error(req, "expired", "Request is not yet valid.");
	}
	return 0;
}

/* The timestamp that was signed: X-Amz-Date, else an RFC 1123 Date header. */
static int request_amz_date(const struct api_http_req *in, char out[17])
{
	const char *v = find_header(in, "x-amz-date");
	struct tm tm;
	const char *end;

	if (v) {
		if (strlen(v) != 16)
			return -EINVAL;
		memcpy(out, v, 17);
		return 0;
	}
	v = find_header(in, "date");
	if (!v)
		return -ENOENT;
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return -EINVAL;
	sigv4_format_amz_date(timegm(&tm), out);
	return 0;
}

static bool signs_host(const char *list)
{
	const char *p = list;

	for (;;) {
		if (strncmp(p, "host", 4) == 0 && (p[4] == ';' || p[4] == '\0'))
			return true;
		p = strchr(p, ';');
		if (!p)
			return false;
		p++;
	}
}

static int authenticate(struct api_req *req, const struct api_http_req *in, const struct sigv4_auth *a)
{
	struct api *api = req->api;
	char amz_date[17], secret[128], body_hash[65];
	const char *hdr_hash;
	struct sigv4_request sr;
	int err;

	if (strcmp(a->region, api->region) != 0 &&
	    !(req->svc->global && strcmp(a->region, "us-east-1") == 0)) {
		char m[160];

		snprintf(m, sizeof(m), "Credential should be scoped to a valid region, not '%s'. ", a->region);
		return auth_error(req, "signature", m);
	}
	if (!signs_host(a->signed_headers))
		return auth_error(req, "incomplete", "'Host' must be a 'SignedHeader' in the AWS Authorization.");
	err = request_amz_date(in, amz_date);
	if (err == -ENOENT)
		return auth_error(req, "incomplete",
				  "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
	if (err || check_time(req, amz_date))
		return err ? auth_error(req, "incomplete", "Date must be in ISO-8601 'basic format'.") : -1;
	if (strncmp(amz_date, a->date, 8) != 0) {
		char m[200];

		snprintf(m, sizeof(m), "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%.8s'",
			 a->date, amz_date);
		return auth_error(req, "signature", m);
	}

	err = iam_authenticate(api, a->access_key, &req->who, secret, sizeof(secret));
	if (err == -ENOENT || err == -EACCES)
		return auth_error(req, "unknown-key", "The security token included in the request is invalid.");
	if (err)
		return api_internal(req);

	sigv4_hex_sha256(in->body ? in->body : "", in->body_len, body_hash);
	hdr_hash = find_header(in, "x-amz-content-sha256");
	memset(&sr, 0, sizeof(sr));
	sr.method = in->method;
	sr.path = in->path;
	sr.query = in->query;
	sr.headers = in->headers;
	sr.n_headers = in->n_headers;
	sr.payload_hash = body_hash;
	sr.s3 = req->svc->proto == API_PROTO_REST;
	if (sr.s3 && hdr_hash) {
		if (strcmp(hdr_hash, "UNSIGNED-PAYLOAD") != 0 && strcmp(hdr_hash, body_hash) != 0) {
			OPENSSL_cleanse(secret, sizeof(secret));
			return api_error(req, 400, "XAmzContentSHA256Mismatch",
					 "The provided 'x-amz-content-sha256' header does not match what was computed.");
		}
		sr.payload_hash = hdr_hash;
	}
	err = sigv4_verify(&sr, a, secret, amz_date);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (err == -ENOENT)
		return auth_error(req, "signature", sig_mismatch_msg);
	if (err == -EINVAL)
		return auth_error(req, "incomplete", "Authorization header or query string is malformed.");
	if (err == -EACCES)
		return auth_error(req, "signature", sig_mismatch_msg);
	if (err)
		return api_internal(req);
	return 0;
}

/* ---- authorization ------------------------------------------------------------- */

static int authorize(struct api_req *req, const char *action_name)
{
	const struct api_service *svc = req->svc;
	struct strbuf res = STRBUF_INIT, full = STRBUF_INIT;
	enum policy_decision d;
	struct policy_request pr;
	struct policy_cond_kv ctx[7];
	bool ec2 = svc->proto == API_PROTO_EC2;
	int ret = 0;

	sb_printf(&full, "%s:%s", svc->prefix, action_name);
	if (req->who.root) {
		if (svc->root_ok)
			goto out;
		ret = api_error(req, 403, ec2 ? "UnauthorizedOperation" : "AccessDenied",
				"%sThe root user's access keys may only manage IAM (and call STS): "
				"use an IAM user to call %s.",
				ec2 ? "You are not authorized to perform this operation. " : "", sb_cstr(&full));
		goto out;
	}
	if (req->act && (req->act->flags & API_ACT_NO_AUTHZ))
		goto out;
	if (req->act && req->act->resource) {
		if (req->act->resource(req, &res)) {
			ret = -1;
			goto out;
		}
	} else {
		sb_puts(&res, "*");
	}
	ctx[0] = (struct policy_cond_kv){ "aws:username", req->who.user_name };
	ctx[1] = (struct policy_cond_kv){ "aws:userid", req->who.user_id };
	ctx[2] = (struct policy_cond_kv){ "aws:PrincipalArn", req->who.arn };
	ctx[3] = (struct policy_cond_kv){ "aws:PrincipalAccount", req->who.account };
	ctx[4] = (struct policy_cond_kv){ "aws:PrincipalType", "User" };
	ctx[5] = (struct policy_cond_kv){ "aws:RequestedRegion", req->api->region };
	ctx[6] = (struct policy_cond_kv){ "aws:SecureTransport", "false" };
	pr.action = sb_cstr(&full);
	pr.resource = sb_cstr(&res);
	pr.ctx = ctx;
	pr.n_ctx = 7;
	if (sb_oom(&res) || sb_oom(&full) || iam_authorize(req->api, &req->who, &pr, &d)) {
		ret = api_internal(req);
		goto out;
	}
	if (d == POLICY_ALLOW)
		goto out;
	ret = api_error(req, 403, ec2 ? "UnauthorizedOperation" : "AccessDenied",
			"%sUser: %s is not authorized to perform: %s on resource: %s because %s",
			ec2 ? "You are not authorized to perform this operation. " : "",
			req->who.arn, pr.action, pr.resource,
			d == POLICY_EXPLICIT_DENY ? "of an explicit deny in an identity-based policy" :
			"no identity-based policy allows the action");
out:
	sb_free(&res);
	sb_free(&full);
	return ret;
}

/* ---- the request ----------------------------------------------------------------- */

static bool is_form(const char *ct)
{
	return !ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

static bool truthy(const char *v)
{
	return v && strcasecmp(v, "true") == 0;
}

static void dispatch(struct api_req *req, const struct api_http_req *in)
{
	struct api *api = req->api;
	const char *auth_hdr = find_header(in, "authorization");
	struct sigv4_auth a;
	enum sigv4_parse_err perr = SIGV4_ERR_MALFORMED;
	int parse_err = 0;

	/* Parameters: the query string, then (for form posts) the body. */
	if (in->query && *in->query)
		parse_err = query_parse(&req->params, in->query, strlen(in->query), QUERY_PLUS_IS_SPACE);
	if (!parse_err && in->body_len && is_form(find_header(in, "content-type")))
		parse_err = query_parse(&req->params, in->body, in->body_len, QUERY_PLUS_IS_SPACE);

	/* Service: the signing scope, else the Version parameter. */
	if (auth_hdr) {
		perr = sigv4_parse_auth_header(auth_hdr, &a);
		if (perr == SIGV4_OK)
			req->svc = api_find_service(api, a.service);
	}
	if (!req->svc && !parse_err)
		req->svc = service_by_version(api, api_param(req, "Version"));

	if (parse_err == -ENOMEM) {
		api_internal(req);
		return;
	}
	if (parse_err) {
		api_error(req, 400, "MalformedQueryString",
			  parse_err == -E2BIG ? "Too many parameters in the request." :
			  "The query string or form body is not valid URL encoding.");
		return;
	}
	if (!auth_hdr) {
		if (find_header(in, "x-amz-security-token") || api_param(req, "X-Amz-Signature")) {
			api_error(req, 400, "IncompleteSignature",
				  "Presigned (query string) requests are not supported by haneul; sign with the Authorization header.");
			return;
		}
		auth_error(req, "missing", "Request is missing Authentication Token");
		return;
	}
	if (perr == SIGV4_ERR_ALGORITHM) {
		auth_error(req, "incomplete", "Unsupported AWS 'algorithm': only AWS4-HMAC-SHA256 is accepted.");
		return;
	}
	if (perr != SIGV4_OK) {
		auth_error(req, "incomplete",
			   "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters "
			   "and a credential scope KEY/YYYYMMDD/REGION/SERVICE/aws4_request.");
		return;
	}
	if (!req->svc) {
		api_error(req, 400, "InvalidAction", "haneul does not offer the service '%s'.", a.service);
		return;
	}
	if (authenticate(req, in, &a))
		return;

	if (req->svc->proto == API_PROTO_REST) {
		/* S3 is not implemented yet: authorization rules still apply. */
		if (req->who.root)
			authorize(req, "*");
		else
			api_error(req, 501, "NotImplemented", "haneul does not implement S3 yet.");
		return;
	}
	req->action = api_param(req, "Action");
	if (!req->action || !*req->action) {
		api_error(req, 400, "MissingAction", "The request must contain the parameter Action.");
		return;
	}
	{
		const char *v = api_param(req, "Version");

		if (v && strcmp(v, req->svc->version) != 0) {
			api_error(req, 400, "NoSuchVersion",
				  "The requested version (%s) of service %s does not exist", v, req->svc->name);
			return;
		}
	}
	if (strlen(req->action) > 128) {
		api_error(req, 400, "InvalidAction", "The action is not valid for this web service.");
		return;
	}
	req->act = find_action(req->svc, req->action);
	/* Authorization first: an unknown or unimplemented action is still
	 * refused to a caller who may not call it. */
	if (authorize(req, req->action))
		return;
	if (!req->act) {
		if (req->svc->n_actions == 0)
			api_error(req, 400, "InvalidAction",
				  "The action %s is not implemented by haneul yet.", req->action);
		else
			api_error(req, 400, "InvalidAction",
				  "The action %s is not valid for this web service.", req->action);
		return;
	}
	if (truthy(api_param(req, "DryRun"))) {
		api_error(req, 412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
		return;
	}
	if (req->act->handler(req) && !req->err_status)
		api_internal(req);
	if (!req->err_status && sb_oom(&req->out))
		api_internal(req);
}

void api_handle(struct api *api, const struct api_http_req *in, struct api_http_resp *resp)
{
	struct api_req req;

	memset(&req, 0, sizeof(req));
	req.api = api;
	query_init(&req.params);
	sb_init(&req.out);
	sb_init(&req.err_msg);
	new_request_id(req.request_id);
	memcpy(resp->request_id, req.request_id, sizeof(req.request_id));
	resp->content_type = "text/xml";

	dispatch(&req, in);
	if (req.err_status) {
		if (req.err_status >= 500)
			log_warn("request %s: %s: %s", req.request_id, req.err_code, sb_cstr(&req.err_msg));
		render_error(&req, req.svc, resp);
	} else {
		render_result(&req, resp);
	}
	if (sb_oom(&resp->body)) {
		sb_reset(&resp->body);
		resp->status = 500;
	}
	query_free(&req.params);
	sb_free(&req.out);
	sb_free(&req.err_msg);
}

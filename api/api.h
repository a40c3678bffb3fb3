/* api/api.h - haneuld's core: the context every module gets, the service
 * registry and the transport-independent request handler.
 *
 * Request path (api_handle): parse parameters -> pick the service from the
 * SigV4 credential scope (or, unsigned, from Version) -> authenticate
 * (SigV4, skew, key status) -> authorize "<prefix>:<Action>" against IAM
 * policies (root may only use services marked root_ok) -> unknown Action ->
 * DryRun -> the action's handler -> the service's XML envelope.
 *
 * A service module (iam.c, sts.c, later ec2.c ...) describes itself with a
 * struct api_service (name, Version, namespace, protocol, action table) and
 * is registered in api_init(); errors render in the service's protocol
 * (AWS Query <ErrorResponse> or EC2 <Response><Errors>). */
#ifndef API_API_H
#define API_API_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "api/query.h"
#include "api/seal.h"
#include "api/sigv4.h"
#include "api/store.h"
#include "common/strbuf.h"

#define API_DEFAULT_REGION "ap-northeast-2"
#define API_DEFAULT_LISTEN "127.0.0.1:4566"
#define API_MAX_BODY (1u << 20)      /* bytes of a query-protocol request body */
#define API_SKEW_SECONDS 300
#define API_MAX_SERVICES 16

struct api_req;
struct ec2;
struct elbv2;
struct asg;
struct cw;

enum api_protocol {
	API_PROTO_QUERY, /* IAM, STS, ELBv2, AutoScaling: <ErrorResponse>, PascalCase */
	API_PROTO_EC2,   /* EC2: <Response><Errors>, lower-camel, <requestId> */
	API_PROTO_REST,  /* S3: <Error> documents, no Action */
};

/* Action flags. */
#define API_ACT_NO_AUTHZ  0x1 /* answered for any authenticated caller (sts:GetCallerIdentity) */
#define API_ACT_NO_RESULT 0x2 /* query protocol: no <ActionResult> element */

struct api_action {
	const char *name;
	/* 0 with the result's inner XML in req->out, or -1 after api_error(). */
	int (*handler)(struct api_req *req);
	unsigned flags;
	/* Optional: the ARN authorised against (default "*").  0 or -1 after api_error(). */
	int (*resource)(struct api_req *req, struct strbuf *arn);
};

struct api_service {
	const char *name;       /* SigV4 signing name: "iam", "elasticloadbalancing" */
	const char *prefix;     /* IAM action prefix: "iam", "elasticloadbalancing" */
	const char *version;    /* "2010-05-08" */
	const char *xmlns;
	enum api_protocol proto;
	bool global;            /* also accepts the us-east-1 signing region */
	bool root_ok;           /* root credentials may call it (IAM, STS) */
	const struct api_action *actions;
	size_t n_actions;
};

struct api_principal {
	bool root;
	char account[16];
	char user_id[32];   /* AIDA... for users, the account id for root */
	char user_name[72]; /* "" for root */
	char arn[160];
	char access_key[32];
};

struct api {
	struct store store;
	struct seal seal;
	char data_dir[PATH_MAX];
	char region[32];
	char account_id[16];
	const struct api_service *services[API_MAX_SERVICES];
	size_t n_services;
	/* The clock, injectable for tests (SigV4 skew). */
	time_t (*now)(void);
	/* The EC2 service's context (api/ec2.h); NULL while EC2 is the stub. */
	struct ec2 *ec2;
	/* ELBv2, Auto Scaling, CloudWatch (api/elbv2.h, asg.h, cw.h); NULL while stubs. */
	struct elbv2 *elbv2;
	struct asg *asg;
	struct cw *cw;
};

/* Transport-independent request and response (http.c fills them from
 * libmicrohttpd; unit tests build them by hand). */
struct api_http_req {
	const char *method;
	const char *path;   /* raw, percent-encoded */
	const char *query;  /* raw, without '?', or NULL */
	const struct sigv4_header *headers;
	size_t n_headers;
	const char *body;
	size_t body_len;
};

struct api_http_resp {
	int status;
	const char *content_type;
	struct strbuf body;
	char request_id[40];
};

struct api_req {
	struct api *api;
	const struct api_service *svc;
	const struct api_action *act;
	const char *action;          /* the Action parameter */
	struct query params;         /* decoded query-string + form-body parameters */
	struct api_principal who;
	char request_id[40];
	struct strbuf out;           /* handler's result (inner XML) */
	int err_status;              /* 0 or the error's HTTP status */
	char err_code[64];
	struct strbuf err_msg;
};

/* Opens (creating on first start) DATA_DIR: state.db, the secret key file,
 * the root user with DATA_DIR/root-credentials.  0 or -errno (logged). */
int api_init(struct api *api, const char *data_dir, const char *region);
void api_fini(struct api *api);
int api_register_service(struct api *api, const struct api_service *svc);
const struct api_service *api_find_service(const struct api *api, const char *name);

/* Answers one request.  resp->body is owned by the caller (sb_free). */
void api_handle(struct api *api, const struct api_http_req *in, struct api_http_resp *resp);

/* For handlers: record the error; always returns -1. */
int api_error(struct api_req *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A required parameter; NULL after a MissingParameter error. */
const char *api_param_required(struct api_req *req, const char *name);
static inline const char *api_param(const struct api_req *req, const char *name)
{
	return query_get(&req->params, name);
}
/* An "internal error" (500) after a store failure. */
int api_internal(struct api_req *req);

/* ISO-8601 "2023-01-30T12:00:00Z" for epoch seconds. */
void api_format_time(time_t t, char out[32]);
/* Random id: prefix + n chars of [A-Z2-7] (IAM style).  out holds >= strlen(prefix)+n+1. */
void api_random_id(const char *prefix, size_t n, char *out);

#endif

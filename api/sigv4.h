/* api/sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256), both sides.
 *
 * The verifier rebuilds the canonical request from the SignedHeaders list the
 * client sent (never from every received header), hashes the payload itself
 * and compares signatures in constant time.  The same code signs requests for
 * the haneul CLI and the benchmark, so a bug cannot hide in a matching pair:
 * the unit tests pin it to the official AWS test-suite vectors. */
#ifndef API_SIGV4_H
#define API_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/strbuf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_MAX_SIGNED_HEADERS 64

/* A parsed "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
struct sigv4_auth {
	char access_key[129];
	char date[9];          /* YYYYMMDD from the credential scope */
	char region[64];
	char service[64];
	char signed_headers[1024]; /* "content-type;host;x-amz-date" as sent */
	char signature[65];    /* 64 lower-case hex digits */
};

/* Why a header did not parse; lets the caller pick AWS's error code. */
enum sigv4_parse_err {
	SIGV4_OK = 0,
	SIGV4_ERR_ALGORITHM,   /* not AWS4-HMAC-SHA256 (e.g. SigV2 or garbage) */
	SIGV4_ERR_MALFORMED,   /* missing/duplicate/oversized component */
	SIGV4_ERR_SCOPE,       /* Credential is not KEY/DATE/REGION/SERVICE/aws4_request */
};

enum sigv4_parse_err sigv4_parse_auth_header(const char *hdr, struct sigv4_auth *out);

struct sigv4_header {
	const char *name;  /* any case */
	const char *value;
};

struct sigv4_request {
	const char *method;
	const char *path;        /* raw path as sent, percent-encoded, without the query */
	const char *query;       /* raw query string without '?', or NULL */
	const struct sigv4_header *headers;
	size_t n_headers;
	const char *payload_hash; /* 64 hex digits, or "UNSIGNED-PAYLOAD" */
	bool s3;                  /* S3 signs the path as sent; others normalise and re-encode it */
};

/* Canonical request for signed_headers ("a;b;c", lower case, sorted).
 * 0, -EINVAL (malformed list or query), -ENOENT (a signed header is absent) or -ENOMEM. */
int sigv4_canonical_request(const struct sigv4_request *r, const char *signed_headers, struct strbuf *out);
/* The non-S3 canonical URI (dot segments and empty segments removed, then URI-encoded). */
void sigv4_canonical_uri(const char *path, bool s3, struct strbuf *out);
/* The canonical query string of a raw query ("" for NULL).  0 or -EINVAL/-ENOMEM. */
int sigv4_canonical_query(const char *query, struct strbuf *out);

void sigv4_hex_sha256(const void *data, size_t n, char out[65]);
void sigv4_signing_key(const char *secret, const char *date, const char *region,
		       const char *service, unsigned char out[32]);
/* "AWS4-HMAC-SHA256\n<amz_date>\n<date>/<region>/<service>/aws4_request\n<hex sha256(creq)>" */
void sigv4_string_to_sign(const char *amz_date, const char *date, const char *region,
			  const char *service, const char *creq, size_t creq_len, struct strbuf *out);
void sigv4_hmac_hex(const unsigned char key[32], const char *msg, size_t n, char out[65]);

/* Full signature of r.  0 or the sigv4_canonical_request() errors. */
int sigv4_compute(const struct sigv4_request *r, const char *secret, const char *amz_date,
		  const char *region, const char *service, const char *signed_headers, char sig[65]);
/* Constant-time check of a.signature for r.  0 (match), -EACCES (mismatch), or a compute error. */
int sigv4_verify(const struct sigv4_request *r, const struct sigv4_auth *a, const char *secret,
		 const char *amz_date);
/* Builds the Authorization header value for a client.  0 or a compute error. */
int sigv4_sign(const struct sigv4_request *r, const char *access_key, const char *secret,
	       const char *amz_date, const char *region, const char *service,
	       const char *signed_headers, struct strbuf *auth_out);

/* Strict "YYYYMMDDTHHMMSSZ" -> UTC time.  0 or -EINVAL. */
int sigv4_parse_amz_date(const char *s, time_t *out);
/* UTC time -> "YYYYMMDDTHHMMSSZ" (buffer of 17). */
void sigv4_format_amz_date(time_t t, char out[17]);

#endif

/* api/sigv4.c - AWS Signature Version 4 (see sigv4.h). */
#include "api/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "api/query.h"

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_hex_sha256(const void *data, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, n, md);
	hex_encode(md, sizeof(md), out);
}

static void hmac256(const void *key, size_t klen, const void *msg, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len);
}

void sigv4_signing_key(const char *secret, const char *date, const char *region,
		       const char *service, unsigned char out[32])
{
	char k0[256];
	unsigned char k[32];
	int len;

	len = snprintf(k0, sizeof(k0), "AWS4%s", secret);
	if (len < 0 || (size_t)len >= sizeof(k0))
		len = 0; /* an absurd secret never verifies; see sigv4_compute */
	hmac256(k0, (size_t)len, date, strlen(date), k);
	hmac256(k, 32, region, strlen(region), k);
	hmac256(k, 32, service, strlen(service), k);
	hmac256(k, 32, "aws4_request", 12, out);
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(k, sizeof(k));
}

void sigv4_hmac_hex(const unsigned char key[32], const char *msg, size_t n, char out[65])
{
	unsigned char md[32];

	hmac256(key, 32, msg, n, md);
	hex_encode(md, 32, out);
}

void sigv4_string_to_sign(const char *amz_date, const char *date, const char *region,
			  const char *service, const char *creq, size_t creq_len, struct strbuf *out)
{
	char h[65];

	sigv4_hex_sha256(creq, creq_len, h);
	sb_printf(out, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date, region,
		  service, h);
}

/* ---- Authorization header ------------------------------------------------ */

static bool copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool valid_signed_headers(const char *s)
{
	const char *p = s, *prev = NULL;
	size_t prev_len = 0, count = 0;

	if (!*s)
		return false;
	while (*p) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p), i;

		if (len == 0 || ++count > SIGV4_MAX_SIGNED_HEADERS)
			return false;
		for (i = 0; i < len; i++) {
			char c = p[i];

			if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '_' || c == '.'))
				return false;
		}
		/* Sorted and unique, as every SDK sends them; a client that does not
		 * sort would not match AWS either. */
		if (prev) {
			size_t m = prev_len < len ? prev_len : len;
			int c = memcmp(prev, p, m);

			if (c > 0 || (c == 0 && prev_len >= len))
				return false;
		}
		prev = p;
		prev_len = len;
		if (!e)
			break;
		p = e + 1;
		if (!*p)
			return false;
	}
	return true;
}

static enum sigv4_parse_err parse_credential(const char *v, size_t n, struct sigv4_auth *out)
{
	const char *parts[5];
	size_t lens[5], i, k = 0;
	const char *p = v, *end = v + n;

	while (k < 5) {
		const char *slash = memchr(p, '/', (size_t)(end - p));

		parts[k] = p;
		lens[k] = slash ? (size_t)(slash - p) : (size_t)(end - p);
		k++;
		if (!slash)
			break;
		p = slash + 1;
	}
	/* The access key cannot contain '/', so exactly five parts. */
	if (k != 5 || parts[4] + lens[4] != end)
		return SIGV4_ERR_SCOPE;
	if (lens[4] != 12 || memcmp(parts[4], "aws4_request", 12) != 0)
		return SIGV4_ERR_SCOPE;
	if (lens[1] != 8)
		return SIGV4_ERR_SCOPE;
	for (i = 0; i < 8; i++)
		if (!isdigit((unsigned char)parts[1][i]))
			return SIGV4_ERR_SCOPE;
	if (!copy_field(out->access_key, sizeof(out->access_key), parts[0], lens[0]) ||
	    !copy_field(out->date, sizeof(out->date), parts[1], lens[1]) ||
	    !copy_field(out->region, sizeof(out->region), parts[2], lens[2]) ||
	    !copy_field(out->service, sizeof(out->service), parts[3], lens[3]))
		return SIGV4_ERR_SCOPE;
	return SIGV4_OK;
}

enum sigv4_parse_err sigv4_parse_auth_header(const char *hdr, struct sigv4_auth *out)
{
	static const char alg[] = SIGV4_ALGORITHM;
	bool have_cred = false, have_sh = false, have_sig = false;
	const char *p;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (strncmp(hdr, alg, sizeof(alg) - 1) != 0 || hdr[sizeof(alg) - 1] != ' ')
		return SIGV4_ERR_ALGORITHM;
	p = hdr + sizeof(alg) - 1;
	for (;;) {
		const char *comp, *eq, *end;
		size_t klen, vlen;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		comp = p;
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		p = *end ? end + 1 : end;
		while (end > comp && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		eq = memchr(comp, '=', (size_t)(end - comp));
		if (!eq)
			return SIGV4_ERR_MALFORMED;
		klen = (size_t)(eq - comp);
		vlen = (size_t)(end - eq - 1);
		if (klen == 10 && memcmp(comp, "Credential", 10) == 0) {
			enum sigv4_parse_err e;

			if (have_cred)
				return SIGV4_ERR_MALFORMED;
			have_cred = true;
			e = parse_credential(eq + 1, vlen, out);
			if (e)
				return e;
		} else if (klen == 13 && memcmp(comp, "SignedHeaders", 13) == 0) {
			if (have_sh || !copy_field(out->signed_headers, sizeof(out->signed_headers), eq + 1, vlen))
				return SIGV4_ERR_MALFORMED;
			have_sh = true;
		} else if (klen == 9 && memcmp(comp, "Signature", 9) == 0) {
			if (have_sig || vlen != 64 || !copy_field(out->signature, sizeof(out->signature), eq + 1, vlen))
				return SIGV4_ERR_MALFORMED;
			for (i = 0; i < 64; i++)
				if (!isxdigit((unsigned char)out->signature[i]) || isupper((unsigned char)out->signature[i]))
					return SIGV4_ERR_MALFORMED;
			have_sig = true;
		} else {
			return SIGV4_ERR_MALFORMED;
		}
	}
	if (!have_cred || !have_sh || !have_sig || !valid_signed_headers(out->signed_headers))
		return SIGV4_ERR_MALFORMED;
	return SIGV4_OK;
}

/* ---- canonical request ---------------------------------------------------- */

void sigv4_canonical_uri(const char *path, bool s3, struct strbuf *out)
{
	const char *p;
	size_t *starts = NULL, *lens = NULL, nseg = 0, cap = 0, i, plen;
	bool lead, trail;

	if (!path || !*path) {
		sb_putc(out, '/');
		return;
	}
	if (s3) {
		sb_puts(out, path);
		return;
	}
	/* botocore's remove_dot_segments(): drop "" and ".", ".." pops one. */
	plen = strlen(path);
	lead = path[0] == '/';
	p = path;
	while (p <= path + plen) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg)
				nseg--;
		} else if (len && !(len == 1 && p[0] == '.')) {
			if (nseg == cap) {
				size_t nc = cap ? cap * 2 : 16;
				size_t *ns = realloc(starts, nc * sizeof(*ns));
				size_t *nl;

				if (!ns) {
					out->oom = true;
					goto out;
				}
				starts = ns;
				nl = realloc(lens, nc * sizeof(*nl));
				if (!nl) {
					out->oom = true;
					goto out;
				}
				lens = nl;
				cap = nc;
			}
			starts[nseg] = (size_t)(p - path);
			lens[nseg] = len;
			nseg++;
		}
		if (!e)
			break;
		p = e + 1;
	}
	trail = path[plen - 1] == '/' && nseg > 0;
	if (lead)
		sb_putc(out, '/');
	for (i = 0; i < nseg; i++) {
		if (i)
			sb_putc(out, '/');
		/* Non-S3 services encode the already-encoded path once more. */
		query_uri_encode(out, path + starts[i], lens[i], false);
	}
	if (trail)
		sb_putc(out, '/');
out:
	free(starts);
	free(lens);
}

struct kv {
	char *k;
	char *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

int sigv4_canonical_query(const char *query, struct strbuf *out)
{
	struct query q;
	struct kv *kv = NULL;
	size_t i;
	int err;

	if (!query || !*query)
		return 0;
	query_init(&q);
	err = query_parse(&q, query, strlen(query), 0);
	if (err)
		goto out; /* the parser may have grown q's array */
	kv = calloc(q.n ? q.n : 1, sizeof(*kv));
	if (!kv) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < q.n; i++) {
		struct strbuf k = STRBUF_INIT, v = STRBUF_INIT;

		query_uri_encode(&k, q.v[i].key, strlen(q.v[i].key), false);
		query_uri_encode(&v, q.v[i].val, strlen(q.v[i].val), false);
		kv[i].k = sb_detach(&k, NULL);
		kv[i].v = sb_detach(&v, NULL);
		if (!kv[i].k || !kv[i].v) {
			err = -ENOMEM;
			goto out;
		}
	}
	qsort(kv, q.n, sizeof(*kv), kv_cmp);
	for (i = 0; i < q.n; i++) {
		if (i)
			sb_putc(out, '&');
		sb_puts(out, kv[i].k);
		sb_putc(out, '=');
		sb_puts(out, kv[i].v);
	}
	err = sb_oom(out) ? -ENOMEM : 0;
out:
	if (kv)
		for (i = 0; i < q.n; i++) {
			free(kv[i].k);
			free(kv[i].v);
		}
	free(kv);
	query_free(&q);
	return err;
}

/* Appends "value" trimmed, with runs of spaces/tabs collapsed to one space. */
static void put_trimmed(struct strbuf *out, const char *v)
{
	bool space = false, any = false;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = any;
			continue;
		}
		if (space)
			sb_putc(out, ' ');
		space = false;
		any = true;
		sb_putc(out, *v);
	}
}

int sigv4_canonical_request(const struct sigv4_request *r, const char *signed_headers, struct strbuf *out)
{
	const char *p = signed_headers;
	int err;

	if (!valid_signed_headers(signed_headers))
		return -EINVAL;
	sb_puts(out, r->method);
	sb_putc(out, '\n');
	sigv4_canonical_uri(r->path, r->s3, out);
	sb_putc(out, '\n');
	err = sigv4_canonical_query(r->query, out);
	if (err)
		return err;
	sb_putc(out, '\n');
	for (;;) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p), i;
		bool found = false;

		sb_append(out, p, len);
		sb_putc(out, ':');
		for (i = 0; i < r->n_headers; i++) {
			const char *name = r->headers[i].name;

			if (strlen(name) != len || strncasecmp(name, p, len) != 0)
				continue;
			/* Repeated headers are joined with ',' in arrival order. */
			if (found)
				sb_putc(out, ',');
			put_trimmed(out, r->headers[i].value ? r->headers[i].value : "");
			found = true;
		}
		if (!found)
			return -ENOENT;
		sb_putc(out, '\n');
		if (!e)
			break;
		p = e + 1;
	}
	sb_putc(out, '\n');
	sb_puts(out, signed_headers);
	sb_putc(out, '\n');
	sb_puts(out, r->payload_hash);
	return sb_oom(out) ? -ENOMEM : 0;
}

int sigv4_compute(const struct sigv4_request *r, const char *secret, const char *amz_date,
		  const char *region, const char *service, const char *signed_headers, char sig[65])
{
	struct strbuf creq = STRBUF_INIT, sts = STRBUF_INIT;
	unsigned char key[32];
	char date[9];
	int err;

	if (strlen(amz_date) < 8)
		return -EINVAL;
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	err = sigv4_canonical_request(r, signed_headers, &creq);
	if (err)
		goto out;
	sigv4_string_to_sign(amz_date, date, region, service, creq.p, creq.len, &sts);
	if (sb_oom(&sts)) {
		err = -ENOMEM;
		goto out;
	}
	sigv4_signing_key(secret, date, region, service, key);
	sigv4_hmac_hex(key, sts.p, sts.len, sig);
	OPENSSL_cleanse(key, sizeof(key));
out:
	sb_free(&creq);
	sb_free(&sts);
	return err;
}

int sigv4_verify(const struct sigv4_request *r, const struct sigv4_auth *a, const char *secret,
		 const char *amz_date)
{
	char sig[65];
	int err;

	/* The scope date must be the request's date (AWS rejects a mismatch). */
	if (strncmp(amz_date, a->date, 8) != 0)
		return -EACCES;
	err = sigv4_compute(r, secret, amz_date, a->region, a->service, a->signed_headers, sig);
	if (err)
		return err;
	return CRYPTO_memcmp(sig, a->signature, 64) == 0 ? 0 : -EACCES;
}

int sigv4_sign(const struct sigv4_request *r, const char *access_key, const char *secret,
	       const char *amz_date, const char *region, const char *service,
	       const char *signed_headers, struct strbuf *auth_out)
{
	char sig[65];
	int err;

	err = sigv4_compute(r, secret, amz_date, region, service, signed_headers, sig);
	if (err)
		return err;
	sb_printf(auth_out, SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
		  access_key, amz_date, region, service, signed_headers, sig);
	return sb_oom(auth_out) ? -ENOMEM : 0;
}

int sigv4_parse_amz_date(const char *s, time_t *out)
{
	struct tm tm;
	int i, v[6];
	static const int w[6] = { 4, 2, 2, 2, 2, 2 };
	const char *p = s;

	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		int j, x = 0;

		if (i == 3)
			p++; /* the 'T' */
		for (j = 0; j < w[i]; j++, p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			x = x * 10 + (*p - '0');
		}
		v[i] = x;
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	*out = timegm(&tm);
	return 0;
}

void sigv4_format_amz_date(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

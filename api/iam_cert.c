/* api/iam_cert.c - IAM server certificates (see iam_cert.h). */
#include "api/iam_cert.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "api/xml.h"
#include "common/log.h"

#define CERT_MAX_PEM (64 * 1024)  /* bounds before trust: AWS allows 16 KiB bodies */
#define CERT_MAX_NAME 128

struct cert_meta {
	char id[32];
	char name[CERT_MAX_NAME + 8];
	char path[64];
	long long expiration, created;
};

static bool cert_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CERT_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("+=,.@_-", s[i]))
			return false;
	return true;
}

static void cert_arn(const struct api *api, const char *name, struct strbuf *out)
{
	sb_printf(out, "arn:aws:iam::%s:server-certificate/%s", api->account_id, name);
}

/* The name part of a server-certificate ARN of this account, or NULL. */
static const char *arn_name(const struct api *api, const char *arn)
{
	char prefix[96];
	size_t n;

	n = (size_t)snprintf(prefix, sizeof(prefix), "arn:aws:iam::%s:server-certificate/", api->account_id);
	if (!arn || strncmp(arn, prefix, n) != 0 || !cert_name_ok(arn + n))
		return NULL;
	return arn + n;
}

int iam_cert_resource(struct api_req *req, struct strbuf *arn)
{
	const char *n = api_param(req, "ServerCertificateName");

	if (n && *n)
		cert_arn(req->api, n, arn);
	else
		sb_printf(arn, "arn:aws:iam::%s:server-certificate/*", req->api->account_id);
	return 0;
}

static int tx_start(struct api_req *req, bool write)
{
	if (store_tx_begin(&req->api->store, write))
		return api_internal(req);
	return 0;
}

static int tx_finish(struct api_req *req, int ret)
{
	if (store_tx_end(&req->api->store, ret == 0) && ret == 0)
		return api_internal(req);
	return ret;
}

static void col_copy(sqlite3_stmt *s, int col, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static void put_meta(struct api_req *req, const struct cert_meta *m)
{
	struct strbuf arn = STRBUF_INIT;
	char ts[32];

	cert_arn(req->api, m->name, &arn);
	xml_elem(&req->out, "Path", m->path);
	xml_elem(&req->out, "ServerCertificateName", m->name);
	xml_elem(&req->out, "ServerCertificateId", m->id);
	xml_elem(&req->out, "Arn", sb_cstr(&arn));
	api_format_time((time_t)m->created, ts);
	xml_elem(&req->out, "UploadDate", ts);
	api_format_time((time_t)m->expiration, ts);
	xml_elem(&req->out, "Expiration", ts);
	sb_free(&arn);
}

/* ---- validation (OpenSSL) --------------------------------------------------------- */

/* Checks body is one PEM certificate, key a PEM private key matching it and
 * chain (optional) PEM certificates; fills *expiration.  0 or -1 after
 * api_error(). */
static int cert_validate(struct api_req *req, const char *body, const char *key, const char *chain,
			 long long *expiration)
{
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	struct tm tm;
	int ret = -1;

	if (strlen(body) > CERT_MAX_PEM || strlen(key) > CERT_MAX_PEM || (chain && strlen(chain) > CERT_MAX_PEM)) {
		api_error(req, 400, "MalformedCertificate", "Certificate, key or chain is larger than %d bytes.", CERT_MAX_PEM);
		goto out;
	}
	b = BIO_new_mem_buf(body, -1);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!x) {
		api_error(req, 400, "MalformedCertificate", "Unable to parse certificate. Please ensure the certificate is in PEM format.");
		goto out;
	}
	b = BIO_new_mem_buf(key, -1);
	k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!k) {
		api_error(req, 400, "MalformedCertificate", "Unable to parse private key. Please ensure the key is in PEM format and not encrypted.");
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		api_error(req, 400, "KeyPairMismatch", "The private key does not match the certificate.");
		goto out;
	}
	if (chain && *chain) {
		X509 *c;

		b = BIO_new_mem_buf(chain, -1);
		c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		if (!c) {
			api_error(req, 400, "MalformedCertificate", "Unable to parse certificate chain. Please ensure it is in PEM format.");
			goto out;
		}
		X509_free(c);
	}
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
		api_error(req, 400, "MalformedCertificate", "The certificate has no valid expiration date.");
		goto out;
	}
	*expiration = (long long)timegm(&tm);
	ret = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	return ret;
}

/* ---- actions ------------------------------------------------------------------------- */

int iam_cert_upload(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *name = api_param_required(req, "ServerCertificateName");
	const char *body = name ? api_param_required(req, "CertificateBody") : NULL;
	const char *key = body ? api_param_required(req, "PrivateKey") : NULL;
	const char *chain = api_param(req, "CertificateChain"), *path = api_param(req, "Path");
	struct strbuf blob = STRBUF_INIT;
	struct cert_meta m;
	sqlite3_stmt *s;
	int ret = 0, e;

	if (!key)
		return -1;
	if (!cert_name_ok(name))
		return api_error(req, 400, "ValidationError",
				 "1 validation error detected: Value '%s' at 'serverCertificateName' failed to satisfy "
				 "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length 1 to %d",
				 name, CERT_MAX_NAME);
	if (path && strcmp(path, "/") != 0)
		return api_error(req, 400, "InvalidInput", "haneul supports only the path '/'.");
	memset(&m, 0, sizeof(m));
	if (cert_validate(req, body, key, chain, &m.expiration))
		return -1;
	api_random_id("ASCA", 17, m.id);
	snprintf(m.name, sizeof(m.name), "%s", name);
	strcpy(m.path, "/");
	m.created = (long long)req->api->now();
	if (seal_encrypt(&req->api->seal, m.id, key, strlen(key), &blob))
		return api_internal(req);
	if (tx_start(req, true)) {
		sb_free(&blob);
		return -1;
	}
	e = store_exists(st, "SELECT 1 FROM iam_server_certs WHERE name = ?", name, NULL);
	if (e) {
		ret = e < 0 ? api_internal(req)
			    : api_error(req, 409, "EntityAlreadyExists", "The Server Certificate with name %s already exists.", name);
		goto out;
	}
	s = store_prepare(st, "INSERT INTO iam_server_certs(id, name, path, body, chain, key, expiration, created) "
			      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	if (!s) {
		ret = api_internal(req);
		goto out;
	}
	sqlite3_bind_text(s, 1, m.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, m.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m.path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, body, -1, SQLITE_STATIC);
	if (chain && *chain)
		sqlite3_bind_text(s, 5, chain, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, blob.p, (int)blob.len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, m.expiration);
	sqlite3_bind_int64(s, 8, m.created);
	if (sqlite3_step(s) != SQLITE_DONE)
		ret = api_internal(req);
	sqlite3_finalize(s);
out:
	sb_free(&blob);
	ret = tx_finish(req, ret);
	if (ret == 0) {
		xml_open(&req->out, "ServerCertificateMetadata");
		put_meta(req, &m);
		xml_close(&req->out, "ServerCertificateMetadata");
	}
	return ret;
}

#define META_COLS "id, name, path, expiration, created"

static void meta_row(sqlite3_stmt *s, struct cert_meta *m)
{
	col_copy(s, 0, m->id, sizeof(m->id));
	col_copy(s, 1, m->name, sizeof(m->name));
	col_copy(s, 2, m->path, sizeof(m->path));
	m->expiration = sqlite3_column_int64(s, 3);
	m->created = sqlite3_column_int64(s, 4);
}

int iam_cert_get(struct api_req *req)
{
	const char *name = api_param_required(req, "ServerCertificateName");
	struct cert_meta m;
	sqlite3_stmt *s;
	int rc;

	if (!name || tx_start(req, false))
		return -1;
	s = store_prepare(&req->api->store, "SELECT " META_COLS ", body, chain FROM iam_server_certs WHERE name = ?");
	if (!s) {
		store_tx_end(&req->api->store, false);
		return api_internal(req);
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		meta_row(s, &m);
		xml_open(&req->out, "ServerCertificate");
		xml_open(&req->out, "ServerCertificateMetadata");
		put_meta(req, &m);
		xml_close(&req->out, "ServerCertificateMetadata");
		xml_elem(&req->out, "CertificateBody", (const char *)sqlite3_column_text(s, 5));
		if (sqlite3_column_type(s, 6) != SQLITE_NULL)
			xml_elem(&req->out, "CertificateChain", (const char *)sqlite3_column_text(s, 6));
		xml_close(&req->out, "ServerCertificate");
	}
	sqlite3_finalize(s);
	store_tx_end(&req->api->store, false);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return api_error(req, 404, "NoSuchEntity", "The Server Certificate with name %s cannot be found.", name);
	return api_internal(req);
}

int iam_cert_list(struct api_req *req)
{
	struct cert_meta m;
	sqlite3_stmt *s;
	int rc;

	if (tx_start(req, false))
		return -1;
	s = store_prepare(&req->api->store, "SELECT " META_COLS " FROM iam_server_certs ORDER BY name");
	if (!s) {
		store_tx_end(&req->api->store, false);
		return api_internal(req);
	}
	xml_open(&req->out, "ServerCertificateMetadataList");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		meta_row(s, &m);
		xml_open(&req->out, "member");
		put_meta(req, &m);
		xml_close(&req->out, "member");
	}
	xml_close(&req->out, "ServerCertificateMetadataList");
	xml_elem(&req->out, "IsTruncated", "false");
	sqlite3_finalize(s);
	store_tx_end(&req->api->store, false);
	return rc == SQLITE_DONE ? 0 : api_internal(req);
}

/* 0 or -ENAMETOOLONG. */
static int cert_file_paths(const struct api *api, const char *id, char *crt, size_t crtn, char *key, size_t keyn)
{
	int a = snprintf(crt, crtn, "%s/certs/%s.crt", api->data_dir, id);
	int b = snprintf(key, keyn, "%s/certs/%s.key", api->data_dir, id);

	return a < 0 || (size_t)a >= crtn || b < 0 || (size_t)b >= keyn ? -ENAMETOOLONG : 0;
}

int iam_cert_delete(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *name = api_param_required(req, "ServerCertificateName");
	struct strbuf arn = STRBUF_INIT;
	char id[32] = "", crt[PATH_MAX], key[PATH_MAX];
	sqlite3_stmt *s;
	int ret = 0, e;

	if (!name || tx_start(req, true))
		return -1;
	s = store_prepare(st, "SELECT id FROM iam_server_certs WHERE name = ?");
	if (!s) {
		ret = api_internal(req);
		goto out;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	e = sqlite3_step(s);
	if (e == SQLITE_ROW)
		col_copy(s, 0, id, sizeof(id));
	sqlite3_finalize(s);
	if (e != SQLITE_ROW) {
		ret = e == SQLITE_DONE ? api_error(req, 404, "NoSuchEntity", "The Server Certificate with name %s cannot be found.", name)
				       : api_internal(req);
		goto out;
	}
	cert_arn(req->api, name, &arn);
	/* A listener refers to the certificate by ARN (api/elbv2.c, listener
	 * document key "certificate"). */
	e = store_exists(st, "SELECT 1 FROM elb_res WHERE kind = 'listener' AND json_extract(doc, '$.certificate') = ?",
			 sb_cstr(&arn), NULL);
	if (e) {
		ret = e < 0 ? api_internal(req)
			    : api_error(req, 409, "DeleteConflict", "Certificate: %s is currently in use by a load balancer listener.", name);
		goto out;
	}
	if (store_exec(st, "DELETE FROM iam_server_certs WHERE id = ?", id, NULL))
		ret = api_internal(req);
out:
	sb_free(&arn);
	ret = tx_finish(req, ret);
	if (ret == 0 && cert_file_paths(req->api, id, crt, sizeof(crt), key, sizeof(key)) == 0) {
		unlink(crt);
		unlink(key);
	}
	return ret;
}

/* ---- files for haneul-lb -------------------------------------------------------------- */

/* Writes path atomically with mode 0600 unless it exists.  0 or -errno. */
static int write_once_0600(const char *path, const char *a, const char *b)
{
	char tmp[PATH_MAX + 16];
	FILE *f;
	int fd, err = 0;

	if (access(path, F_OK) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	fputs(a, f);
	if (b && *b) {
		if (*a && a[strlen(a) - 1] != '\n')
			fputc('\n', f);
		fputs(b, f);
	}
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int iam_cert_exists(struct api *api, const char *arn)
{
	const char *name = arn_name(api, arn);

	if (!name)
		return 0;
	return store_exists(&api->store, "SELECT 1 FROM iam_server_certs WHERE name = ?", name, NULL);
}

int iam_cert_files(struct api *api, const char *arn, char *crt, size_t crtn, char *key, size_t keyn)
{
	const char *name = arn_name(api, arn);
	char id[32], dir[PATH_MAX], pem[CERT_MAX_PEM + 1];
	sqlite3_stmt *s;
	int rc, err;

	if (!name)
		return -ENOENT;
	s = store_prepare(&api->store, "SELECT id, body, chain, key FROM iam_server_certs WHERE name = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(s);
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	col_copy(s, 0, id, sizeof(id));
	rc = snprintf(dir, sizeof(dir), "%s/certs", api->data_dir);
	err = cert_file_paths(api, id, crt, crtn, key, keyn);
	if (!err && (rc < 0 || (size_t)rc >= sizeof(dir)))
		err = -ENAMETOOLONG;
	if (err)
		goto out;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		goto out;
	}
	err = write_once_0600(crt, (const char *)sqlite3_column_text(s, 1),
			      (const char *)sqlite3_column_text(s, 2));
	if (err)
		goto out;
	if (access(key, F_OK) != 0) {
		err = seal_decrypt(&api->seal, id, sqlite3_column_blob(s, 3), (size_t)sqlite3_column_bytes(s, 3),
				   pem, sizeof(pem));
		if (!err)
			err = write_once_0600(key, pem, NULL);
		OPENSSL_cleanse(pem, sizeof(pem));
	}
out:
	sqlite3_finalize(s);
	if (err)
		log_err("iam: files of server certificate %s: %s", name, strerror(-err));
	return err;
}

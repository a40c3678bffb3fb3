/* tests/unit/test_iam_cert.c - IAM server certificates in-process: api_init()
 * on a temp data dir, root-signed requests through api_handle(); the
 * certificate and keys are made with OpenSSL here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "api/api.h"
#include "api/iam_cert.h"
#include "api/query.h"

#define NOW 1440938160

struct fx {
	struct api api;
	char dir[64];
	char key[64], secret[64];
	char *crt_pem, *key_pem, *key2_pem;
};

static time_t fixed_now(void)
{
	return NOW;
}

static char *pem_key(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

/* A self-signed certificate for k. */
static char *pem_cert(EVP_PKEY *k)
{
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"unit.haneul.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	X509_free(x);
	return out;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128], line[256];
	EVP_PKEY *k, *k2;
	FILE *fp;

	strcpy(f->dir, "/tmp/haneul-unit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(api_init(&f->api, f->dir, "ap-northeast-2"), 0);
	f->api.now = fixed_now;
	snprintf(path, sizeof(path), "%s/root-credentials", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		sscanf(line, "aws_access_key_id = %63s", f->key);
		sscanf(line, "aws_secret_access_key = %63s", f->secret);
	}
	fclose(fp);
	k = EVP_EC_gen("P-256");
	k2 = EVP_EC_gen("P-256");
	assert_non_null(k);
	assert_non_null(k2);
	f->crt_pem = pem_cert(k);
	f->key_pem = pem_key(k);
	f->key2_pem = pem_key(k2);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	api_fini(&f->api);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->crt_pem);
	free(f->key_pem);
	free(f->key2_pem);
	free(f);
	return 0;
}

/* Runs an IAM request (body) signed by root; the answer's status. */
static int call(struct fx *f, const char *body, struct api_http_resp *resp)
{
	char date[17], hash[65];
	struct sigv4_header h[4] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
		{ "Host", "127.0.0.1:4566" },
		{ "X-Amz-Date", date },
		{ "Authorization", NULL },
	};
	struct sigv4_request r = { "POST", "/", NULL, h, 3, hash, false };
	struct strbuf auth = STRBUF_INIT;
	struct api_http_req in = { "POST", "/", NULL, h, 4, body, strlen(body) };

	sigv4_format_amz_date(NOW, date);
	sigv4_hex_sha256(body, strlen(body), hash);
	assert_int_equal(sigv4_sign(&r, f->key, f->secret, date, "us-east-1", "iam", "content-type;host;x-amz-date", &auth), 0);
	h[3].value = auth.p;
	memset(resp, 0, sizeof(*resp));
	sb_init(&resp->body);
	api_handle(&f->api, &in, resp);
	sb_free(&auth);
	return resp->status;
}

/* UploadServerCertificate of name with body and key; status, the answer in r. */
static int upload(struct fx *f, const char *name, const char *body, const char *key, struct api_http_resp *r)
{
	struct strbuf q = STRBUF_INIT;
	int st;

	sb_printf(&q, "Action=UploadServerCertificate&Version=2010-05-08&ServerCertificateName=%s&CertificateBody=", name);
	query_uri_encode(&q, body, strlen(body), false);
	sb_puts(&q, "&PrivateKey=");
	query_uri_encode(&q, key, strlen(key), false);
	st = call(f, sb_cstr(&q), r);
	sb_free(&q);
	return st;
}

static bool has(struct api_http_resp *r, const char *s)
{
	return strstr(sb_cstr(&r->body), s) != NULL;
}

static void test_upload_errors(void **state)
{
	struct fx *f = *state;
	struct api_http_resp r;

	assert_int_equal(upload(f, "web", f->crt_pem, f->key2_pem, &r), 400);
	assert_true(has(&r, "<Code>KeyPairMismatch</Code>"));
	sb_free(&r.body);
	assert_int_equal(upload(f, "web", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", f->key_pem, &r), 400);
	assert_true(has(&r, "<Code>MalformedCertificate</Code>"));
	sb_free(&r.body);
	assert_int_equal(upload(f, "web", f->crt_pem, "not a key", &r), 400);
	assert_true(has(&r, "<Code>MalformedCertificate</Code>"));
	sb_free(&r.body);
	assert_int_equal(upload(f, "bad/name", f->crt_pem, f->key_pem, &r), 400);
	assert_true(has(&r, "<Code>ValidationError</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, "Action=ListServerCertificates&Version=2010-05-08", &r), 200);
	assert_true(has(&r, "<ServerCertificateMetadataList></ServerCertificateMetadataList>") ||
		    has(&r, "<ServerCertificateMetadataList/>"));
	sb_free(&r.body);
}

static void test_lifecycle_and_files(void **state)
{
	struct fx *f = *state;
	struct api_http_resp r;
	char arn[128], crt[4096], key[4096], buf[512], db[128];
	struct stat sb;
	FILE *fp;
	size_t n;
	bool leaked = false;

	assert_int_equal(upload(f, "web", f->crt_pem, f->key_pem, &r), 200);
	snprintf(arn, sizeof(arn), "<Arn>arn:aws:iam::%s:server-certificate/web</Arn>", f->api.account_id);
	assert_true(has(&r, arn));
	assert_true(has(&r, "<Expiration>"));
	sb_free(&r.body);
	assert_int_equal(upload(f, "web", f->crt_pem, f->key_pem, &r), 409);
	assert_true(has(&r, "<Code>EntityAlreadyExists</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, "Action=GetServerCertificate&ServerCertificateName=web", &r), 200);
	assert_true(has(&r, "<CertificateBody>-----BEGIN CERTIFICATE-----"));
	assert_false(has(&r, "PRIVATE KEY"));
	sb_free(&r.body);
	assert_int_equal(call(f, "Action=ListServerCertificates", &r), 200);
	assert_true(has(&r, "<ServerCertificateName>web</ServerCertificateName>"));
	sb_free(&r.body);

	/* The key is sealed in state.db: no line of its base64 appears there. */
	snprintf(db, sizeof(db), "%s/state.db", f->dir);
	fp = fopen(db, "rb");
	assert_non_null(fp);
	{
		const char *line = strchr(f->key_pem, '\n') + 1;
		char needle[32];

		snprintf(needle, sizeof(needle), "%.24s", line);
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
			if (memmem(buf, n, needle, strlen(needle)))
				leaked = true;
	}
	fclose(fp);
	assert_false(leaked);

	/* Files for haneul-lb: key 0600 with the PEM back. */
	snprintf(arn, sizeof(arn), "arn:aws:iam::%s:server-certificate/web", f->api.account_id);
	assert_int_equal(store_tx_begin(&f->api.store, false), 0);
	assert_int_equal(iam_cert_exists(&f->api, arn), 1);
	assert_int_equal(iam_cert_exists(&f->api, "arn:aws:iam::000000000000:server-certificate/web"), 0);
	assert_int_equal(iam_cert_files(&f->api, arn, crt, sizeof(crt), key, sizeof(key)), 0);
	store_tx_end(&f->api.store, false);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	fp = fopen(key, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	assert_int_equal(strncmp(buf, f->key_pem, n), 0);

	assert_int_equal(call(f, "Action=DeleteServerCertificate&ServerCertificateName=web", &r), 200);
	sb_free(&r.body);
	assert_int_not_equal(access(key, F_OK), 0);
	assert_int_not_equal(access(crt, F_OK), 0);
	assert_int_equal(call(f, "Action=DeleteServerCertificate&ServerCertificateName=web", &r), 404);
	assert_true(has(&r, "<Code>NoSuchEntity</Code>"));
	sb_free(&r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upload_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_and_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

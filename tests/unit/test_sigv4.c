/* tests/unit/test_sigv4.c - SigV4 against the official AWS test-suite vectors
 * (AWS-API.md section 5) and botocore-computed edge cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "api/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE "20150830T123600Z"
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void sign_get(const char *path, const char *query, const struct sigv4_header *extra, size_t n_extra,
		     const char *signed_headers, char sig[65])
{
	struct sigv4_header h[8] = {
		{ "Host", "example.amazonaws.com" },
		{ "X-Amz-Date", DATE },
	};
	struct sigv4_request r = { "GET", path, query, h, 2, EMPTY_HASH, false };
	size_t i;

	for (i = 0; i < n_extra; i++)
		h[2 + i] = extra[i];
	r.n_headers = 2 + n_extra;
	assert_int_equal(sigv4_compute(&r, SECRET, DATE, "us-east-1", "service", signed_headers, sig), 0);
}

static void test_get_vanilla(void **state)
{
	struct sigv4_header h[] = { { "host", "example.amazonaws.com" }, { "x-amz-date", DATE } };
	struct sigv4_request r = { "GET", "/", NULL, h, 2, EMPTY_HASH, false };
	struct strbuf creq = STRBUF_INIT, sts = STRBUF_INIT;
	unsigned char key[32];
	char hex[65], sig[65];
	int i;

	(void)state;
	assert_int_equal(sigv4_canonical_request(&r, "host;x-amz-date", &creq), 0);
	assert_string_equal(creq.p, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
				    "host;x-amz-date\n" EMPTY_HASH);
	sigv4_hex_sha256(creq.p, creq.len, hex);
	assert_string_equal(hex, "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
	sigv4_signing_key(SECRET, "20150830", "us-east-1", "service", key);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	assert_string_equal(hex, "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
	sigv4_string_to_sign(DATE, "20150830", "us-east-1", "service", creq.p, creq.len, &sts);
	sigv4_hmac_hex(key, sts.p, sts.len, sig);
	assert_string_equal(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	sb_free(&creq);
	sb_free(&sts);
}

static void test_post_vanilla(void **state)
{
	struct sigv4_header h[] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", DATE } };
	struct sigv4_request r = { "POST", "/", NULL, h, 2, EMPTY_HASH, false };
	char sig[65];

	(void)state;
	assert_int_equal(sigv4_compute(&r, SECRET, DATE, "us-east-1", "service", "host;x-amz-date", sig), 0);
	assert_string_equal(sig, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

static void test_post_form(void **state)
{
	struct sigv4_header h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "Host", "example.amazonaws.com" },
		{ "X-Amz-Date", DATE },
	};
	char hash[65], sig[65];
	struct sigv4_request r = { "POST", "/", NULL, h, 3, hash, false };
	struct sigv4_auth a;

	(void)state;
	sigv4_hex_sha256("Param1=value1", 13, hash);
	assert_string_equal(hash, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
	assert_int_equal(sigv4_compute(&r, SECRET, DATE, "us-east-1", "service", "content-type;host;x-amz-date", sig), 0);
	assert_string_equal(sig, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");

	/* And the verifier accepts exactly that, and nothing else. */
	assert_int_equal(sigv4_parse_auth_header(
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=content-type;host;x-amz-date, "
		"Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a", &a), SIGV4_OK);
	assert_int_equal(sigv4_verify(&r, &a, SECRET, DATE), 0);
	assert_int_equal(sigv4_verify(&r, &a, "wrong-secret", DATE), -EACCES);
	a.signature[0] = a.signature[0] == 'f' ? 'e' : 'f';
	assert_int_equal(sigv4_verify(&r, &a, SECRET, DATE), -EACCES);
	a.signature[0] = 'f';
	h[0].value = "text/plain"; /* a signed header changed in flight */
	assert_int_equal(sigv4_verify(&r, &a, SECRET, DATE), -EACCES);
	h[0].value = "application/x-www-form-urlencoded";
	sigv4_hex_sha256("Param1=value2", 13, hash); /* body changed */
	assert_int_equal(sigv4_verify(&r, &a, SECRET, DATE), -EACCES);
	sigv4_hex_sha256("Param1=value1", 13, hash);
	assert_int_equal(sigv4_verify(&r, &a, SECRET, "20150831T123600Z"), -EACCES); /* scope date mismatch */
}

/* Expected values computed with botocore's SigV4Auth (gen script in the commit notes). */
static void test_botocore_edge_cases(void **state)
{
	struct sigv4_header sp = { "My-Header1", "  value1  with   spaces  " };
	char sig[65];

	(void)state;
	sign_get("/", "Param2=value2&Param1=value1", NULL, 0, "host;x-amz-date", sig);
	assert_string_equal(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
	sign_get("/", "Param1=value2&Param1=Value1", NULL, 0, "host;x-amz-date", sig);
	assert_string_equal(sig, "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1");
	sign_get("/example%20space/", NULL, NULL, 0, "host;x-amz-date", sig);
	assert_string_equal(sig, "446b817944c553435b35e813c261ff4e161fff982d1bacdef1c87f6785dd1662");
	sign_get("/example1/example2/../..", NULL, NULL, 0, "host;x-amz-date", sig);
	assert_string_equal(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	sign_get("/./a//b/", NULL, NULL, 0, "host;x-amz-date", sig);
	assert_string_equal(sig, "125084d05882beb82770f7553eca9dc5479bd484c2579776817cc0a340800974");
	sign_get("/", "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
		 "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL, 0, "host;x-amz-date", sig);
	assert_string_equal(sig, "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
	sign_get("/%E1%88%B4", NULL, NULL, 0, "host;x-amz-date", sig);
	assert_string_equal(sig, "697b34846207a3f72246f99d74ae1ee4fe54f44bb06730c58a0d339eb079596d");
	sign_get("/", NULL, &sp, 1, "host;my-header1;x-amz-date", sig);
	assert_string_equal(sig, "1d3c8dacf13d565cb88f90460a561e5caf0231c1f593a60fc93953ac77d13c58");
}

static void test_post_with_port(void **state)
{
	struct sigv4_header h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
		{ "Host", "example.amazonaws.com:8080" },
		{ "X-Amz-Date", DATE },
		{ "User-Agent", "not signed, so it may change" },
	};
	char hash[65], sig[65];
	struct sigv4_request r = { "POST", "/", NULL, h, 4, hash, false };
	const char *body = "Action=ListUsers&Version=2010-05-08";

	(void)state;
	sigv4_hex_sha256(body, strlen(body), hash);
	assert_int_equal(sigv4_compute(&r, SECRET, DATE, "us-east-1", "service", "content-type;host;x-amz-date", sig), 0);
	assert_string_equal(sig, "2aeea6b9bb8cb1549c1879fbb6b8a75d3216a12665131ac35184388fdb8b7f7c");
}

static void test_canonical_pieces(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct sigv4_header h[] = { { "host", "h" }, { "X-Dup", "a" }, { "x-dup", " b  c " } };
	struct sigv4_request r = { "GET", "/", NULL, h, 3, EMPTY_HASH, false };

	(void)state;
	sigv4_canonical_uri("", false, &b);
	assert_string_equal(b.p, "/");
	sb_reset(&b);
	sigv4_canonical_uri("/a/../../b/./c", false, &b);
	assert_string_equal(b.p, "/b/c");
	sb_reset(&b);
	sigv4_canonical_uri("/bucket/sp%20ace%2Bplus", true, &b); /* S3: as sent */
	assert_string_equal(b.p, "/bucket/sp%20ace%2Bplus");
	sb_reset(&b);
	assert_int_equal(sigv4_canonical_query("b=2&a=&c", &b), 0);
	assert_string_equal(b.p, "a=&b=2&c=");
	sb_reset(&b);
	assert_int_equal(sigv4_canonical_query("k=a+b%2a%3A", &b), 0);
	assert_string_equal(b.p, "k=a%2Bb%2A%3A");
	sb_reset(&b);
	assert_int_equal(sigv4_canonical_query("k=%zz", &b), -EINVAL);
	sb_reset(&b);
	/* Repeated headers join with ',' and are trimmed. */
	assert_int_equal(sigv4_canonical_request(&r, "host;x-dup", &b), 0);
	assert_non_null(strstr(b.p, "\nx-dup:a,b c\n"));
	sb_reset(&b);
	assert_int_equal(sigv4_canonical_request(&r, "host;x-missing", &b), -ENOENT);
	sb_reset(&b);
	assert_int_equal(sigv4_canonical_request(&r, "x-dup;host", &b), -EINVAL); /* unsorted */
	sb_free(&b);
}

static void test_parse_auth_header(void **state)
{
	struct sigv4_auth a;
	static const char sig[] = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
	char buf[512];

	(void)state;
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, "
		 "SignedHeaders=host;x-amz-date, Signature=%s", sig);
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_OK);
	assert_string_equal(a.access_key, "AKID");
	assert_string_equal(a.date, "20150830");
	assert_string_equal(a.region, "us-east-1");
	assert_string_equal(a.service, "iam");
	assert_string_equal(a.signed_headers, "host;x-amz-date");
	assert_string_equal(a.signature, sig);
	/* Order of components and spacing do not matter. */
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Signature=%s,SignedHeaders=host,Credential=K/20150830/r/s/aws4_request", sig);
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_OK);
	assert_int_equal(sigv4_parse_auth_header("AWS AKID:sig", &a), SIGV4_ERR_ALGORITHM);
	assert_int_equal(sigv4_parse_auth_header("", &a), SIGV4_ERR_ALGORITHM);
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host");
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_ERR_MALFORMED);
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=%s", sig);
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_ERR_SCOPE);
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request/x, SignedHeaders=host, Signature=%s", sig);
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_ERR_SCOPE);
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=Host, Signature=%s", sig);
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_ERR_MALFORMED);
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=%.63s", sig);
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_ERR_MALFORMED);
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=%s", sig);
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_ERR_MALFORMED);
	snprintf(buf, sizeof(buf), "AWS4-HMAC-SHA256 Credential=//20150830//aws4_request, SignedHeaders=host, Signature=%s", sig);
	assert_int_equal(sigv4_parse_auth_header(buf, &a), SIGV4_ERR_SCOPE);
}

static void test_amz_date(void **state)
{
	time_t t;
	char out[17];

	(void)state;
	assert_int_equal(sigv4_parse_amz_date(DATE, &t), 0);
	assert_int_equal((long long)t, 1440938160LL);
	sigv4_format_amz_date(t, out);
	assert_string_equal(out, DATE);
	assert_int_equal(sigv4_parse_amz_date("20150830T123600", &t), -EINVAL);
	assert_int_equal(sigv4_parse_amz_date("2015-08-30T12:36", &t), -EINVAL);
	assert_int_equal(sigv4_parse_amz_date("20151330T123600Z", &t), -EINVAL);
}

static void test_sign_roundtrip(void **state)
{
	struct sigv4_header h[] = { { "host", "127.0.0.1:4566" }, { "x-amz-date", DATE } };
	struct sigv4_request r = { "POST", "/", NULL, h, 2, EMPTY_HASH, false };
	struct strbuf auth = STRBUF_INIT;
	struct sigv4_auth a;

	(void)state;
	assert_int_equal(sigv4_sign(&r, "AKIAEXAMPLE", SECRET, DATE, "ap-northeast-2", "sts", "host;x-amz-date", &auth), 0);
	assert_int_equal(sigv4_parse_auth_header(auth.p, &a), SIGV4_OK);
	assert_string_equal(a.region, "ap-northeast-2");
	assert_int_equal(sigv4_verify(&r, &a, SECRET, DATE), 0);
	sb_free(&auth);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_vanilla),
		cmocka_unit_test(test_post_vanilla),
		cmocka_unit_test(test_post_form),
		cmocka_unit_test(test_botocore_edge_cases),
		cmocka_unit_test(test_post_with_port),
		cmocka_unit_test(test_canonical_pieces),
		cmocka_unit_test(test_parse_auth_header),
		cmocka_unit_test(test_amz_date),
		cmocka_unit_test(test_sign_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

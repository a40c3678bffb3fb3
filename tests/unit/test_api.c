/* tests/unit/test_api.c - the dispatcher in-process: api_init() on a temp
 * data dir, requests signed with sigv4_sign(), api_handle() answers checked
 * for status, error code and envelope.  The clock is injected. */
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

#include "api/api.h"
#include "api/seal.h"
#include "common/log.h"
#include <errno.h>

#define NOW 1440938160 /* 20150830T123600Z */

struct fx {
	struct api api;
	char dir[64];
	char root_key[64];
	char root_secret[64];
};

static time_t fixed_now(void)
{
	return NOW;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128], line[256];
	FILE *fp;

	strcpy(f->dir, "/tmp/haneul-unit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(api_init(&f->api, f->dir, "ap-northeast-2"), 0);
	f->api.now = fixed_now;
	snprintf(path, sizeof(path), "%s/root-credentials", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		sscanf(line, "aws_access_key_id = %63s", f->root_key);
		sscanf(line, "aws_secret_access_key = %63s", f->root_secret);
	}
	fclose(fp);
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
	free(f);
	return 0;
}

/* Signs body for service with key/secret at time t and runs it. */
static int call_at(struct fx *f, const char *key, const char *secret, const char *service, const char *region,
		   time_t t, const char *body, bool tamper, struct api_http_resp *resp)
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

	sigv4_format_amz_date(t, date);
	sigv4_hex_sha256(body, strlen(body), hash);
	assert_int_equal(sigv4_sign(&r, key, secret, date, region, service, "content-type;host;x-amz-date", &auth), 0);
	if (tamper)
		auth.p[auth.len - 1] = auth.p[auth.len - 1] == '0' ? '1' : '0';
	h[3].value = auth.p;
	memset(resp, 0, sizeof(*resp));
	sb_init(&resp->body);
	api_handle(&f->api, &in, resp);
	sb_free(&auth);
	return resp->status;
}

static int call(struct fx *f, const char *key, const char *secret, const char *service, const char *body,
		struct api_http_resp *resp)
{
	return call_at(f, key, secret, service, "ap-northeast-2", NOW, body, false, resp);
}

static bool has(struct api_http_resp *r, const char *s)
{
	return strstr(sb_cstr(&r->body), s) != NULL;
}

/* Extracts <tag>value</tag> into out. */
static void grab(struct api_http_resp *r, const char *tag, char *out, size_t n)
{
	char open[64], *p, *e;

	snprintf(open, sizeof(open), "<%s>", tag);
	p = strstr(sb_cstr(&r->body), open);
	assert_non_null(p);
	p += strlen(open);
	e = strchr(p, '<');
	assert_non_null(e);
	snprintf(out, n, "%.*s", (int)(e - p), p);
}

static void test_files_and_modes(void **state)
{
	struct fx *f = *state;
	struct stat st;
	char path[128];

	snprintf(path, sizeof(path), "%s/root-credentials", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/secret.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(strncmp(f->root_key, "AKIA", 4), 0);
	assert_int_equal(strlen(f->root_secret), 40);
}

static void test_root_flow(void **state)
{
	struct fx *f = *state;
	struct api_http_resp r;
	char akid[64], secret[64];

	assert_int_equal(call(f, f->root_key, f->root_secret, "sts", "Action=GetCallerIdentity&Version=2011-06-15", &r), 200);
	assert_true(has(&r, "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"));
	assert_true(has(&r, ":root</Arn>"));
	assert_true(has(&r, "<ResponseMetadata><RequestId>"));
	sb_free(&r.body);

	/* IAM is global: the us-east-1 signing region is accepted too. */
	assert_int_equal(call_at(f, f->root_key, f->root_secret, "iam", "us-east-1", NOW,
				 "Action=CreateUser&Version=2010-05-08&UserName=alice", false, &r), 200);
	assert_true(has(&r, "<UserName>alice</UserName>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=CreateUser&UserName=alice", &r), 409);
	assert_true(has(&r, "<Code>EntityAlreadyExists</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=CreateAccessKey&UserName=alice", &r), 200);
	grab(&r, "AccessKeyId", akid, sizeof(akid));
	grab(&r, "SecretAccessKey", secret, sizeof(secret));
	sb_free(&r.body);

	/* No policy yet: refused, with the action named. */
	assert_int_equal(call(f, akid, secret, "ec2", "Action=DescribeInstances&Version=2016-11-15", &r), 403);
	assert_true(has(&r, "<Response><Errors><Error><Code>UnauthorizedOperation</Code>"));
	assert_true(has(&r, "ec2:DescribeInstances"));
	assert_true(has(&r, "<RequestID>"));
	sb_free(&r.body);
	assert_int_equal(call(f, akid, secret, "iam", "Action=ListUsers", &r), 403);
	assert_true(has(&r, "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>AccessDenied</Code>"));
	assert_true(has(&r, "iam:ListUsers"));
	sb_free(&r.body);
	/* But GetCallerIdentity needs no permission. */
	assert_int_equal(call(f, akid, secret, "sts", "Action=GetCallerIdentity", &r), 200);
	assert_true(has(&r, ":user/alice</Arn>"));
	sb_free(&r.body);

	assert_int_equal(call(f, f->root_key, f->root_secret, "iam",
			      "Action=AttachUserPolicy&UserName=alice&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonEC2FullAccess", &r), 200);
	assert_true(has(&r, "<AttachUserPolicyResponse"));
	assert_false(has(&r, "AttachUserPolicyResult"));
	sb_free(&r.body);
	/* Authorized now: EC2 is not implemented yet, so InvalidAction; DryRun says it would work. */
	assert_int_equal(call(f, akid, secret, "ec2", "Action=DescribeInstances&Version=2016-11-15", &r), 400);
	assert_true(has(&r, "<Code>InvalidAction</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, akid, secret, "iam", "Action=ListUsers", &r), 403);
	sb_free(&r.body);

	/* An inline Deny wins over the managed Allow. */
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam",
			      "Action=PutUserPolicy&UserName=alice&PolicyName=deny&PolicyDocument="
			      "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22Action%22%3A%22ec2%3ADescribe*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D", &r), 200);
	sb_free(&r.body);
	assert_int_equal(call(f, akid, secret, "ec2", "Action=DescribeInstances", &r), 403);
	assert_true(has(&r, "explicit deny"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=PutUserPolicy&UserName=alice&PolicyName=bad&PolicyDocument=%7B", &r), 400);
	assert_true(has(&r, "<Code>MalformedPolicyDocument</Code>"));
	sb_free(&r.body);

	/* Inactive keys are refused. */
	{
		char body[200];

		snprintf(body, sizeof(body), "Action=UpdateAccessKey&UserName=alice&AccessKeyId=%s&Status=Inactive", akid);
		assert_int_equal(call(f, f->root_key, f->root_secret, "iam", body, &r), 200);
		sb_free(&r.body);
	}
	assert_int_equal(call(f, akid, secret, "sts", "Action=GetCallerIdentity", &r), 403);
	assert_true(has(&r, "<Code>InvalidClientTokenId</Code>"));
	sb_free(&r.body);

	/* Deleting a user with keys is a conflict. */
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=DeleteUser&UserName=alice", &r), 409);
	assert_true(has(&r, "DeleteConflict"));
	sb_free(&r.body);
}

static void test_auth_failures(void **state)
{
	struct fx *f = *state;
	struct api_http_resp r;
	struct sigv4_header h[] = { { "Host", "x" } };
	struct api_http_req in = { "POST", "/", NULL, h, 1, "Action=ListUsers&Version=2010-05-08", 35 };

	assert_int_equal(call_at(f, f->root_key, f->root_secret, "iam", "ap-northeast-2", NOW, "Action=ListUsers", true, &r), 403);
	assert_true(has(&r, "<Code>SignatureDoesNotMatch</Code>"));
	sb_free(&r.body);
	assert_int_equal(call_at(f, f->root_key, f->root_secret, "iam", "ap-northeast-2", NOW - 301, "Action=ListUsers", false, &r), 403);
	assert_true(has(&r, "Signature expired"));
	sb_free(&r.body);
	assert_int_equal(call_at(f, f->root_key, f->root_secret, "ec2", "ap-northeast-2", NOW + 3600, "Action=DescribeInstances", false, &r), 400);
	assert_true(has(&r, "<Code>RequestExpired</Code>"));
	sb_free(&r.body);
	assert_int_equal(call_at(f, f->root_key, f->root_secret, "iam", "ap-northeast-2", NOW - 299, "Action=ListUsers", false, &r), 200);
	sb_free(&r.body);
	assert_int_equal(call_at(f, f->root_key, f->root_secret, "ec2", "eu-west-1", NOW, "Action=DescribeInstances", false, &r), 403);
	assert_true(has(&r, "scoped to a valid region"));
	sb_free(&r.body);
	assert_int_equal(call(f, "AKIANOSUCHKEY0000000", f->root_secret, "iam", "Action=ListUsers", &r), 403);
	assert_true(has(&r, "<Code>InvalidClientTokenId</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, "AKIANOSUCHKEY0000000", f->root_secret, "ec2", "Action=DescribeInstances", &r), 401);
	assert_true(has(&r, "<Code>AuthFailure</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "lambda", "Action=ListFunctions", &r), 400);
	sb_free(&r.body);

	memset(&r, 0, sizeof(r));
	api_handle(&f->api, &in, &r);
	assert_int_equal(r.status, 403);
	assert_true(has(&r, "<Code>MissingAuthenticationToken</Code>"));
	assert_true(has(&r, "iam.amazonaws.com")); /* service found from Version */
	sb_free(&r.body);
}

static void test_request_errors(void **state)
{
	struct fx *f = *state;
	struct api_http_resp r;

	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Version=2010-05-08", &r), 400);
	assert_true(has(&r, "<Code>MissingAction</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=FlyToTheMoon", &r), 400);
	assert_true(has(&r, "<Code>InvalidAction</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=ListUsers&Bad=%zz", &r), 400);
	assert_true(has(&r, "<Code>MalformedQueryString</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=CreateUser", &r), 400);
	assert_true(has(&r, "<Code>MissingParameter</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=CreateUser&UserName=a%2Fb", &r), 400);
	assert_true(has(&r, "<Code>ValidationError</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=CreateUser&UserName=dry&DryRun=true", &r), 412);
	assert_true(has(&r, "<Code>DryRunOperation</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=GetUser&UserName=dry", &r), 404);
	assert_true(has(&r, "<Code>NoSuchEntity</Code>"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam", "Action=ListUsers&Version=1999-01-01", &r), 400);
	assert_true(has(&r, "NoSuchVersion"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "iam",
			      "Action=AttachUserPolicy&UserName=x&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FNope", &r), 404);
	sb_free(&r.body);
}

static void test_root_refused_outside_iam(void **state)
{
	struct fx *f = *state;
	struct api_http_resp r;

	assert_int_equal(call(f, f->root_key, f->root_secret, "ec2", "Action=DescribeInstances&Version=2016-11-15", &r), 403);
	assert_true(has(&r, "<Code>UnauthorizedOperation</Code>"));
	assert_true(has(&r, "use an IAM user"));
	sb_free(&r.body);
	assert_int_equal(call(f, f->root_key, f->root_secret, "elasticloadbalancing", "Action=DescribeLoadBalancers", &r), 403);
	assert_true(has(&r, "<Code>AccessDenied</Code>"));
	assert_true(has(&r, "use an IAM user"));
	sb_free(&r.body);
	/* Even with DryRun, authorization comes first. */
	assert_int_equal(call(f, f->root_key, f->root_secret, "ec2", "Action=DescribeInstances&DryRun=true", &r), 403);
	sb_free(&r.body);
}

static void test_seal(void **state)
{
	struct fx *f = *state;
	struct strbuf b = STRBUF_INIT;
	char out[64];

	assert_int_equal(seal_encrypt(&f->api.seal, "AKIA1", "secret", 6, &b), 0);
	assert_int_equal(b.len, 6 + SEAL_OVERHEAD);
	assert_null(memmem(b.p, b.len, "secret", 6));
	assert_int_equal(seal_decrypt(&f->api.seal, "AKIA1", b.p, b.len, out, sizeof(out)), 0);
	assert_string_equal(out, "secret");
	assert_int_equal(seal_decrypt(&f->api.seal, "AKIA2", b.p, b.len, out, sizeof(out)), -EBADMSG);
	b.p[SEAL_NONCE_LEN] ^= 1;
	assert_int_equal(seal_decrypt(&f->api.seal, "AKIA1", b.p, b.len, out, sizeof(out)), -EBADMSG);
	sb_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_files_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_refused_outside_iam, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal, setup, teardown),
	};

	log_init("test_api", LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

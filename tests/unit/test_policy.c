/* tests/unit/test_policy.c - IAM policy validation and evaluation tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/iam.h"
#include "api/policy.h"

struct row {
	const char *doc;
	const char *action;
	const char *resource;
	enum policy_decision want;
};

#define P(stmts) "{\"Version\":\"2012-10-17\",\"Statement\":[" stmts "]}"

static const struct policy_cond_kv ctx[] = {
	{ "aws:username", "alice" },
	{ "aws:SecureTransport", "false" },
	{ "aws:RequestedRegion", "ap-northeast-2" },
};

static void run_rows(const struct row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct policy_request req = { rows[i].action, rows[i].resource, ctx, 3 };
		enum policy_decision got = policy_eval_doc(rows[i].doc, &req);

		if (got != rows[i].want)
			fail_msg("row %zu: %s on %s: got %d want %d\n%s", i, rows[i].action, rows[i].resource, got,
				 rows[i].want, rows[i].doc);
	}
}

static void test_eval_table(void **state)
{
	static const struct row rows[] = {
		/* Allow needed; nothing applies -> implicit deny. */
		{ P("{\"Effect\":\"Allow\",\"Action\":\"ec2:DescribeInstances\",\"Resource\":\"*\"}"), "ec2:DescribeInstances", "*", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"ec2:DescribeInstances\",\"Resource\":\"*\"}"), "ec2:RunInstances", "*", POLICY_IMPLICIT_DENY },
		/* Wildcards, case-insensitive actions. */
		{ P("{\"Effect\":\"Allow\",\"Action\":\"ec2:Describe*\",\"Resource\":\"*\"}"), "ec2:DescribeVolumes", "*", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"EC2:describe*\",\"Resource\":\"*\"}"), "ec2:DescribeVolumes", "*", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"ec2:Describe*\",\"Resource\":\"*\"}"), "ec2:RunInstances", "*", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"ec2:?topInstances\",\"Resource\":\"*\"}"), "ec2:StopInstances", "*", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}"), "iam:CreateUser", "arn:aws:iam::1:user/x", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":[\"s3:*\",\"ec2:Start*\"],\"Resource\":\"*\"}"), "ec2:StartInstances", "*", POLICY_ALLOW },
		/* Explicit deny wins over allow, in any order. */
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":\"ec2:Terminate*\",\"Resource\":\"*\"}"), "ec2:TerminateInstances", "*", POLICY_EXPLICIT_DENY },
		{ P("{\"Effect\":\"Deny\",\"Action\":\"ec2:Terminate*\",\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}"), "ec2:TerminateInstances", "*", POLICY_EXPLICIT_DENY },
		{ P("{\"Effect\":\"Deny\",\"Action\":\"ec2:Terminate*\",\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}"), "ec2:StopInstances", "*", POLICY_ALLOW },
		/* NotAction. */
		{ P("{\"Effect\":\"Allow\",\"NotAction\":[\"iam:*\"],\"Resource\":\"*\"}"), "ec2:RunInstances", "*", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"NotAction\":[\"iam:*\"],\"Resource\":\"*\"}"), "iam:CreateUser", "*", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Deny\",\"NotAction\":\"ec2:Describe*\",\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}"), "ec2:RunInstances", "*", POLICY_EXPLICIT_DENY },
		/* Resources: "*" and ARN patterns; an action-level "*" request is matched only by "*". */
		{ P("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::123456789012:user/alice\"}"), "iam:GetUser", "arn:aws:iam::123456789012:user/alice", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::123456789012:user/alice\"}"), "iam:GetUser", "arn:aws:iam::123456789012:user/bob", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*:user/a*\"}"), "iam:GetUser", "arn:aws:iam::123456789012:user/alice", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*:user/A*\"}"), "iam:GetUser", "arn:aws:iam::123456789012:user/alice", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*:user/*\"}"), "iam:ListUsers", "*", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"NotResource\":\"arn:aws:iam::*:user/root*\"}"), "iam:GetUser", "arn:aws:iam::1:user/alice", POLICY_ALLOW },
		/* Conditions. */
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"aws:username\":\"alice\"}}}"), "ec2:RunInstances", "*", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"aws:username\":[\"bob\",\"carol\"]}}}"), "ec2:RunInstances", "*", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringLike\":{\"aws:RequestedRegion\":\"ap-*\"}}}"), "ec2:RunInstances", "*", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"true\"}}}"), "ec2:RunInstances", "*", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"aws:nope\":\"x\"}}}"), "ec2:RunInstances", "*", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEqualsIfExists\":{\"aws:nope\":\"x\"}}}"), "ec2:RunInstances", "*", POLICY_ALLOW },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringNotEquals\":{\"aws:username\":\"alice\"}}}"), "ec2:RunInstances", "*", POLICY_IMPLICIT_DENY },
		/* Unknown operator: an Allow does not apply, a Deny does (fail closed). */
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}"), "ec2:RunInstances", "*", POLICY_IMPLICIT_DENY },
		{ P("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}"), "ec2:RunInstances", "*", POLICY_EXPLICIT_DENY },
		/* A single statement object (not an array). */
		{ "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"sts:*\",\"Resource\":\"*\"}}", "sts:GetCallerIdentity", "*", POLICY_ALLOW },
		/* Garbage decides nothing. */
		{ "not json", "ec2:RunInstances", "*", POLICY_IMPLICIT_DENY },
	};

	(void)state;
	run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_combined_documents(void **state)
{
	const char *docs[] = {
		P("{\"Effect\":\"Allow\",\"Action\":\"ec2:*\",\"Resource\":\"*\"}"),
		P("{\"Effect\":\"Deny\",\"Action\":\"ec2:RunInstances\",\"Resource\":\"*\"}"),
	};
	struct policy_request r1 = { "ec2:RunInstances", "*", NULL, 0 };
	struct policy_request r2 = { "ec2:StopInstances", "*", NULL, 0 };
	struct policy_request r3 = { "iam:ListUsers", "*", NULL, 0 };

	(void)state;
	assert_int_equal(policy_evaluate(docs, 2, &r1), POLICY_EXPLICIT_DENY);
	assert_int_equal(policy_evaluate(docs, 2, &r2), POLICY_ALLOW);
	assert_int_equal(policy_evaluate(docs, 2, &r3), POLICY_IMPLICIT_DENY);
	assert_int_equal(policy_evaluate(docs, 0, &r2), POLICY_IMPLICIT_DENY);
}

static void test_managed_policies(void **state)
{
	const struct iam_managed_policy *ec2 = iam_managed_find("arn:aws:iam::aws:policy/AmazonEC2FullAccess");
	const struct iam_managed_policy *pu = iam_managed_find("arn:aws:iam::aws:policy/PowerUserAccess");
	const struct iam_managed_policy *ro = iam_managed_find("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess");
	struct policy_request run = { "ec2:RunInstances", "*", NULL, 0 };
	struct policy_request desc = { "ec2:DescribeInstances", "*", NULL, 0 };
	struct policy_request cu = { "iam:CreateUser", "*", NULL, 0 };
	struct policy_request s3 = { "s3:PutObject", "*", NULL, 0 };
	size_t i;

	(void)state;
	for (i = 0; i < iam_n_managed_policies; i++)
		assert_int_equal(policy_validate(iam_managed_policies[i].document, NULL, 0), 0);
	assert_non_null(ec2);
	assert_non_null(pu);
	assert_non_null(ro);
	assert_null(iam_managed_find("arn:aws:iam::aws:policy/NoSuchPolicy"));
	assert_null(iam_managed_find("arn:aws:iam::123:policy/AmazonEC2FullAccess"));
	assert_int_equal(policy_eval_doc(ec2->document, &run), POLICY_ALLOW);
	assert_int_equal(policy_eval_doc(ec2->document, &cu), POLICY_IMPLICIT_DENY);
	assert_int_equal(policy_eval_doc(ec2->document, &s3), POLICY_IMPLICIT_DENY);
	assert_int_equal(policy_eval_doc(pu->document, &run), POLICY_ALLOW);
	assert_int_equal(policy_eval_doc(pu->document, &cu), POLICY_IMPLICIT_DENY);
	assert_int_equal(policy_eval_doc(ro->document, &desc), POLICY_ALLOW);
	assert_int_equal(policy_eval_doc(ro->document, &run), POLICY_IMPLICIT_DENY);
}

static void test_validate(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"Statement\":[]}", "nope", "{\"Statement\":[{\"Effect\":\"Allow\"}]}",
		"{\"Statement\":[{\"Effect\":\"Maybe\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"NotAction\":\"x:y\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"nocolon\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[1],\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Principal\":\"*\"}]}",
		"{\"Version\":\"2020-01-01\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]} trailing",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":[]}]}",
	};
	char why[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (policy_validate(bad[i], why, sizeof(why)) == 0)
			fail_msg("accepted bad policy %zu: %s", i, bad[i]);
	assert_int_equal(policy_validate("{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"x\",\"Effect\":\"Deny\","
					 "\"NotAction\":[\"ec2:*\"],\"NotResource\":\"arn:aws:s3:::b/*\"}}\n", why, sizeof(why)), 0);
}

static void test_glob(void **state)
{
	(void)state;
	assert_true(policy_glob("*", "", false));
	assert_true(policy_glob("a*b*c", "axxbyyc", false));
	assert_false(policy_glob("a*b*c", "axxbyy", false));
	assert_true(policy_glob("a?c", "abc", false));
	assert_false(policy_glob("a?c", "ac", false));
	assert_true(policy_glob("AbC", "abc", true));
	assert_false(policy_glob("AbC", "abc", false));
	assert_false(policy_glob("*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_table),
		cmocka_unit_test(test_combined_documents),
		cmocka_unit_test(test_managed_policies),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_glob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

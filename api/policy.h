/* api/policy.h - IAM identity-policy documents: validation and evaluation.
 *
 * Evaluation follows AWS for identity policies: an explicit Deny in any
 * statement wins, otherwise an Allow is needed, otherwise the request is
 * implicitly denied.  Action/NotAction match "service:Action" patterns with
 * '*' and '?' wildcards case-insensitively; Resource/NotResource match ARN
 * patterns case-sensitively.  Conditions support the String* and Bool
 * operators (with IfExists) over the keys the caller supplies; a condition
 * this evaluator cannot decide makes an Allow statement not apply and a Deny
 * statement apply (fail closed). */
#ifndef API_POLICY_H
#define API_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define POLICY_MAX_DOC 10240 /* bytes; AWS allows 2048-10240 depending on kind */

enum policy_decision {
	POLICY_IMPLICIT_DENY = 0,
	POLICY_ALLOW,
	POLICY_EXPLICIT_DENY,
};

struct policy_cond_kv {
	const char *key;   /* e.g. "aws:username" (matched case-insensitively) */
	const char *value;
};

struct policy_request {
	const char *action;   /* "ec2:DescribeInstances" */
	const char *resource; /* an ARN, or "*" when the action has no resource */
	const struct policy_cond_kv *ctx;
	size_t n_ctx;
};

/* 0 if doc is a well-formed identity policy; -EINVAL with a reason in why. */
int policy_validate(const char *doc, char *why, size_t why_len);
/* Decision of one document (an unparseable one decides nothing). */
enum policy_decision policy_eval_doc(const char *doc, const struct policy_request *req);
/* Combined decision over several documents (Deny anywhere wins). */
enum policy_decision policy_evaluate(const char *const *docs, size_t n, const struct policy_request *req);
/* '*' and '?' glob match; case-insensitive when nocase. */
bool policy_glob(const char *pat, const char *s, bool nocase);

#endif

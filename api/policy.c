/* api/policy.c - IAM policy validation and evaluation (see policy.h). */
#include "api/policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

bool policy_glob(const char *pat, const char *s, bool nocase)
{
	const char *star = NULL, *retry = NULL;

	/* Iterative matcher with single-star backtracking: linear in practice,
	 * no recursion a hostile pattern could exhaust. */
	while (*s) {
		char pc = *pat, sc = *s;

		if (nocase) {
			pc = (char)tolower((unsigned char)pc);
			sc = (char)tolower((unsigned char)sc);
		}
		if (*pat == '*') {
			star = ++pat;
			retry = s;
			continue;
		}
		if (*pat && (*pat == '?' || pc == sc)) {
			pat++;
			s++;
			continue;
		}
		if (star) {
			pat = star;
			s = ++retry;
			continue;
		}
		return false;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* ---- validation ------------------------------------------------------------ */

static int why_set(char *why, size_t n, const char *msg)
{
	if (why && n)
		snprintf(why, n, "%s", msg);
	return -EINVAL;
}

static bool string_or_string_array(struct json_object *v, bool action)
{
	size_t i, n;

	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);

		if (!*s)
			return false;
		return !action || strcmp(s, "*") == 0 || strchr(s, ':') != NULL;
	}
	if (!json_object_is_type(v, json_type_array))
		return false;
	n = json_object_array_length(v);
	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!string_or_string_array(json_object_array_get_idx(v, i), action) ||
		    json_object_is_type(json_object_array_get_idx(v, i), json_type_array))
			return false;
	return true;
}

static int validate_statement(struct json_object *st, char *why, size_t n)
{
	struct json_object *v;
	int have_a = 0, have_r = 0;

	if (!json_object_is_type(st, json_type_object))
		return why_set(why, n, "Statement entries must be objects");
	json_object_object_foreach(st, key, val) {
		if (strcmp(key, "Effect") == 0) {
			const char *e = json_object_get_string(val);

			if (!json_object_is_type(val, json_type_string) ||
			    (strcmp(e, "Allow") != 0 && strcmp(e, "Deny") != 0))
				return why_set(why, n, "Effect must be Allow or Deny");
		} else if (strcmp(key, "Action") == 0 || strcmp(key, "NotAction") == 0) {
			have_a++;
			if (!string_or_string_array(val, true))
				return why_set(why, n, "Action must be \"*\" or service:action strings");
		} else if (strcmp(key, "Resource") == 0 || strcmp(key, "NotResource") == 0) {
			have_r++;
			if (!string_or_string_array(val, false))
				return why_set(why, n, "Resource must be a string or a list of strings");
		} else if (strcmp(key, "Condition") == 0) {
			if (!json_object_is_type(val, json_type_object))
				return why_set(why, n, "Condition must be an object");
			json_object_object_foreach(val, op, body) {
				(void)op;
				if (!json_object_is_type(body, json_type_object))
					return why_set(why, n, "Condition operator values must be objects");
			}
		} else if (strcmp(key, "Sid") == 0) {
			if (!json_object_is_type(val, json_type_string))
				return why_set(why, n, "Sid must be a string");
		} else if (strcmp(key, "Principal") == 0 || strcmp(key, "NotPrincipal") == 0) {
			return why_set(why, n, "Has prohibited field Principal");
		} else {
			return why_set(why, n, "Syntax errors in policy: unknown statement field");
		}
	}
	if (!json_object_object_get_ex(st, "Effect", &v))
		return why_set(why, n, "Missing required field Effect");
	if (have_a != 1)
		return why_set(why, n, "Statement needs exactly one of Action or NotAction");
	if (have_r != 1)
		return why_set(why, n, "Statement needs exactly one of Resource or NotResource");
	return 0;
}

int policy_validate(const char *doc, char *why, size_t why_len)
{
	struct json_tokener *tok;
	struct json_object *root = NULL, *st;
	size_t len = strlen(doc), i;
	int err = 0;

	if (len == 0 || len > POLICY_MAX_DOC)
		return why_set(why, why_len, "Policy document length is out of range");
	tok = json_tokener_new_ex(16);
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, doc, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		/* trailing whitespace is fine, anything else is not */
		size_t end = json_tokener_get_parse_end(tok);

		if (!root || json_tokener_get_error(tok) != json_tokener_success ||
		    strspn(doc + end, " \t\r\n") != len - end) {
			err = why_set(why, why_len, "Syntax errors in policy");
			goto out;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		err = why_set(why, why_len, "Policy must be a JSON object");
		goto out;
	}
	json_object_object_foreach(root, key, val) {
		if (strcmp(key, "Version") == 0) {
			const char *s = json_object_get_string(val);

			if (!json_object_is_type(val, json_type_string) ||
			    (strcmp(s, "2012-10-17") != 0 && strcmp(s, "2008-10-17") != 0)) {
				err = why_set(why, why_len, "The policy must contain a valid version string");
				goto out;
			}
		} else if (strcmp(key, "Id") != 0 && strcmp(key, "Statement") != 0) {
			err = why_set(why, why_len, "Syntax errors in policy: unknown top-level field");
			goto out;
		}
	}
	if (!json_object_object_get_ex(root, "Statement", &st)) {
		err = why_set(why, why_len, "Missing required field Statement");
		goto out;
	}
	if (json_object_is_type(st, json_type_array)) {
		if (json_object_array_length(st) == 0) {
			err = why_set(why, why_len, "Statement must not be empty");
			goto out;
		}
		for (i = 0; i < json_object_array_length(st) && !err; i++)
			err = validate_statement(json_object_array_get_idx(st, i), why, why_len);
	} else {
		err = validate_statement(st, why, why_len);
	}
out:
	json_object_put(root);
	json_tokener_free(tok);
	return err;
}

/* ---- evaluation -------------------------------------------------------------- */

static bool match_any(struct json_object *v, const char *s, bool nocase)
{
	size_t i;

	if (json_object_is_type(v, json_type_string))
		return policy_glob(json_object_get_string(v), s, nocase);
	if (!json_object_is_type(v, json_type_array))
		return false;
	for (i = 0; i < json_object_array_length(v); i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

		if (json_object_is_type(e, json_type_string) &&
		    policy_glob(json_object_get_string(e), s, nocase))
			return true;
	}
	return false;
}

enum tri { T_FALSE = 0, T_TRUE = 1, T_UNKNOWN = 2 };

static const char *ctx_lookup(const struct policy_request *req, const char *key)
{
	size_t i;

	for (i = 0; i < req->n_ctx; i++)
		if (strcasecmp(req->ctx[i].key, key) == 0)
			return req->ctx[i].value;
	return NULL;
}

/* One "Operator": {"key": value-or-values, ...} block; keys AND, values OR. */
static enum tri eval_operator(const char *op_in, struct json_object *body, const struct policy_request *req)
{
	char op[64];
	size_t oplen = strlen(op_in);
	bool if_exists = false, negate = false, nocase = false, like = false, boolean = false;

	if (oplen >= sizeof(op))
		return T_UNKNOWN;
	memcpy(op, op_in, oplen + 1);
	if (oplen > 8 && strcmp(op + oplen - 8, "IfExists") == 0) {
		if_exists = true;
		op[oplen - 8] = '\0';
	}
	if (strcmp(op, "StringEquals") == 0) {
	} else if (strcmp(op, "StringNotEquals") == 0) {
		negate = true;
	} else if (strcmp(op, "StringEqualsIgnoreCase") == 0) {
		nocase = true;
	} else if (strcmp(op, "StringNotEqualsIgnoreCase") == 0) {
		nocase = negate = true;
	} else if (strcmp(op, "StringLike") == 0) {
		like = true;
	} else if (strcmp(op, "StringNotLike") == 0) {
		like = negate = true;
	} else if (strcmp(op, "Bool") == 0) {
		boolean = nocase = true;
	} else {
		return T_UNKNOWN;
	}
	json_object_object_foreach(body, key, vals) {
		const char *have = ctx_lookup(req, key);
		bool any = false;
		size_t i, n;

		if (!have) {
			/* Missing key: IfExists and the negated operators are true. */
			if (if_exists || negate)
				continue;
			return T_FALSE;
		}
		n = json_object_is_type(vals, json_type_array) ? json_object_array_length(vals) : 1;
		for (i = 0; i < n && !any; i++) {
			struct json_object *e = json_object_is_type(vals, json_type_array) ?
				json_object_array_get_idx(vals, i) : vals;
			const char *want;

			if (json_object_is_type(e, json_type_object) || json_object_is_type(e, json_type_array))
				return T_UNKNOWN;
			want = json_object_get_string(e);
			if (like)
				any = policy_glob(want, have, false);
			else if (nocase || boolean)
				any = strcasecmp(want, have) == 0;
			else
				any = strcmp(want, have) == 0;
		}
		if (any == negate)
			return T_FALSE;
	}
	return T_TRUE;
}

static enum tri eval_condition(struct json_object *cond, const struct policy_request *req)
{
	enum tri r = T_TRUE;

	json_object_object_foreach(cond, op, body) {
		enum tri t = json_object_is_type(body, json_type_object) ?
			eval_operator(op, body, req) : T_UNKNOWN;

		if (t == T_FALSE)
			return T_FALSE;
		if (t == T_UNKNOWN)
			r = T_UNKNOWN;
	}
	return r;
}

/* 1 if the statement applies to req (Action, Resource, Condition all match). */
static enum tri statement_applies(struct json_object *st, const struct policy_request *req)
{
	struct json_object *v;

	if (json_object_object_get_ex(st, "Action", &v)) {
		if (!match_any(v, req->action, true))
			return T_FALSE;
	} else if (json_object_object_get_ex(st, "NotAction", &v)) {
		if (match_any(v, req->action, true))
			return T_FALSE;
	} else {
		return T_FALSE;
	}
	if (json_object_object_get_ex(st, "Resource", &v)) {
		if (!match_any(v, req->resource, false))
			return T_FALSE;
	} else if (json_object_object_get_ex(st, "NotResource", &v)) {
		if (match_any(v, req->resource, false))
			return T_FALSE;
	} else {
		return T_FALSE;
	}
	if (json_object_object_get_ex(st, "Condition", &v) && json_object_is_type(v, json_type_object))
		return eval_condition(v, req);
	return T_TRUE;
}

static enum policy_decision eval_statement(struct json_object *st, const struct policy_request *req)
{
	struct json_object *e;
	bool deny;
	enum tri t;

	if (!json_object_is_type(st, json_type_object) || !json_object_object_get_ex(st, "Effect", &e))
		return POLICY_IMPLICIT_DENY;
	deny = strcmp(json_object_get_string(e), "Deny") == 0;
	t = statement_applies(st, req);
	if (deny)
		return t == T_FALSE ? POLICY_IMPLICIT_DENY : POLICY_EXPLICIT_DENY;
	if (strcmp(json_object_get_string(e), "Allow") != 0)
		return POLICY_IMPLICIT_DENY;
	return t == T_TRUE ? POLICY_ALLOW : POLICY_IMPLICIT_DENY;
}

enum policy_decision policy_eval_doc(const char *doc, const struct policy_request *req)
{
	struct json_object *root, *st;
	enum policy_decision d = POLICY_IMPLICIT_DENY;

	root = json_tokener_parse(doc);
	if (!root)
		return POLICY_IMPLICIT_DENY;
	if (json_object_is_type(root, json_type_object) && json_object_object_get_ex(root, "Statement", &st)) {
		if (json_object_is_type(st, json_type_array)) {
			size_t i;

			for (i = 0; i < json_object_array_length(st); i++) {
				enum policy_decision s = eval_statement(json_object_array_get_idx(st, i), req);

				if (s > d)
					d = s;
				if (d == POLICY_EXPLICIT_DENY)
					break;
			}
		} else {
			d = eval_statement(st, req);
		}
	}
	json_object_put(root);
	return d;
}

enum policy_decision policy_evaluate(const char *const *docs, size_t n, const struct policy_request *req)
{
	enum policy_decision d = POLICY_IMPLICIT_DENY;
	size_t i;

	for (i = 0; i < n; i++) {
		enum policy_decision s = policy_eval_doc(docs[i], req);

		if (s > d)
			d = s;
		if (d == POLICY_EXPLICIT_DENY)
			break;
	}
	return d;
}

/* api/iam.h - IAM: users, access keys, groups, inline and AWS-managed
 * policies, the root user, authentication lookups and authorization. */
#ifndef API_IAM_H
#define API_IAM_H

#include <stddef.h>

#include "api/api.h"
#include "api/policy.h"

extern const struct api_service iam_service;

struct iam_managed_policy {
	const char *name;        /* "AmazonEC2FullAccess" */
	const char *path;        /* "/" or "/service-role/" ... */
	const char *description;
	const char *document;    /* JSON */
};

extern const struct iam_managed_policy iam_managed_policies[];
extern const size_t iam_n_managed_policies;
/* By ARN "arn:aws:iam::aws:policy/NAME"; NULL if unknown. */
const struct iam_managed_policy *iam_managed_find(const char *arn);

/* First start: account id, root access key and DATA_DIR/root-credentials
 * (0600, [default]).  Later starts: loads the account id.  0 or -errno. */
int iam_bootstrap(struct api *api);

/* Looks up an access key: fills who and the decrypted secret.  0, -ENOENT
 * (unknown key), -EACCES (key Inactive), -EIO. */
int iam_authenticate(struct api *api, const char *access_key, struct api_principal *who,
		     char *secret, size_t secret_len);

/* Decision for a non-root principal: every policy that applies to the user
 * (inline, attached, and those of the user's groups).  0 or -EIO. */
int iam_authorize(struct api *api, const struct api_principal *who,
		  const struct policy_request *req, enum policy_decision *out);

#endif

/* tests/fuzz/fuzz_api_policy.c - libFuzzer target: IAM policy validation and
 * evaluation of whatever validates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct policy_cond_kv ctx[] = { { "aws:username", "alice" } };
	struct policy_request req = { "ec2:DescribeInstances", "arn:aws:ec2:r:1:instance/i-1", ctx, 1 };
	char why[128];
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (policy_validate(s, why, sizeof(why)) == 0)
		(void)policy_eval_doc(s, &req);
	(void)policy_glob(s, "arn:aws:iam::123456789012:user/alice", true);
	free(s);
	return 0;
}

/* api/sts.c - STS (AWS Query protocol, 2011-06-15). */
#include "api/sts.h"

#include "api/xml.h"

/* GetCallerIdentity needs no permission (as in AWS): any valid key may ask. */
static int get_caller_identity(struct api_req *req)
{
	xml_elem(&req->out, "UserId", req->who.user_id);
	xml_elem(&req->out, "Account", req->who.account);
	xml_elem(&req->out, "Arn", req->who.arn);
	return 0;
}

static const struct api_action sts_actions[] = {
	{ "GetCallerIdentity", get_caller_identity, API_ACT_NO_AUTHZ, NULL },
};

const struct api_service sts_service = {
	.name = "sts",
	.prefix = "sts",
	.version = "2011-06-15",
	.xmlns = "https://sts.amazonaws.com/doc/2011-06-15/",
	.proto = API_PROTO_QUERY,
	.global = true,
	.root_ok = true,
	.actions = sts_actions,
	.n_actions = sizeof(sts_actions) / sizeof(sts_actions[0]),
};

/* api/ec2_lt.h - EC2 launch templates (api/ec2_lt.c), as Auto Scaling uses
 * them. */
#ifndef API_EC2_LT_H
#define API_EC2_LT_H

#include <json-c/json.h>

#include "api/api.h"

/* Inside a transaction: the template named by id or name (one may be NULL)
 * at version ("$Latest", "$Default", NULL = $Default, or a number).  Fills
 * id_out (32 bytes), name_out (136 bytes), *ver and *data (the wire
 * parameters of LaunchTemplateData without the prefix, e.g. "ImageId",
 * "SecurityGroupId.1"; json_object_put it).  0, -ENOENT (no template),
 * -ESRCH (no such version), -EINVAL (bad version) or -EIO. */
int ec2_lt_resolve(struct store *st, const char *id, const char *name, const char *version, char *id_out,
		   char *name_out, int *ver, json_object **data);

#endif

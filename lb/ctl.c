/* lb/ctl.c - control requests (see ctl.h). */
#include "lb/ctl.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lb.h"

static char *reply_err(const char *msg)
{
	json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

char *lb_ctl_handle(struct lb *lb, const char *line)
{
	json_object *req = json_tokener_parse(line), *cmdo = NULL, *cfgo = NULL;
	const char *cmd;
	char err[512], *out = NULL;

	if (!req || !json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "cmd", &cmdo) || !json_object_is_type(cmdo, json_type_string)) {
		json_object_put(req);
		return reply_err("expected a JSON object with \"cmd\"");
	}
	cmd = json_object_get_string(cmdo);
	if (strcmp(cmd, "apply") == 0) {
		struct lb_config *cfg;

		if (!json_object_object_get_ex(req, "config", &cfgo) ||
		    !json_object_is_type(cfgo, json_type_object)) {
			out = reply_err("apply needs \"config\": {...}");
			goto done;
		}
		cfg = lb_config_parse(json_object_to_json_string_ext(cfgo, JSON_C_TO_STRING_PLAIN), err,
				      sizeof(err));
		if (!cfg) {
			out = reply_err(err);
			goto done;
		}
		if (lb_apply(lb, cfg, err, sizeof(err)) < 0) {
			lb_config_put(cfg);
			out = reply_err(err);
			goto done;
		}
		if (asprintf(&out, "{\"ok\":true,\"generation\":%llu}", (unsigned long long)cfg->gen) < 0)
			out = NULL;
		lb_config_put(cfg);
	} else if (strcmp(cmd, "health") == 0) {
		out = lb_health_report(lb);
	} else if (strcmp(cmd, "stats") == 0) {
		out = lb_stats_report(lb);
	} else if (strcmp(cmd, "get-config") == 0) {
		struct lb_config *cfg = lb_current(lb);

		if (asprintf(&out, "{\"ok\":true,\"config\":%s}", cfg ? cfg->json : "null") < 0)
			out = NULL;
		lb_config_put(cfg);
	} else if (strcmp(cmd, "ping") == 0) {
		if (asprintf(&out, "{\"ok\":true,\"workers\":%zu}", lb->nworkers) < 0)
			out = NULL;
	} else {
		snprintf(err, sizeof(err), "unknown cmd \"%s\"", cmd);
		out = reply_err(err);
	}
done:
	json_object_put(req);
	return out;
}

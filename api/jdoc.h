/* api/jdoc.h - typed getters on json-c documents (the JSON that haneuld keeps in
 * SQLite): a missing key, a NULL object or the wrong type gives NULL / defl. */
#ifndef HANEUL_API_JDOC_H
#define HANEUL_API_JDOC_H

#include <stdint.h>

#include <json-c/json.h>

static inline const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static inline int64_t jint(json_object *o, const char *k, int64_t defl)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) && v ? json_object_get_int64(v) : defl;
}

static inline json_object *jobj(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

#endif

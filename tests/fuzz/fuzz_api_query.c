/* tests/fuzz/fuzz_api_query.c - libFuzzer target: the form/query parser, the
 * AWS list helpers and the SigV4 canonical query built from the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "api/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct query q;
	struct strbuf b = STRBUF_INIT;
	unsigned *idx = NULL;
	char *s;
	int n, i;

	query_init(&q);
	if (query_parse(&q, (const char *)data, size, QUERY_PLUS_IS_SPACE) == 0) {
		(void)query_get(&q, "Action");
		n = query_list_indices(&q, "Targets.member", &idx);
		for (i = 0; i < n; i++)
			(void)query_list_get(&q, "Targets.member", idx[i], "Id");
		free(idx);
	}
	query_free(&q);
	query_init(&q);
	(void)query_parse(&q, (const char *)data, size, 0);
	query_free(&q);

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)sigv4_canonical_query(s, &b);
	sb_reset(&b);
	sigv4_canonical_uri(s, false, &b);
	sb_free(&b);
	free(s);
	return 0;
}

/* tests/fuzz/fuzz_api_sigv4.c - libFuzzer target: the SigV4 Authorization
 * header parser, then a full verification with the parsed SignedHeaders
 * against a fixed request (exercises canonicalisation on hostile lists). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sigv4_header h[] = {
		{ "Host", "127.0.0.1:4566" },
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "X-Amz-Date", "20150830T123600Z" },
	};
	struct sigv4_request r = { "POST", "/", "a=b", h, 3,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false };
	struct sigv4_auth a;
	time_t t;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (sigv4_parse_auth_header(s, &a) == SIGV4_OK)
		(void)sigv4_verify(&r, &a, "secret", "20150830T123600Z");
	(void)sigv4_parse_amz_date(s, &t);
	free(s);
	return 0;
}

/* vmm/boot/bootutil.c - see bootutil.h. */
#include "vmm/boot/bootutil.h"

#include <stdarg.h>
#include <stdio.h>

uint8_t bootu_sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

uint8_t bootu_checksum(const uint8_t *p, size_t len)
{
	return (uint8_t)(0x100 - bootu_sum8(p, len));
}

int bootu_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

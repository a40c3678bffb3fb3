/* agent/kcmdline.c - parse haneul.* metadata from the kernel command line.
 * base64 is written by hand: a dozen lines, and the static agent should not
 * pull libcrypto in for it. */
#include "agent/kcmdline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kcmd_b64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
		    size_t *out_len)
{
	uint32_t acc = 0;
	size_t n = 0, bits = 0, pad = 0, data = 0;

	/* Padding: only at the end, at most two, and the total must be a multiple of 4. */
	while (pad < in_len && pad < 3 && in[in_len - 1 - pad] == '=')
		pad++;
	if (pad > 2)
		return -EINVAL;
	data = in_len - pad;
	if (pad && in_len % 4)
		return -EINVAL;
	if (data % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < data; i++) {
		int v = b64_val((unsigned char)in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= out_cap)
				return -EMSGSIZE;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits && (acc & ((1u << bits) - 1)))
		return -EINVAL;
	*out_len = n;
	return 0;
}

size_t kcmd_b64_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

void kcmd_b64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
}

bool kcmd_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > KCMD_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int bad(struct kcmd_meta *m, const char *what)
{
	snprintf(m->error, sizeof(m->error), "%s", what);
	return -EINVAL;
}

/* Applies one argument ARG (quotes already removed, LEN bytes). */
static int apply_arg(struct kcmd_meta *m, const char *arg, size_t len)
{
	static const char k_id[] = "haneul.instance_id=";
	static const char k_ud[] = "haneul.user_data=";
	static const char k_udf[] = "haneul.user_data_file=";
	const char *v;
	size_t vl;

	if (len >= sizeof(k_id) - 1 && !memcmp(arg, k_id, sizeof(k_id) - 1)) {
		v = arg + sizeof(k_id) - 1;
		vl = len - (sizeof(k_id) - 1);
		if (!kcmd_id_valid(v, vl))
			return bad(m, "haneul.instance_id: must be 1..64 of [A-Za-z0-9-]");
		memcpy(m->instance_id, v, vl);
		m->instance_id[vl] = '\0';
		return 0;
	}
	if (len >= sizeof(k_ud) - 1 && !memcmp(arg, k_ud, sizeof(k_ud) - 1)) {
		unsigned char *buf;
		size_t n, cap;
		int rc;

		v = arg + sizeof(k_ud) - 1;
		vl = len - (sizeof(k_ud) - 1);
		cap = vl / 4 * 3 + 3;

		if (cap > KCMD_USER_DATA_MAX)
			cap = KCMD_USER_DATA_MAX;
		buf = malloc(cap);
		if (!buf)
			return -ENOMEM;
		rc = kcmd_b64_decode(v, vl, buf, cap, &n);
		if (rc) {
			free(buf);
			return bad(m, rc == -EMSGSIZE ? "haneul.user_data: over 16 KiB"
						      : "haneul.user_data: not valid base64");
		}
		free(m->user_data);
		m->user_data = buf;
		m->user_data_len = n;
		return 0;
	}
	if (len >= sizeof(k_udf) - 1 && !memcmp(arg, k_udf, sizeof(k_udf) - 1)) {
		v = arg + sizeof(k_udf) - 1;
		vl = len - (sizeof(k_udf) - 1);
		if (vl < 2 || vl > KCMD_PATH_MAX || v[0] != '/' || memchr(v, '\0', vl))
			return bad(m, "haneul.user_data_file: must be an absolute path of at most 255 bytes");
		memcpy(m->user_data_file, v, vl);
		m->user_data_file[vl] = '\0';
		return 0;
	}
	return 0;
}

int kcmd_parse(const char *cmdline, struct kcmd_meta *m)
{
	char arg[KCMD_CMDLINE_MAX + 1];
	size_t total = strnlen(cmdline, KCMD_CMDLINE_MAX + 1);
	const char *p = cmdline, *end = cmdline + total;
	int ret = 0;

	if (total > KCMD_CMDLINE_MAX)
		return -E2BIG;
	while (p < end) {
		size_t n = 0;
		bool quoted = false;
		int rc;

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		/* Copy one argument, dropping the double quotes that group it. */
		while (p < end && (quoted || !is_space(*p))) {
			if (*p == '"')
				quoted = !quoted;
			else
				arg[n++] = *p;
			p++;
		}
		rc = apply_arg(m, arg, n);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			ret = rc;
	}
	return ret;
}

int kcmd_load_user_data_file(struct kcmd_meta *m)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t n = 0;
	int fd, ret;

	if (!m->user_data_file[0] || m->user_data)
		return 0;
	fd = open(m->user_data_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out_close;
	}
	buf = malloc(KCMD_USER_DATA_MAX + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	/* Read one byte more than allowed to tell "exactly the limit" from "over". */
	for (;;) {
		ssize_t r = read(fd, buf + n, KCMD_USER_DATA_MAX + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out_free;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > KCMD_USER_DATA_MAX) {
			ret = -EFBIG;
			goto out_free;
		}
	}
	m->user_data = buf;
	m->user_data_len = n;
	close(fd);
	return 0;
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

void kcmd_meta_free(struct kcmd_meta *m)
{
	free(m->user_data);
	memset(m, 0, sizeof(*m));
}

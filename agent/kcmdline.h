/* agent/kcmdline.h - instance metadata from the kernel command line.
 *
 * The host (haneul-vmm --cmdline, filled by haneuld) passes:
 *   haneul.instance_id=i-0abc...          [A-Za-z0-9-], 1..64 bytes
 *   haneul.user_data=BASE64               EC2 user data, standard base64 (RFC 4648,
 *                                         padding optional), at most 16 KiB decoded;
 *                                         bounded in practice by the kernel's 2 KiB
 *                                         COMMAND_LINE_SIZE
 *   haneul.user_data_file=/ABS/PATH       or: read user data from this file (a volume
 *                                         the initramfs mounted), at most 16 KiB
 * Pure: no I/O besides kcmd_load_user_data_file(). */
#ifndef AGENT_KCMDLINE_H
#define AGENT_KCMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#define KCMD_ID_MAX        64
#define KCMD_PATH_MAX      255
#define KCMD_USER_DATA_MAX 16384
#define KCMD_CMDLINE_MAX   4096 /* more than any x86 kernel accepts (2048) */

struct kcmd_meta {
	char instance_id[KCMD_ID_MAX + 1];            /* "" when absent */
	char user_data_file[KCMD_PATH_MAX + 1];       /* "" when absent */
	unsigned char *user_data;                     /* malloc'd, kcmd_meta_free() frees; NULL when absent */
	size_t user_data_len;
	char error[128];                              /* why the last bad parameter was ignored */
};

/* Parses CMDLINE (NUL-terminated, at most KCMD_CMDLINE_MAX bytes; a trailing
 * newline is fine) into M, which must be zeroed or fresh from kcmd_meta_free().
 * Arguments are separated by spaces/tabs/newlines; double quotes group
 * (`a="b c"`), as the kernel's next_arg() does.  Unknown arguments are
 * ignored.  Returns 0, -E2BIG when CMDLINE is too long (M untouched),
 * -ENOMEM, or -EINVAL when a haneul.* argument was malformed: that argument
 * is ignored, M->error names it, everything valid is still filled in. */
int kcmd_parse(const char *cmdline, struct kcmd_meta *m);

/* Reads M->user_data_file into M->user_data if set and no user data came on
 * the command line.  0 (also when there is nothing to do), -EFBIG over
 * KCMD_USER_DATA_MAX, or the -errno of open/read. */
int kcmd_load_user_data_file(struct kcmd_meta *m);

void kcmd_meta_free(struct kcmd_meta *m);

/* Instance ids: 1..KCMD_ID_MAX bytes of [A-Za-z0-9-]. */
bool kcmd_id_valid(const char *s, size_t len);

/* Standard base64 (A-Z a-z 0-9 + /), '=' padding optional but only at the
 * end, no whitespace.  Writes at most OUT_CAP bytes.  0, -EINVAL (bad
 * alphabet/padding/length), -EMSGSIZE (does not fit). */
int kcmd_b64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
		    size_t *out_len);

/* Encodes LEN bytes into OUT (needs kcmd_b64_len(LEN) + 1 bytes, NUL-terminated). */
size_t kcmd_b64_len(size_t len);
void kcmd_b64_encode(const unsigned char *in, size_t len, char *out);

#endif

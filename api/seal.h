/* api/seal.h - secrets at rest: AES-256-GCM with a key file in the data dir.
 *
 * A sealed blob is nonce(12) || ciphertext || tag(16); the additional
 * authenticated data binds it to its owner (the access key id), so a blob
 * copied onto another row does not decrypt. */
#ifndef API_SEAL_H
#define API_SEAL_H

#include <stddef.h>

#include "common/strbuf.h"

#define SEAL_KEY_LEN 32
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_OVERHEAD (SEAL_NONCE_LEN + SEAL_TAG_LEN)

struct seal {
	unsigned char key[SEAL_KEY_LEN];
};

/* Loads the key from path, creating it (mode 0600, random) if absent.
 * A key file readable by group/others is refused (-EPERM). */
int seal_load_key(struct seal *s, const char *path);
void seal_wipe(struct seal *s);
/* Appends the sealed form of pt[0..n) to out.  0, -EIO or -ENOMEM. */
int seal_encrypt(const struct seal *s, const char *aad, const void *pt, size_t n, struct strbuf *out);
/* Opens blob into out (cap bytes, NUL-terminated).  0, -EBADMSG (tampered or
 * wrong key/aad), -ENOSPC (too small). */
int seal_decrypt(const struct seal *s, const char *aad, const void *blob, size_t n, char *out, size_t cap);
/* n random bytes.  0 or -EIO. */
int seal_random(void *buf, size_t n);

#endif

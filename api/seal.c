/* api/seal.c - AES-256-GCM secrets at rest (see seal.h). */
#include "api/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int seal_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -EIO;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int seal_load_key(struct seal *s, const char *path)
{
	struct stat st;
	ssize_t r;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return -errno;
		err = seal_random(s->key, sizeof(s->key));
		if (!err)
			err = write_all(fd, s->key, sizeof(s->key));
		if (!err && fsync(fd) < 0)
			err = -errno;
		close(fd);
		if (err)
			unlink(path);
		return err;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (st.st_mode & 077) {
		err = -EPERM;
		goto out;
	}
	r = read(fd, s->key, sizeof(s->key));
	err = r == (ssize_t)sizeof(s->key) ? 0 : -EINVAL;
out:
	close(fd);
	return err;
}

void seal_wipe(struct seal *s)
{
	OPENSSL_cleanse(s->key, sizeof(s->key));
}

int seal_encrypt(const struct seal *s, const char *aad, const void *pt, size_t n, struct strbuf *out)
{
	unsigned char nonce[SEAL_NONCE_LEN], tag[SEAL_TAG_LEN];
	EVP_CIPHER_CTX *c;
	unsigned char *ct;
	int len, err = -EIO;

	if (n > 4096 || seal_random(nonce, sizeof(nonce)))
		return -EIO;
	if (sb_reserve(out, SEAL_OVERHEAD + n))
		return -ENOMEM;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	ct = (unsigned char *)out->p + out->len + SEAL_NONCE_LEN;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, s->key, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(c, ct, &len, pt, (int)n) != 1 || (size_t)len != n ||
	    EVP_EncryptFinal_ex(c, ct + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1)
		goto out;
	memcpy(out->p + out->len, nonce, SEAL_NONCE_LEN);
	memcpy(ct + n, tag, SEAL_TAG_LEN);
	out->len += SEAL_OVERHEAD + n;
	out->p[out->len] = '\0';
	err = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return err;
}

int seal_decrypt(const struct seal *s, const char *aad, const void *blob, size_t n, char *out, size_t cap)
{
	const unsigned char *b = blob;
	EVP_CIPHER_CTX *c;
	size_t ptn;
	int len, err = -EBADMSG;

	if (n < SEAL_OVERHEAD)
		return -EBADMSG;
	ptn = n - SEAL_OVERHEAD;
	if (ptn + 1 > cap)
		return -ENOSPC;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, s->key, b) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(c, (unsigned char *)out, &len, b + SEAL_NONCE_LEN, (int)ptn) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, (void *)(b + n - SEAL_TAG_LEN)) != 1 ||
	    EVP_DecryptFinal_ex(c, (unsigned char *)out + len, &len) != 1) {
		OPENSSL_cleanse(out, cap);
		goto out;
	}
	out[ptn] = '\0';
	err = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return err;
}

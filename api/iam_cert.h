/* api/iam_cert.h - IAM server certificates (UploadServerCertificate & co.)
 * and their files for haneul-lb's HTTPS listeners.
 *
 * A certificate is stored with its private key sealed (seal.h, aad = the
 * certificate id); the key leaves the database only as a 0600 file under
 * DATA_DIR/certs, written when a listener uses the certificate. */
#ifndef API_IAM_CERT_H
#define API_IAM_CERT_H

#include <stddef.h>

#include "api/api.h"

/* IAM actions (entries of iam.c's action table). */
int iam_cert_upload(struct api_req *req);
int iam_cert_get(struct api_req *req);
int iam_cert_list(struct api_req *req);
int iam_cert_delete(struct api_req *req);
/* The ARN authorised against: server-certificate/ServerCertificateName. */
int iam_cert_resource(struct api_req *req, struct strbuf *arn);

/* Inside a store transaction: 1 when arn names an uploaded certificate, 0
 * when not, -EIO. */
int iam_cert_exists(struct api *api, const char *arn);
/* Inside a store transaction: writes DATA_DIR/certs/ID.crt (body + chain) and
 * ID.key (0600, unsealed key) for the certificate arn, unless already there,
 * and returns their paths.  0, -ENOENT (no such certificate), -errno. */
int iam_cert_files(struct api *api, const char *arn, char *crt, size_t crtn, char *key, size_t keyn);

#endif

/* api/stubs.h - services haneul answers for but does not implement yet.
 *
 * They are registered so that authentication and authorization (and so the
 * error shapes, e.g. EC2's UnauthorizedOperation) are already right; an
 * authorized call answers InvalidAction until the service's issue lands and
 * replaces the stub with a real action table. */
#ifndef API_STUBS_H
#define API_STUBS_H

#include "api/api.h"

extern const struct api_service ec2_stub_service;
extern const struct api_service elbv2_stub_service;
extern const struct api_service autoscaling_stub_service;
extern const struct api_service s3_stub_service;

#endif

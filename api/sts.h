/* api/sts.h - STS (GetCallerIdentity). */
#ifndef API_STS_H
#define API_STS_H

#include "api/api.h"

extern const struct api_service sts_service;

#endif

/* api/ec2.h - the EC2 service: real haneul-vmm microVMs behind the EC2 API.
 *
 * ec2_new() attaches the service to a struct api (api->ec2), registers it in
 * place of the stub, and makes sure the built-in images and the default VPC
 * exist.  ec2_start() starts the supervisor thread, which drives every
 * instance's state from what its VMM really does (docs/ec2.md): the handlers
 * only record what was asked (state + op) and wake it.  The VMMs are separate
 * processes that outlive haneuld; a new haneuld re-adopts them from their run
 * directories (DATA_DIR/ec2/i-*) and settles instances that were
 * mid-transition. */
#ifndef API_EC2_H
#define API_EC2_H

#include <stdbool.h>

#include "api/api.h"

struct ec2_config {
	const char *vmm;          /* haneul-vmm binary */
	const char *images_dir;   /* build/images (tiny/tiny.elf, linux/vmlinuz...) */
	bool supervise;           /* start VMMs (false: API only, unit tests) */
	unsigned stop_timeout_s;  /* graceful stop before the VMM forces off */
	unsigned tiny_mem_mib;    /* RAM given to instances of the tiny image */
};

extern const struct api_service ec2_service;

/* 0 or -errno (logged).  cfg strings are copied. */
int ec2_new(struct api *api, const struct ec2_config *cfg);
/* Starts the supervisor (when cfg->supervise).  0 or -errno. */
int ec2_start(struct api *api);
/* Stops the supervisor (VMMs keep running) and frees api->ec2. */
void ec2_free(struct api *api);

#endif

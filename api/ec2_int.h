/* api/ec2_int.h - what the EC2 modules (ec2.c, ec2_inst.c, ec2_vol.c,
 * ec2_sup.c, billing.c) share; not for other code. */
#ifndef API_EC2_INT_H
#define API_EC2_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "api/api.h"
#include "api/ec2.h"

#define EC2_ID_LEN        32     /* "eipalloc-" + 17 hex + NUL, with room */
#define EC2_MAX_INSTANCES 128    /* non-terminated instances per haneuld */
#define EC2_TERMINATED_KEEP_S 3600
#define EC2_CONSOLE_MAX   65536
/* UserData travels to the guest on its kernel command line
 * (haneul.user_data=BASE64), and x86 Linux takes at most 2047 bytes there:
 * 1 KiB of user data is 1368 base64 characters, which leaves ~680 bytes for
 * the image's arguments, the instance id and the network (~130 today). */
#define EC2_USER_DATA_MAX 1024
#define EC2_CMDLINE_MAX   2048   /* the x86 kernel's COMMAND_LINE_SIZE, with the NUL */
#define EC2_PUBLIC_POOL   "127.100.0.0/16"

struct ec2 {
	struct api *api;
	char vmm[PATH_MAX];
	char images_dir[PATH_MAX];
	char run_root[PATH_MAX + 32];  /* DATA_DIR/ec2 */
	char vol_root[PATH_MAX + 32];  /* DATA_DIR/ec2/volumes */
	bool supervise;
	unsigned stop_timeout_s;
	unsigned tiny_mem_mib;
	struct ec2_net *net;      /* NULL: instances have no network */
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	unsigned kicks;
};

/* Checks a UserData parameter (standard base64, padding optional, nothing
 * else: it goes on a kernel command line as it is).  0 with *decoded = the
 * decoded length, -EINVAL for bad base64, -E2BIG over EC2_USER_DATA_MAX. */
int ec2_user_data_check(const char *b64, size_t *decoded);

struct ec2_type {
	const char *name;
	unsigned vcpus;
	unsigned mem_mib;
	uint64_t micro_usd_hour;
};

struct ec2_tag {
	char *key;
	char *value;
};

/* One instance row (without user data). */
struct ec2_inst {
	int64_t seq;
	char id[EC2_ID_LEN], reservation[EC2_ID_LEN], image_id[EC2_ID_LEN];
	char type[32], state[16], shutdown[16], op[16];
	char reason_code[64], reason_msg[256], transition[256];
	char az[40], subnet_id[EC2_ID_LEN + 8], vpc_id[EC2_ID_LEN];
	char private_ip[16], public_ip[16], key_name[128], client_token[80];
	int launch_index;
	bool hibernation, hibernated, op_force;
	int64_t launch_time, state_time, op_time;
	int starts;
	struct ec2_tag *tags;
	size_t n_tags;
};

/* ---- ec2.c ---- */
const struct ec2_type *ec2_type_find(const char *name);
uint64_t ec2_voltype_price(const char *type); /* micro-USD per GiB-month, 0 unknown */
uint64_t ec2_eip_idle_price(void);            /* micro-USD per hour */
bool ec2_az_valid(const struct api *api, const char *az);
void ec2_new_id(const char *prefix, char out[EC2_ID_LEN]);
int ec2_state_code(const char *state);
void ec2_kick(struct ec2 *e);
/* DATA_DIR/ec2/<id> */
void ec2_run_dir(const struct ec2 *e, const char *id, char *out, size_t n);
void ec2_vol_path(const struct ec2 *e, const char *vol, char *out, size_t n);
/* Inside a transaction: the tags of a resource (malloc'd; ec2_tags_free). */
int ec2_tags_load(struct store *st, const char *id, struct ec2_tag **tags, size_t *n);
void ec2_tags_free(struct ec2_tag *tags, size_t n);
void ec2_tags_xml(struct strbuf *b, const struct ec2_tag *tags, size_t n);
/* TagSpecification.N for resource type rtype: inserts the tags for id. */
int ec2_tag_specs_apply(struct api_req *req, const char *rtype, const char *id);
int ec2_tag_specs_check(struct api_req *req);

/* Filters: Filter.N.Name / Filter.N.Value.M. */
struct ec2_filter {
	const char *name;
	const char *vals[64];
	size_t n;
};
#define EC2_MAX_FILTERS 16
/* 0, or -1 after an error. */
int ec2_filters_parse(struct api_req *req, struct ec2_filter *f, size_t *n);
bool ec2_filter_match(const struct ec2_filter *f, const char *value);
/* The "tag:K", "tag-key", "tag-value" filters against a tag list; true when
 * f is not a tag filter. */
bool ec2_filter_tags(const struct ec2_filter *f, const struct ec2_tag *tags, size_t n, bool *is_tag);
/* The list "prefix.1", "prefix.2", ... (pointers into req->params). */
int ec2_list(struct api_req *req, const char *prefix, const char ***out, size_t *n);
/* Pagination: MaxResults (min..1000) and NextToken ("<seq>"). 0 or -1. */
int ec2_page(struct api_req *req, int min_results, int *max, int64_t *after);

/* ---- ec2_inst.c ---- */
int ec2_inst_load(struct store *st, const char *where, const char *arg, struct ec2_inst **v, size_t *n);
void ec2_inst_free(struct ec2_inst *v, size_t n);
/* Inside a write transaction: moves id to state `to` if it is in `from`
 * (NULL = any), with a state reason (NULL = none), resets op, and keeps
 * billing usage and public addresses in step.  1 changed, 0 not, -EIO. */
int ec2_inst_set_state(struct ec2 *e, const char *id, const char *from, const char *to, const char *op, bool force,
		       const char *reason_code, const char *reason_msg, time_t now);
/* Inside a transaction: allocate the lowest free address of cidr not used by a
 * live instance (column col) or an Elastic IP.  0 or -ENOSPC/-EIO. */
int ec2_alloc_ip(struct store *st, const char *cidr, const char *col, char out[16]);

/* ---- ec2_vol.c ---- */
/* Inside a write transaction: a new volume file + row.  0 or -errno. */
int ec2_vol_create(struct ec2 *e, const char *id, unsigned size_gib, const char *type, const char *az,
		   const char *src_image, time_t now);
/* Inside a transaction: "--drive","file=..,id=.." pairs for an instance, root
 * first; *out holds 2 * n malloc'd strings (ec2_strv_free). */
int ec2_vol_drive_args(struct ec2 *e, const char *inst, char ***out, size_t *n);
void ec2_strv_free(char **v, size_t n);
/* Inside a write transaction: on termination, volumes with
 * DeleteOnTermination go, the others become available. */
int ec2_vol_on_terminate(struct ec2 *e, const char *inst, time_t now);
/* Inside a transaction: the root volume's size in GiB (0 when none). */
int ec2_vol_root_gib(struct store *st, const char *inst);
void ec2_vol_bdm_xml(struct store *st, const char *inst, struct strbuf *b);

/* ---- billing.c ---- */
/* Inside a write transaction. */
int billing_open(struct store *st, const char *resource, const char *kind, const char *rate_key, int64_t qty,
		 int64_t minimum_s, time_t now);
int billing_close(struct store *st, const char *resource, const char *kind, time_t now);

/* Action handlers (the table is in ec2.c). */
#define EC2_HANDLERS(X) \
	X(RunInstances) X(DescribeInstances) X(DescribeInstanceStatus) X(StartInstances) \
	X(StopInstances) X(RebootInstances) X(TerminateInstances) X(GetConsoleOutput) \
	X(ModifyInstanceAttribute) X(DescribeInstanceAttribute) \
	X(CreateVolume) X(AttachVolume) X(DetachVolume) X(DeleteVolume) X(DescribeVolumes) \
	X(AllocateAddress) X(AssociateAddress) X(DisassociateAddress) X(ReleaseAddress) X(DescribeAddresses) \
	X(CreateLaunchTemplate) X(CreateLaunchTemplateVersion) X(DescribeLaunchTemplates) \
	X(DescribeLaunchTemplateVersions) X(ModifyLaunchTemplate) X(DeleteLaunchTemplate) \
	X(GetBilling)
#define EC2_DECLARE(n) int ec2_h_##n(struct api_req *req);
EC2_HANDLERS(EC2_DECLARE)
#undef EC2_DECLARE

/* ---- ec2_sup.c ---- */
void *ec2_sup_main(void *arg);
/* One reconcile round (the supervisor's loop body; tests call it). */
int ec2_sup_round(struct ec2 *e, bool *busy);

#endif

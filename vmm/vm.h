/* vmm/vm.h - one virtual machine from start to exit: KVM VM, guest memory,
 * vCPU threads, legacy devices, console, control socket, and the event loop
 * that ties them (main thread).  main.c parses the command line into a
 * vm_config and returns vm_run()'s result as the process exit status.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdbool.h>
#include <stdint.h>

/* Process exit statuses (documented in docs/vmm.md). */
enum vm_exit_status {
	VM_EXIT_POWERED_OFF = 0, /* the guest powered itself off (maybe when asked to) */
	VM_EXIT_ERROR = 1,       /* KVM/host failure, bad kernel, I/O error */
	VM_EXIT_USAGE = 2,       /* bad command line */
	VM_EXIT_CRASHED = 3,     /* emulation failure, failed entry, guest crash */
	VM_EXIT_HIBERNATED = 4,  /* state saved to disk (control "hibernate") */
	VM_EXIT_FORCED_OFF = 5,  /* stopped by SIGTERM/SIGINT, shutdown timeout or force */
};

#define VM_MAX_DRIVES 16

/* A --drive (issue 4, vmm/virtio/blk.h). */
struct vm_drive {
	const char *file;
	const char *id;              /* volume id: virtio-blk serial, control-socket name */
	bool readonly;
};

struct vnet_cfg;
struct vsock_cfg;

struct vm_config {
	const char *kernel;
	const char *initrd;          /* NULL = none */
	const char *cmdline;         /* NULL = "" */
	unsigned int nr_vcpus;       /* 1..32 */
	uint64_t mem_size;           /* MEM_MIN_SIZE..MEM_MAX_SIZE */
	const char *console_log;     /* NULL = none */
	bool console_stdout;         /* --console stdout (also reads stdin) */
	const char *control_path;    /* NULL = no control socket */
	bool prefer_pvh;
	unsigned int shutdown_timeout_s;
	const char *kvm_path;        /* normally "/dev/kvm" */
	uint64_t start_ns;           /* CLOCK_MONOTONIC at process start (PV CLOCK origin) */
	struct vm_drive drives[VM_MAX_DRIVES]; /* the first is the root drive (/dev/vda) */
	unsigned int nr_drives;
	bool no_rng;                 /* --no-rng: no virtio-rng device */
	const struct vnet_cfg *nets; /* --net (vmm/virtio/vnet.h), nr_nets of them */
	unsigned int nr_nets;
	const struct vsock_cfg *vsock; /* --vsock (vmm/virtio/vsock.h); NULL = none */
	const char *resume_dir;      /* --resume DIR: continue a hibernated VM (kernel,
	                                vcpus, mem come from the snapshot); NULL = boot */
	bool verify_memory_first;    /* --verify-memory: check the whole memory file
	                                before starting (default: in the background) */
};

/* Run the VM until it powers off, crashes, or is forced off.  Returns an
 * enum vm_exit_status value.  Everything it allocated is freed. */
int vm_run(const struct vm_config *cfg);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t vm_now_ns(void);

#endif

/* vmm/main.c - haneul-vmm: command line to struct vm_config, then vm_run().
 * Exit statuses: see enum vm_exit_status in vmm/vm.h and docs/vmm.md. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vmm/mem.h"
#include "vmm/vcpu.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/vnet.h"
#include "vmm/virtio/vsock.h"
#include "vmm/vm.h"

#define DEFAULT_MEM          (256ull << 20)
#define DEFAULT_SHUTDOWN_S   30
#define MAX_SHUTDOWN_S       86400

static void usage(FILE *f)
{
	fprintf(f,
		"usage: haneul-vmm --kernel PATH [--initrd PATH] [--cmdline STR] [--vcpus N]\n"
		"                  [--mem SIZE] [--console stdout|none] [--console-log PATH]\n"
		"                  [--control PATH] [--pvh] [--shutdown-timeout SECS] [-v]\n"
		"       haneul-vmm --resume DIR [--verify-memory] [--console ...] [--control PATH] [-v]\n"
		"                  (the devices, like the kernel, come from the snapshot)\n"
		"  --kernel PATH            bzImage, ELF vmlinux, or PVH ELF (required)\n"
		"  --initrd PATH            initial ramdisk\n"
		"  --cmdline STR            kernel command line\n"
		"  --vcpus N                1..%d (default 1)\n"
		"  --mem SIZE               16M..64G, e.g. 256M, 2G (default 256M)\n"
		"  --console stdout|none    serial console on stdout/stdin (default stdout)\n"
		"  --console-log PATH       also write console output here (bounded)\n"
		"  --control PATH           JSON-lines control socket (see docs/vmm.md)\n"
		"  --pvh                    prefer the PVH entry of an ELF kernel\n"
		"  --shutdown-timeout SECS  graceful shutdown before forcing off (default %d)\n"
		"  -v                       more logging (twice: debug)\n"
		"  --resume DIR             continue a VM hibernated into DIR (control \"hibernate\")\n"
		"  --drive file=PATH,id=ID[,readonly]\n"
		"                           virtio-blk volume (repeatable; the first is /dev/vda)\n"
		"  --no-rng                 no virtio-rng entropy device\n"
		"  --net tap=NAME[,mac=MAC][,netns=NS]\n"
		"                           virtio-net on tap NAME (inside /run/netns/NS);\n"
		"                           repeatable, at most %d\n"
		"  --vsock cid=N,uds=PATH   virtio-vsock, host side on Unix socket PATH\n"
		"  --verify-memory          with --resume: check the memory file before starting\n"
		"                           (default: checked in the background, see docs/hibernate.md)\n"
		"exit status: 0 powered off, 1 error, 2 usage, 3 guest crashed, 4 hibernated,\n"
		"             5 forced off\n",
		VCPU_MAX, DEFAULT_SHUTDOWN_S, VNET_MAX_NICS);
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "haneul-vmm: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'haneul-vmm --help'.\n");
	return VM_EXIT_USAGE;
}

static int parse_uint(const char *s, unsigned long max, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_KERNEL = 256, O_INITRD, O_CMDLINE, O_VCPUS, O_MEM, O_CONSOLE, O_CONSOLE_LOG,
	       O_CONTROL, O_PVH, O_SHUTDOWN_TIMEOUT, O_HELP, O_RESUME, O_VERIFY_MEMORY,
	       O_DRIVE, O_NO_RNG, O_NET, O_VSOCK };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "initrd", required_argument, NULL, O_INITRD },
		{ "cmdline", required_argument, NULL, O_CMDLINE },
		{ "vcpus", required_argument, NULL, O_VCPUS },
		{ "mem", required_argument, NULL, O_MEM },
		{ "console", required_argument, NULL, O_CONSOLE },
		{ "console-log", required_argument, NULL, O_CONSOLE_LOG },
		{ "control", required_argument, NULL, O_CONTROL },
		{ "pvh", no_argument, NULL, O_PVH },
		{ "shutdown-timeout", required_argument, NULL, O_SHUTDOWN_TIMEOUT },
		{ "help", no_argument, NULL, O_HELP },
		{ "resume", required_argument, NULL, O_RESUME },
		{ "verify-memory", no_argument, NULL, O_VERIFY_MEMORY },
		{ "drive", required_argument, NULL, O_DRIVE },
		{ "no-rng", no_argument, NULL, O_NO_RNG },
		{ "net", required_argument, NULL, O_NET },
		{ "vsock", required_argument, NULL, O_VSOCK },
		{ NULL, 0, NULL, 0 },
	};
	struct vm_config cfg = {
		.nr_vcpus = 1, .mem_size = DEFAULT_MEM, .console_stdout = true,
		.shutdown_timeout_s = DEFAULT_SHUTDOWN_S, .kvm_path = "/dev/kvm",
		.start_ns = vm_now_ns(),
	};
	/* Storage for --net/--vsock; cfg points here (lives until exit). */
	static struct vnet_cfg nets[VNET_MAX_NICS];
	static struct vsock_cfg vsock;
	unsigned int nr_nets = 0;
	int verbose = 0, c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case O_KERNEL: cfg.kernel = optarg; break;
		case O_INITRD: cfg.initrd = optarg; break;
		case O_CMDLINE: cfg.cmdline = optarg; break;
		case O_VCPUS:
			if (parse_uint(optarg, VCPU_MAX, &cfg.nr_vcpus) || cfg.nr_vcpus < 1)
				return bad("--vcpus '%s': must be a number from 1 to 32", optarg);
			break;
		case O_MEM:
			if (mem_parse_size(optarg, &cfg.mem_size))
				return bad("--mem '%s': not a size (examples: 256M, 2G, 16777216)", optarg);
			if (cfg.mem_size < MEM_MIN_SIZE || cfg.mem_size > MEM_MAX_SIZE)
				return bad("--mem '%s': must be between 16M and 64G", optarg);
			if (cfg.mem_size & 0xfff)
				return bad("--mem '%s': must be a multiple of 4K", optarg);
			break;
		case O_CONSOLE:
			if (!strcmp(optarg, "stdout"))
				cfg.console_stdout = true;
			else if (!strcmp(optarg, "none"))
				cfg.console_stdout = false;
			else
				return bad("--console '%s': must be 'stdout' or 'none'", optarg);
			break;
		case O_CONSOLE_LOG: cfg.console_log = optarg; break;
		case O_CONTROL: cfg.control_path = optarg; break;
		case O_PVH: cfg.prefer_pvh = true; break;
		case O_SHUTDOWN_TIMEOUT:
			if (parse_uint(optarg, MAX_SHUTDOWN_S, &cfg.shutdown_timeout_s))
				return bad("--shutdown-timeout '%s': must be 0..86400 seconds", optarg);
			break;
		case O_RESUME: cfg.resume_dir = optarg; break;
		case O_VERIFY_MEMORY: cfg.verify_memory_first = true; break;
		case O_DRIVE: {
			struct vblk_cfg bc;
			char derr[160];

			if (cfg.nr_drives >= VM_MAX_DRIVES)
				return bad("--drive: at most %d drives", VM_MAX_DRIVES);
			/* optarg is argv memory: parsed in place, it lives as long as cfg. */
			if (vblk_parse_spec(optarg, &bc, derr, sizeof(derr)))
				return bad("--drive: %s", derr);
			for (unsigned int i = 0; i < cfg.nr_drives; i++)
				if (!strcmp(cfg.drives[i].id, bc.id))
					return bad("--drive: id '%s' given twice", bc.id);
			cfg.drives[cfg.nr_drives++] = (struct vm_drive){ bc.file, bc.id, bc.readonly };
			break;
		}
		case O_NO_RNG: cfg.no_rng = true; break;
		case O_NET: {
			char nerr[192];

			if (nr_nets >= VNET_MAX_NICS)
				return bad("--net: at most %d network interfaces", VNET_MAX_NICS);
			if (vnet_parse_arg(optarg, &nets[nr_nets], nerr, sizeof(nerr)))
				return bad("--net '%s': %s", optarg, nerr);
			for (unsigned int i = 0; i < nr_nets; i++)
				if (!strcmp(nets[i].tap, nets[nr_nets].tap) &&
				    !strcmp(nets[i].netns, nets[nr_nets].netns))
					return bad("--net: tap '%s' given twice", nets[i].tap);
			nr_nets++;
			break;
		}
		case O_VSOCK: {
			char verr[192];

			if (cfg.vsock)
				return bad("%s", "--vsock: given twice (one vsock device per VM)");
			if (vsock_parse_arg(optarg, &vsock, verr, sizeof(verr)))
				return bad("--vsock '%s': %s", optarg, verr);
			cfg.vsock = &vsock;
			break;
		}
		case 'v': verbose++; break;
		case 'h':
		case O_HELP:
			usage(stdout);
			return 0;
		case ':':
			return bad("option '%s' needs a value", argv[optind - 1]);
		default:
			return bad("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (cfg.resume_dir && (cfg.kernel || cfg.initrd || cfg.cmdline || cfg.prefer_pvh))
		return bad("%s", "--resume takes the kernel, initrd and cmdline from the snapshot");
	if (cfg.resume_dir && (cfg.nr_drives || nr_nets || cfg.vsock || cfg.no_rng))
		return bad("%s", "--resume takes the devices (--drive, --net, --vsock, --no-rng) from the snapshot");
	if (cfg.verify_memory_first && !cfg.resume_dir)
		return bad("%s", "--verify-memory only goes with --resume");
	if (!cfg.kernel && !cfg.resume_dir)
		return bad("%s", "--kernel PATH is required");
	cfg.nets = nets;
	cfg.nr_nets = nr_nets;
	log_init("haneul-vmm", verbose >= 2 ? LOG_DEBUG : verbose ? LOG_INFO : LOG_WARN);
	return vm_run(&cfg);
}

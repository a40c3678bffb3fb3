/* vmm/vm.c - the VM's life: create, run vCPU threads, serve devices and the
 * control socket, reboot in place, stop (see vm.h).
 *
 * Threads and locking: the main thread runs the event loop (signals, vCPU
 * notifications, console input, shutdown timer, control socket).  One
 * thread per vCPU loops on KVM_RUN.  vm->lock serializes every device model
 * and the run state; vm->wake is broadcast whenever a sleeping vCPU (paused,
 * parked, or in the PV IDLE call) may have something to do.  A vCPU inside
 * KVM_RUN is kicked out with kvm_run->immediate_exit = 1 (set under the
 * lock) plus SIGUSR1, which cannot be lost: either the vCPU has not entered
 * KVM_RUN yet (immediate exit) or the signal interrupts it.
 */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "common/log.h"
#include "vmm/boot/boot.h"
#include "vmm/control.h"
#include "vmm/cpuid.h"
#include "vmm/ctlsock.h"
#include "vmm/dev/console.h"
#include "vmm/dev/i8042.h"
#include "vmm/dev/rtc.h"
#include "vmm/dev/uart.h"
#include "vmm/iobus.h"
#include "vmm/kvm.h"
#include "vmm/mem.h"
#include "vmm/platform.h"
#include "vmm/snap.h"
#include "vmm/snap_dev.h"
#include "vmm/snap_vm.h"
#include "vmm/vcpu.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/rng.h"
#include "vmm/virtio/vbus.h"
#include "vmm/virtio/vnet.h"
#include "vmm/virtio/vsock.h"

#define KICK_SIGNAL SIGUSR1
#define PAUSE_WAIT_S 5

enum run_req { RUN_GO = 0, RUN_PAUSE, RUN_STOP };

/* What the guest (or the host) asked the main loop to do; first one wins. */
enum exit_req { EXIT_NONE = 0, EXIT_POWEROFF, EXIT_REBOOT, EXIT_CRASH, EXIT_FAILED };

/* What the shutdown timer does when it fires. */
enum timer_action { TIMER_NONE = 0, TIMER_FORCE_OFF, TIMER_HARD_REBOOT };

struct vm {
	const struct vm_config *cfg;
	struct kvm kvm;
	struct guest_mem mem;
	struct boot_info boot;
	struct kvm_cpuid2 *cpuid;
	struct kvm_msr_list *msrs;
	struct vcpu vcpus[VCPU_MAX];
	unsigned int nr_vcpus;

	pthread_mutex_t lock;
	pthread_cond_t wake;          /* parked / idle vCPUs */
	pthread_cond_t parked_cond;   /* main waits for vCPUs to park */
	enum run_req run_req;
	unsigned int parked;
	enum exit_req exit_req;
	char exit_why[160];

	struct iobus bus;
	struct uart uart;
	struct i8042 kbd;
	struct rtc rtc;
	struct console con;
	uint32_t pv_events;

	/* virtio-mmio devices (issue 4; vmm/virtio/, docs/virtio.md). */
	struct vbus vbus;
	bool vbus_open;
	uint64_t virtio_used_seq;          /* bumped when a device fills a used ring (vm->lock) */
	uint64_t idle_seen_seq[VCPU_MAX];  /* virtio_used_seq at each vCPU's last PV IDLE */

	int notify_fd;                /* eventfd: a vCPU set exit_req */
	int signal_fd;
	int timer_fd;
	enum timer_action timer_action;
	bool stdin_eof;
	struct ctlsock ctl;
	bool ctl_open;

	uint64_t boot_start_ns;       /* this boot's start (process start for the first) */
	uint64_t ready_us;            /* 0 = guest has not said READY this boot */
	unsigned int reboots;
	bool shutdown_requested;      /* graceful shutdown in progress */
	bool reboot_requested;        /* graceful reboot in progress */
	int final_status;             /* set when the main loop should end */
	bool done;

	/* Hibernate / resume (issue 5; vmm/snap_vm.c, docs/hibernate.md). */
	struct vm_config rcfg;        /* resumed: the command line's cfg + the snapshot's VM */
	struct snap_image *snap;      /* resumed from it: its memory file backs guest RAM */
	int64_t pv_clock_offset_us;   /* PV CLOCK = vm_us() + this (the saved value on resume) */
	pthread_t verify_thread;      /* checks the memory file's chunk CRCs */
	bool verify_started;
	volatile bool verify_stop;
	int verify_result;            /* 1 running, 0 verified, -errno failed (vm->lock) */
};

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t vm_us(const struct vm *vm)
{
	return (vm_now_ns() - vm->cfg->start_ns) / 1000;
}

/* ---- requests from vCPU threads (vm->lock held) ---- */

static void request_exit_locked(struct vm *vm, enum exit_req req, const char *why)
{
	uint64_t one = 1;

	if (vm->exit_req != EXIT_NONE)
		return;
	vm->exit_req = req;
	snprintf(vm->exit_why, sizeof(vm->exit_why), "%s", why);
	if (write(vm->notify_fd, &one, sizeof(one)) < 0)
		log_warn("notify: %s", strerror(errno));
	pthread_cond_broadcast(&vm->wake);
}

static void kick_all_locked(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		v->run->immediate_exit = 1;
		pthread_kill(v->thread, KICK_SIGNAL);
	}
	pthread_cond_broadcast(&vm->wake);
}

/* ---- devices ---- */

static void irq_set(struct vm *vm, unsigned int irq, int level)
{
	if (vm->kvm.vm_fd < 0)
		return;
	if (kvm_irq_line(&vm->kvm, irq, level) < 0)
		log_warn("KVM_IRQ_LINE %u=%d: %s", irq, level, strerror(errno));
}

static void uart_tx_cb(void *opaque, uint8_t b)
{
	struct vm *vm = opaque;

	console_write(&vm->con, &b, 1);
}

static void uart_irq_cb(void *opaque, int level)
{
	irq_set(opaque, PLAT_COM1_IRQ, level);
}

static const struct uart_ops vm_uart_ops = { .tx = uart_tx_cb, .irq = uart_irq_cb };

static void kbd_irq_cb(void *opaque, int level)
{
	irq_set(opaque, PLAT_I8042_IRQ, level);
}

static void kbd_reset_cb(void *opaque)
{
	request_exit_locked(opaque, EXIT_REBOOT, "i8042 CPU reset");
}

static const struct i8042_ops vm_kbd_ops = { .irq = kbd_irq_cb, .reset = kbd_reset_cb };

static uint32_t uart_in(void *opaque, uint16_t off, unsigned int size, unsigned int vcpu)
{
	struct vm *vm = opaque;

	return uart_read(&vm->uart, off);
}

static void uart_out(void *opaque, uint16_t off, unsigned int size, uint32_t val, unsigned int vcpu)
{
	struct vm *vm = opaque;

	uart_write(&vm->uart, off, (uint8_t)val);
}

static uint32_t kbd_data_in(void *opaque, uint16_t off, unsigned int size, unsigned int vcpu)
{
	return i8042_read(&((struct vm *)opaque)->kbd, I8042_OFF_DATA);
}

static void kbd_data_out(void *opaque, uint16_t off, unsigned int size, uint32_t val,
			 unsigned int vcpu)
{
	i8042_write(&((struct vm *)opaque)->kbd, I8042_OFF_DATA, (uint8_t)val);
}

static uint32_t kbd_cmd_in(void *opaque, uint16_t off, unsigned int size, unsigned int vcpu)
{
	return i8042_read(&((struct vm *)opaque)->kbd, I8042_OFF_CMD);
}

static void kbd_cmd_out(void *opaque, uint16_t off, unsigned int size, uint32_t val,
			unsigned int vcpu)
{
	i8042_write(&((struct vm *)opaque)->kbd, I8042_OFF_CMD, (uint8_t)val);
}

static uint32_t rtc_in(void *opaque, uint16_t off, unsigned int size, unsigned int vcpu)
{
	return rtc_read(&((struct vm *)opaque)->rtc, off, time(NULL));
}

static void rtc_out(void *opaque, uint16_t off, unsigned int size, uint32_t val, unsigned int vcpu)
{
	rtc_write(&((struct vm *)opaque)->rtc, off, (uint8_t)val);
}

static uint32_t acpi_in(void *opaque, uint16_t off, unsigned int size, unsigned int vcpu)
{
	/* Sleep status: WAK_STS clear (we never come back from S5); others 0. */
	return 0;
}

static void acpi_out(void *opaque, uint16_t off, unsigned int size, uint32_t val, unsigned int vcpu)
{
	struct vm *vm = opaque;
	uint16_t port = PLAT_ACPI_SLEEP_CTRL + off;

	if (port == PLAT_ACPI_SLEEP_CTRL && (val & PLAT_ACPI_SLP_EN) &&
	    ((val >> 2) & 7) == PLAT_ACPI_S5_TYP)
		request_exit_locked(vm, EXIT_POWEROFF, "ACPI S5");
	else if (port == PLAT_ACPI_RESET_PORT && (val & 0xff) == PLAT_ACPI_RESET_VALUE)
		request_exit_locked(vm, EXIT_REBOOT, "ACPI reset register");
}

/* A virtio device put buffers in a used ring (its worker thread): wake a
 * vCPU sleeping in PV IDLE (the tiny guest polls its queues). */
static void virtio_used_cb(void *opaque)
{
	struct vm *vm = opaque;

	pthread_mutex_lock(&vm->lock);
	vm->virtio_used_seq++;
	pthread_cond_broadcast(&vm->wake);
	pthread_mutex_unlock(&vm->lock);
}

static void pv_idle(struct vm *vm, uint32_t ms, unsigned int vcpu)
{
	struct timespec dl;

	if (ms) {
		uint64_t t = vm_now_ns() + (uint64_t)ms * 1000000ull;

		dl.tv_sec = (time_t)(t / 1000000000ull);
		dl.tv_nsec = (long)(t % 1000000000ull);
	}
	while (vm->run_req == RUN_GO && vm->exit_req == EXIT_NONE &&
	       !uart_rx_pending(&vm->uart) && !vm->pv_events &&
	       vm->idle_seen_seq[vcpu] == vm->virtio_used_seq) {
		if (!ms)
			pthread_cond_wait(&vm->wake, &vm->lock);
		else if (pthread_cond_timedwait(&vm->wake, &vm->lock, &dl) == ETIMEDOUT)
			break;
	}
}

static uint32_t pv_in(void *opaque, uint16_t off, unsigned int size, unsigned int vcpu)
{
	struct vm *vm = opaque;
	struct vcpu *v = &vm->vcpus[vcpu];
	uint16_t port = PLAT_PV_IDLE + off;
	uint64_t us;
	uint32_t ev;

	switch (port) {
	case PLAT_PV_EVENTS:
		ev = vm->pv_events;
		vm->pv_events = 0;
		return ev;
	case PLAT_PV_CLOCK_LO:
		us = (uint64_t)((int64_t)vm_us(vm) + vm->pv_clock_offset_us);
		v->clock_hi_latch = (uint32_t)(us >> 32);
		return (uint32_t)us;
	case PLAT_PV_CLOCK_HI:
		return v->clock_hi_latch;
	default:
		return 0xffffffffu;
	}
}

static void pv_out(void *opaque, uint16_t off, unsigned int size, uint32_t val, unsigned int vcpu)
{
	struct vm *vm = opaque;
	uint16_t port = PLAT_PV_IDLE + off;

	if (port == PLAT_PV_IDLE) {
		pv_idle(vm, val, vcpu);
		vm->idle_seen_seq[vcpu] = vm->virtio_used_seq;
	} else if (port == PLAT_PV_READY && !vm->ready_us) {
		vm->ready_us = (vm_now_ns() - vm->boot_start_ns) / 1000;
		if (!vm->ready_us)
			vm->ready_us = 1;
		log_info("guest ready after %" PRIu64 " us", vm->ready_us);
	}
}

static int register_devices(struct vm *vm)
{
	const struct iobus_dev devs[] = {
		{ "com1", PLAT_COM1_PORT, 8, vm, uart_in, uart_out },
		{ "i8042-data", PLAT_I8042_DATA, 1, vm, kbd_data_in, kbd_data_out },
		{ "i8042-cmd", PLAT_I8042_CMD, 1, vm, kbd_cmd_in, kbd_cmd_out },
		{ "rtc", RTC_PORT_INDEX, 2, vm, rtc_in, rtc_out },
		{ "acpi-pm", PLAT_ACPI_SLEEP_CTRL, 3, vm, acpi_in, acpi_out },
		{ "haneul-pv", PLAT_PV_IDLE, PLAT_PV_READY + 4 - PLAT_PV_IDLE, vm, pv_in, pv_out },
		/* POST codes: ignored. */
		{ "post", 0x80, 1, vm, NULL, NULL },
		/* PCI configuration mechanism #1 with no host bridge: all-ones. */
		{ "pci-cfg", 0xcf8, 8, vm, NULL, NULL },
	};

	iobus_init(&vm->bus);
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		int r = iobus_register(&vm->bus, &devs[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- vCPU threads ---- */

static void handle_io(struct vm *vm, struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned int size = run->io.size;
	uint64_t end = (uint64_t)run->io.data_offset + (uint64_t)run->io.count * size;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if ((size != 1 && size != 2 && size != 4) || end > v->run_size)
		return;
	pthread_mutex_lock(&vm->lock);
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint32_t val = 0;

		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&val, data, size);
			iobus_out(&vm->bus, run->io.port, size, val, v->index);
		} else {
			val = iobus_in(&vm->bus, run->io.port, size, v->index);
			memcpy(data, &val, size);
		}
	}
	pthread_mutex_unlock(&vm->lock);
}

static void vcpu_fail(struct vm *vm, struct vcpu *v, enum exit_req req, const char *why)
{
	log_err("vcpu %u: %s", v->index, why);
	if (req == EXIT_CRASH)
		vcpu_log_state(v, &vm->kvm);
	pthread_mutex_lock(&vm->lock);
	request_exit_locked(vm, req, why);
	pthread_mutex_unlock(&vm->lock);
}

static void handle_exit(struct vm *vm, struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[160];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vm, v);
		break;
	case KVM_EXIT_MMIO:
		/* virtio-mmio slots and their hotplug registers (vbus locks
		 * itself; vm->lock is not taken).  Anything else reads all-ones. */
		if (run->mmio.len <= sizeof(run->mmio.data) &&
		    vbus_mmio(&vm->vbus, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			      run->mmio.is_write))
			break;
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		break;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		break;
	case KVM_EXIT_SHUTDOWN:
		/* Triple fault: a PC resets. Linux uses this as a last-resort reboot. */
		log_warn("vcpu %u: triple fault (KVM_EXIT_SHUTDOWN): resetting", v->index);
		pthread_mutex_lock(&vm->lock);
		request_exit_locked(vm, EXIT_REBOOT, "triple fault");
		pthread_mutex_unlock(&vm->lock);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		pthread_mutex_lock(&vm->lock);
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			request_exit_locked(vm, EXIT_POWEROFF, "system event: shutdown");
		else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			request_exit_locked(vm, EXIT_REBOOT, "system event: reset");
		else if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH)
			request_exit_locked(vm, EXIT_CRASH, "system event: guest crash");
		pthread_mutex_unlock(&vm->lock);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u%s",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "");
		vcpu_fail(vm, v, EXIT_CRASH, why);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fail(vm, v, EXIT_CRASH, why);
		break;
	default:
		snprintf(why, sizeof(why), "unexpected exit reason %u (%s)", run->exit_reason,
			 vcpu_exit_name(run->exit_reason) ? vcpu_exit_name(run->exit_reason) : "?");
		vcpu_fail(vm, v, EXIT_CRASH, why);
		break;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;

	for (;;) {
		bool synced = false;
		int r;

		pthread_mutex_lock(&vm->lock);
		v->run->immediate_exit = 0;
		/* Park while paused, or once the VM is on its way out. */
		while (vm->run_req == RUN_PAUSE ||
		       (vm->run_req == RUN_GO && vm->exit_req != EXIT_NONE)) {
			if (vm->run_req == RUN_PAUSE && !synced) {
				/* KVM finishes an I/O exit (IN data into RAX, RIP)
				 * only on the next KVM_RUN: do that now with an
				 * immediate exit, so the parked vCPU's state is
				 * complete for a snapshot (KVM API doc, immediate_exit). */
				v->run->immediate_exit = 1;
				(void)ioctl(v->fd, KVM_RUN, NULL);
				v->run->immediate_exit = 0;
				synced = true;
			}
			vm->parked++;
			pthread_cond_broadcast(&vm->parked_cond);
			pthread_cond_wait(&vm->wake, &vm->lock);
			vm->parked--;
		}
		if (vm->run_req == RUN_STOP) {
			pthread_mutex_unlock(&vm->lock);
			break;
		}
		pthread_mutex_unlock(&vm->lock);

		r = ioctl(v->fd, KVM_RUN, NULL);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->exits[VCPU_EXIT_EINTR]++;
				continue;
			}
			char why[96];

			snprintf(why, sizeof(why), "KVM_RUN: %s", strerror(errno));
			vcpu_fail(vm, v, EXIT_FAILED, why);
			continue;
		}
		if (v->run->exit_reason < VCPU_EXIT_REASONS)
			v->exits[v->run->exit_reason]++;
		handle_exit(vm, v);
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN */
}

/* Stop and join every vCPU thread (main thread). */
static void stop_vcpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->run_req = RUN_STOP;
	kick_all_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->thread_started) {
			pthread_join(v->thread, NULL);
			v->thread_started = false;
		}
	}
}

static void destroy_machine(struct vm *vm)
{
	stop_vcpus(vm);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i], &vm->kvm);
	kvm_destroy_vm(&vm->kvm);
	if (vm->vbus_open)
		vbus_vm_destroyed(&vm->vbus);   /* devices reset; their irqfds died with the VM */
}

/* Load the kernel into (zeroed) memory, create the KVM VM and vCPUs, start
 * the threads.  Returns 0 or -errno with the reason logged. */
static int start_machine(struct vm *vm, bool paused)
{
	struct boot_opts bo = {
		.kernel_path = vm->cfg->kernel, .initrd_path = vm->cfg->initrd,
		.cmdline = vm->cfg->cmdline, .nr_vcpus = vm->nr_vcpus,
		.prefer_pvh = vm->cfg->prefer_pvh,
	};
	struct boot_virtio_mmio vio[PLAT_VIRTIO_MMIO_SLOTS];
	struct boot_hotplug hp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct vcpu_setup vs;
	char err[256] = "";
	int r;

	/* Every virtio slot goes in the DSDT, used or not (hotplug). */
	vbus_boot_desc(&vm->vbus, vio, &bo.nr_virtio_mmio, &hp);
	bo.virtio_mmio = vio;
	bo.hotplug = &hp;
	memset(&vm->boot, 0, sizeof(vm->boot));
	r = boot_load(&vm->mem, &bo, &vm->boot, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err[0] ? err : strerror(-r));
		return r;
	}
	memset(&regs, 0, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	boot_bsp_regs(&vm->boot, &regs, &sregs);
	r = kvm_create_vm(&vm->kvm, &vm->mem, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return r;
	}
	r = vbus_vm_created(&vm->vbus, &vm->kvm);
	if (r < 0) {
		log_err("virtio: KVM_IRQFD: %s", strerror(-r));
		kvm_destroy_vm(&vm->kvm);
		return r;
	}
	vs = (struct vcpu_setup){
		.cpuid = vm->cpuid, .msr_list = vm->msrs, .nr_vcpus = vm->nr_vcpus,
		.tsc_deadline = vm->kvm.tsc_deadline, .bsp_regs = &regs, .bsp_sregs = &sregs,
	};
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_create(&vm->vcpus[i], &vm->kvm, i, &vs, err, sizeof(err));
		vm->vcpus[i].vm = vm;
		if (r < 0) {
			log_err("%s", err);
			goto destroy;
		}
	}
	vm->run_req = paused ? RUN_PAUSE : RUN_GO;
	vm->exit_req = EXIT_NONE;
	vm->exit_why[0] = '\0';
	vm->ready_us = 0;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		r = -pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (r < 0) {
			log_err("vcpu %u: pthread_create: %s", i, strerror(-r));
			goto destroy;
		}
		v->thread_started = true;
		v->has_cpu_clock = pthread_getcpuclockid(v->thread, &v->cpu_clock) == 0;
	}
	return 0;

destroy:
	destroy_machine(vm);
	return r;
}

static void forget_snapshot(struct vm *vm);

/* Hard reset: new KVM VM, zeroed memory, fresh devices; the console ring,
 * control clients and counters stay. */
static int reboot_machine(struct vm *vm)
{
	/* A VM paused by its owner stays paused across a reset it had
	 * already requested; resume starts the new boot. */
	bool paused = vm->run_req == RUN_PAUSE;

	destroy_machine(vm);
	forget_snapshot(vm); /* resumed: RAM was the snapshot file's, make it anonymous */
	/* Private anonymous memory reads as zeros again after MADV_DONTNEED,
	 * which boot_load() expects, and the guest's old pages are freed. */
	if (madvise(vm->mem.base, vm->mem.size, MADV_DONTNEED) < 0) {
		log_err("madvise(MADV_DONTNEED) on guest memory: %s", strerror(errno));
		return -errno;
	}
	pthread_mutex_lock(&vm->lock);
	uart_reset(&vm->uart);
	i8042_reset(&vm->kbd);
	rtc_init(&vm->rtc);
	vm->pv_events = 0;
	pthread_mutex_unlock(&vm->lock);
	vm->reboots++;
	vm->boot_start_ns = vm_now_ns();
	vm->shutdown_requested = false;
	vm->reboot_requested = false;
	vm->timer_action = TIMER_NONE;
	(void)timerfd_settime(vm->timer_fd, 0, &(struct itimerspec){ 0 }, NULL);
	fprintf(stderr, "haneul-vmm: guest rebooted\n");
	return start_machine(vm, paused);
}

/* ---- pause / resume / shutdown (main thread) ---- */

static int pause_vcpus(struct vm *vm)
{
	struct timespec dl;
	uint64_t t = vm_now_ns() + PAUSE_WAIT_S * 1000000000ull;
	int r = 0;

	dl.tv_sec = (time_t)(t / 1000000000ull);
	dl.tv_nsec = (long)(t % 1000000000ull);
	pthread_mutex_lock(&vm->lock);
	vm->run_req = RUN_PAUSE;
	kick_all_locked(vm);
	while (vm->parked < vm->nr_vcpus && r == 0)
		r = pthread_cond_timedwait(&vm->parked_cond, &vm->lock, &dl);
	if (vm->parked < vm->nr_vcpus) {
		/* Leave them running rather than half paused. */
		vm->run_req = RUN_GO;
		pthread_cond_broadcast(&vm->wake);
		r = -ETIMEDOUT;
	} else {
		r = 0;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static void resume_vcpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->run_req == RUN_PAUSE)
		vm->run_req = RUN_GO;
	pthread_cond_broadcast(&vm->wake);
	pthread_mutex_unlock(&vm->lock);
}

static void arm_timer(struct vm *vm, double secs, enum timer_action a)
{
	struct itimerspec its = { 0 };
	uint64_t ns = (uint64_t)(secs * 1e9);

	if (ns == 0)
		ns = 1; /* 0 would disarm: fire at once instead */
	its.it_value.tv_sec = (time_t)(ns / 1000000000ull);
	its.it_value.tv_nsec = (long)(ns % 1000000000ull);
	vm->timer_action = a;
	if (timerfd_settime(vm->timer_fd, 0, &its, NULL) < 0)
		log_warn("timerfd_settime: %s", strerror(errno));
}

static void finish(struct vm *vm, int status)
{
	if (!vm->done) {
		vm->done = true;
		vm->final_status = status;
	}
}

static void force_off(struct vm *vm, const char *why)
{
	fprintf(stderr, "haneul-vmm: guest forced off (%s)\n", why);
	finish(vm, VM_EXIT_FORCED_OFF);
}

/* Graceful shutdown: Ctrl-Alt-Del for Linux, the PV event for PV guests,
 * then force off after `secs`. */
static void begin_shutdown(struct vm *vm, double secs)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->run_req == RUN_PAUSE)
		vm->run_req = RUN_GO; /* a paused guest cannot shut down */
	vm->pv_events |= PLAT_PV_EV_SHUTDOWN;
	if (i8042_ctrl_alt_del(&vm->kbd) < 0)
		log_warn("shutdown: keyboard queue full, Ctrl-Alt-Del not sent");
	pthread_cond_broadcast(&vm->wake);
	pthread_mutex_unlock(&vm->lock);
	vm->shutdown_requested = true;
	log_info("graceful shutdown requested; forcing off in %.1f s", secs);
	arm_timer(vm, secs, TIMER_FORCE_OFF);
}

/* Graceful reboot (PV guests that said READY): the PV event, then a hard
 * reset after `secs`.  Others are reset at once. */
static void hard_reboot_request(struct vm *vm, const char *why)
{
	pthread_mutex_lock(&vm->lock);
	request_exit_locked(vm, EXIT_REBOOT, why);
	pthread_mutex_unlock(&vm->lock);
}

/* ---- control requests ---- */

static const char *state_name(const struct vm *vm)
{
	if (vm->run_req == RUN_PAUSE)
		return "paused";
	if (vm->shutdown_requested)
		return "shutting-down";
	if (vm->reboot_requested)
		return "rebooting";
	return "running";
}

static char *reply_obj(json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return s;
}

static json_object *ok_obj(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

static char *do_status(struct vm *vm)
{
	json_object *o = ok_obj();

	pthread_mutex_lock(&vm->lock);
	json_object_object_add(o, "state", json_object_new_string(state_name(vm)));
	pthread_mutex_unlock(&vm->lock);
	json_object_object_add(o, "vcpus", json_object_new_int((int)vm->nr_vcpus));
	json_object_object_add(o, "mem", json_object_new_int64((int64_t)vm->mem.size));
	json_object_object_add(o, "uptime_us", json_object_new_int64((int64_t)vm_us(vm)));
	json_object_object_add(o, "boot_uptime_us",
			       json_object_new_int64((int64_t)((vm_now_ns() - vm->boot_start_ns) / 1000)));
	json_object_object_add(o, "reboots", json_object_new_int((int)vm->reboots));
	json_object_object_add(o, "ready_us", vm->ready_us ? json_object_new_int64((int64_t)vm->ready_us)
							  : NULL);
	json_object_object_add(o, "kernel_format", json_object_new_string(vm->boot.format));
	json_object_object_add(o, "boot_mode", json_object_new_string(
		vm->boot.mode == BOOT_MODE_PVH32 ? "pvh32" : "linux64"));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	if (vm->vbus_open)
		vbus_describe(&vm->vbus, o);
	return reply_obj(o);
}

/* ---- virtio devices (issue 4) ---- */

/* Open, lock and plug in a drive.  `hot`: the guest is running.  Returns
 * the slot or -errno with err filled. */
static int add_drive(struct vm *vm, const char *file, const char *id, bool readonly, bool pinned,
		     bool hot, char *err, size_t errlen)
{
	struct vblk_cfg bc = { .file = file, .id = id, .readonly = readonly };
	struct virtio_dev *d;

	if (vbus_find(&vm->vbus, id) >= 0) {
		snprintf(err, errlen, "id '%s' is already attached", id);
		return -EEXIST;
	}
	d = vblk_new(&bc, &vm->mem, err, errlen);
	if (!d)
		return -errno;
	return vbus_add(&vm->vbus, d, id, pinned, hot, err, errlen);
}

static int create_virtio(struct vm *vm)
{
	char err[512];
	int r;

	r = vbus_init(&vm->vbus, &vm->mem);
	if (r < 0) {
		log_err("virtio bus: %s", strerror(-r));
		return r;
	}
	vm->vbus_open = true;
	vm->vbus.used_cb = virtio_used_cb;
	vm->vbus.used_opaque = vm;
	if (vm->snap) {
		/* --resume: the devices the guest had, each in its slot (main.c
		 * refuses device options with --resume). */
		r = vbus_snap_create(&vm->vbus, &vm->snap->file, err, sizeof(err));
		if (r < 0) {
			log_err("resume: %s", err);
			fprintf(stderr, "haneul-vmm: cannot resume from %s: %s\n", vm->cfg->resume_dir, err);
		}
		return r;
	}
	for (unsigned int i = 0; i < vm->cfg->nr_drives; i++) {
		const struct vm_drive *dr = &vm->cfg->drives[i];

		/* The first drive is the root (/dev/vda): detaching it needs force. */
		r = add_drive(vm, dr->file, dr->id, dr->readonly, i == 0, false, err, sizeof(err));
		if (r < 0) {
			log_err("--drive %s: %s", dr->id, err);
			return r;
		}
	}
	if (!vm->cfg->no_rng) {
		struct virtio_dev *d = vrng_new(&vm->mem);

		if (!d) {
			log_err("virtio-rng: %s", strerror(errno));
			return -errno;
		}
		r = vbus_add(&vm->vbus, d, "rng0", false, false, err, sizeof(err));
		if (r < 0) {
			log_err("virtio-rng: %s", err);
			return r;
		}
	}
	for (unsigned int i = 0; i < vm->cfg->nr_nets; i++) {
		char id[16];
		struct virtio_dev *d = vnet_new(&vm->cfg->nets[i], i, &vm->mem, err, sizeof(err));

		if (!d) {
			log_err("--net tap=%s: %s", vm->cfg->nets[i].tap, err);
			return -errno;
		}
		snprintf(id, sizeof(id), "net%u", i);
		r = vbus_add(&vm->vbus, d, id, false, false, err, sizeof(err));
		if (r < 0) {
			log_err("--net tap=%s: %s", vm->cfg->nets[i].tap, err);
			return r;
		}
	}
	if (vm->cfg->vsock) {
		struct virtio_dev *d = vsock_new(vm->cfg->vsock, &vm->mem, err, sizeof(err));

		if (!d) {
			log_err("%s", err);
			return -errno;
		}
		r = vbus_add(&vm->vbus, d, "vsock0", false, false, err, sizeof(err));
		if (r < 0) {
			log_err("--vsock: %s", err);
			return r;
		}
	}
	return 0;
}

static char *do_attach_drive(struct vm *vm, const struct ctl_req *req)
{
	char err[512];
	json_object *o;
	int r = add_drive(vm, req->file, req->id, req->readonly, false, true, err, sizeof(err));

	if (r < 0)
		return ctl_error_reply(err);
	o = ok_obj();
	json_object_object_add(o, "id", json_object_new_string(req->id));
	json_object_object_add(o, "slot", json_object_new_int(r));
	json_object_object_add(o, "state", json_object_new_string("attached"));
	return reply_obj(o);
}

static char *do_detach_drive(struct vm *vm, const struct ctl_req *req)
{
	char err[256];
	json_object *o;
	int r = vbus_remove(&vm->vbus, req->id, req->force, err, sizeof(err));

	if (r < 0)
		return ctl_error_reply(err);
	o = ok_obj();
	json_object_object_add(o, "id", json_object_new_string(req->id));
	/* "detaching": the guest was asked to let go and finishes it
	 * (status lists the drive until then). */
	json_object_object_add(o, "state", json_object_new_string(r == 0 ? "detached" : "detaching"));
	return reply_obj(o);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64(const uint8_t *p, size_t n)
{
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* Copy bytes as text: valid UTF-8 kept, other bytes (and NUL) become '?'. */
static char *sanitize_text(const uint8_t *p, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = len > 0 && i + len <= n && c != 0 && !(len == 2 && c < 0xc2);

		for (size_t j = 1; ok && j < len; j++)
			ok = (p[i + j] & 0xc0) == 0x80;
		if (!ok) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, p + i, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	return out;
}

static char *do_console(struct vm *vm, size_t want)
{
	uint8_t *buf = malloc(CONSOLE_RING_SIZE);
	char *txt = NULL, *enc = NULL;
	json_object *o;
	uint64_t total;
	size_t n;

	if (!buf)
		return NULL;
	pthread_mutex_lock(&vm->lock);
	n = console_ring_tail(&vm->con, want, buf);
	total = vm->con.total;
	pthread_mutex_unlock(&vm->lock);
	txt = sanitize_text(buf, n);
	enc = base64(buf, n);
	free(buf);
	if (!txt || !enc) {
		free(txt);
		free(enc);
		return NULL;
	}
	o = ok_obj();
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "total", json_object_new_int64((int64_t)total));
	json_object_object_add(o, "data", json_object_new_string(txt));
	json_object_object_add(o, "base64", json_object_new_string(enc));
	free(txt);
	free(enc);
	return reply_obj(o);
}

static int64_t rss_bytes(void)
{
	long pages_total, pages_res;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%ld %ld", &pages_total, &pages_res);
	fclose(f);
	return n == 2 ? (int64_t)pages_res * sysconf(_SC_PAGESIZE) : -1;
}

/* Bytes of guest RAM resident in this process (mincore over the mapping). */
static int64_t guest_resident(const struct guest_mem *gm)
{
	const size_t chunk = 1ull << 30;
	long psz = sysconf(_SC_PAGESIZE);
	unsigned char *vec = malloc(chunk / (size_t)psz);
	int64_t res = 0;

	if (!vec)
		return -1;
	for (uint64_t off = 0; off < gm->size; off += chunk) {
		size_t len = gm->size - off < chunk ? (size_t)(gm->size - off) : chunk;
		size_t pages = (len + (size_t)psz - 1) / (size_t)psz;

		if (mincore(gm->base + off, len, vec) < 0) {
			res = -1;
			break;
		}
		for (size_t i = 0; i < pages; i++)
			res += (vec[i] & 1) ? psz : 0;
	}
	free(vec);
	return res;
}

static char *do_metrics(struct vm *vm)
{
	json_object *o = ok_obj(), *arr = json_object_new_array();
	int64_t rss = rss_bytes(), guest = guest_resident(&vm->mem);

	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		json_object *jv = json_object_new_object(), *ex = json_object_new_object();
		struct timespec ts;
		int64_t ns = -1;

		if (v->thread_started && v->has_cpu_clock && clock_gettime(v->cpu_clock, &ts) == 0)
			ns = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
		for (unsigned int r = 0; r <= VCPU_EXIT_REASONS; r++) {
			uint64_t c = __atomic_load_n(&v->exits[r], __ATOMIC_RELAXED);
			const char *name = vcpu_exit_name(r);
			char buf[24];

			if (!c)
				continue;
			if (!name) {
				snprintf(buf, sizeof(buf), "reason_%u", r);
				name = buf;
			}
			json_object_object_add(ex, name, json_object_new_int64((int64_t)c));
		}
		json_object_object_add(jv, "id", json_object_new_int((int)i));
		json_object_object_add(jv, "cpu_ns", json_object_new_int64(ns));
		json_object_object_add(jv, "exits", ex);
		json_object_array_add(arr, jv);
	}
	json_object_object_add(o, "vcpus", arr);
	json_object_object_add(o, "rss_bytes", json_object_new_int64(rss));
	json_object_object_add(o, "guest_resident_bytes", json_object_new_int64(guest));
	json_object_object_add(o, "vmm_overhead_bytes",
			       json_object_new_int64(rss >= 0 && guest >= 0 ? rss - guest : -1));
	json_object_object_add(o, "uptime_us", json_object_new_int64((int64_t)vm_us(vm)));
	json_object_object_add(o, "ready_us", vm->ready_us ? json_object_new_int64((int64_t)vm->ready_us)
							  : NULL);
	json_object_object_add(o, "reboots", json_object_new_int((int)vm->reboots));
	pthread_mutex_lock(&vm->lock);
	json_object_object_add(o, "console_tx_bytes", json_object_new_int64((int64_t)vm->uart.tx_bytes));
	json_object_object_add(o, "console_rx_bytes", json_object_new_int64((int64_t)vm->uart.rx_bytes));
	pthread_mutex_unlock(&vm->lock);
	return reply_obj(o);
}

/* ---- hibernate / resume (issue 5; the format and KVM state are
 * vmm/snap_vm.c, the choices docs/hibernate.md) ---- */

/* The devices a snapshot carries, in a fixed order: the legacy ones, then
 * the virtio bus and its slots.  `pv` must live as long as the returned
 * entries are used. */
#define SNAP_DEVS_MAX (4 + 1 + PLAT_VIRTIO_MMIO_SLOTS)
static unsigned int snap_devices(struct vm *vm, struct snap_pv *pv, struct snap_dev *devs)
{
	unsigned int n = 0;

	devs[n++] = (struct snap_dev){ &snap_uart_ops, &vm->uart, 0 };
	devs[n++] = (struct snap_dev){ &snap_i8042_ops, &vm->kbd, 0 };
	devs[n++] = (struct snap_dev){ &snap_rtc_ops, &vm->rtc, 0 };
	devs[n++] = (struct snap_dev){ &snap_pv_ops, pv, 0 };
	if (vm->vbus_open)
		n += vbus_snap_devs(&vm->vbus, devs + n);
	return n;
}

static void *verify_main(void *arg)
{
	struct vm *vm = arg;
	uint32_t bad = 0;
	char why[160];
	int r = snap_verify_memory(vm->snap, &vm->verify_stop, &bad);

	pthread_mutex_lock(&vm->lock);
	vm->verify_result = r;
	if (r < 0 && r != -ECANCELED) {
		if (r == -EBADMSG)
			snprintf(why, sizeof(why), "snapshot memory file is corrupt (chunk %" PRIu32
				 " at offset 0x%llx fails its checksum): guest stopped", bad,
				 (unsigned long long)bad << SNAP_MEM_CHUNK_SHIFT);
		else
			snprintf(why, sizeof(why), "reading the snapshot memory file: %s: guest stopped",
				 strerror(-r));
		request_exit_locked(vm, EXIT_FAILED, why);
	} else if (r == 0) {
		log_info("snapshot memory verified (%" PRIu32 " chunks)", vm->snap->memt.nr_chunks);
	}
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

static void stop_verify(struct vm *vm)
{
	if (vm->verify_started) {
		vm->verify_stop = true;
		pthread_join(vm->verify_thread, NULL);
		vm->verify_started = false;
	}
}

/* A guest reset of a resumed VM: guest RAM goes back to anonymous zeroed
 * memory and the snapshot is let go (the files stay as they are). */
static void forget_snapshot(struct vm *vm)
{
	if (!vm->snap)
		return;
	stop_verify(vm);
	if (mmap(vm->mem.base, vm->mem.size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		log_warn("remapping guest memory anonymous: %s", strerror(errno));
	(void)madvise(vm->mem.base, vm->mem.size, MADV_DONTFORK);
	snap_close(vm->snap);
	free(vm->snap);
	vm->snap = NULL;
}

/* --resume: read and validate the snapshot before anything else is set up;
 * *cfgp then points at vm->rcfg (the snapshot's kernel, vCPUs, memory). */
static int resume_open(struct vm *vm, const struct vm_config **cfgp)
{
	const struct vm_config *cfg = *cfgp;
	struct snap_image *img = calloc(1, sizeof(*img));
	char err[512];
	int r;

	if (!img)
		return -ENOMEM;
	r = snap_open(cfg->resume_dir, img, err, sizeof(err));
	if (r == 0) {
		r = snap_check_host(img, &vm->kvm, vm->cpuid, err, sizeof(err));
		if (r < 0)
			snap_close(img);
	}
	if (r < 0) {
		log_err("resume: %s", err);
		fprintf(stderr, "haneul-vmm: cannot resume from %s: %s\n", cfg->resume_dir, err);
		free(img);
		return r;
	}
	vm->snap = img;
	vm->rcfg = *cfg;
	vm->rcfg.kernel = img->meta.kernel;
	vm->rcfg.initrd = img->meta.initrd;
	vm->rcfg.cmdline = img->meta.cmdline;
	vm->rcfg.nr_vcpus = img->meta.nr_vcpus;
	vm->rcfg.mem_size = img->meta.mem_size;
	vm->rcfg.prefer_pvh = img->meta.flags & SNAP_META_PREFER_PVH;
	vm->cfg = &vm->rcfg;
	vm->nr_vcpus = img->meta.nr_vcpus;
	*cfgp = &vm->rcfg;
	return 0;
}

/* Build the VM from vm->snap instead of booting: memory mapped lazily from
 * the file, KVM state restored in order, devices, then the vCPU threads. */
static int resume_machine(struct vm *vm)
{
	struct snap_image *img = vm->snap;
	struct snap_dev devs[SNAP_DEVS_MAX];
	struct snap_pv pv = { .nr_vcpus = vm->nr_vcpus };
	unsigned int ndev;
	uint32_t bad = 0;
	char err[512];
	int r;

	r = snap_map_memory(img, &vm->mem, err, sizeof(err));
	if (r < 0)
		goto fail;
	if (vm->cfg->verify_memory_first) {
		r = snap_verify_memory(img, NULL, &bad);
		if (r < 0) {
			if (r == -EBADMSG)
				snprintf(err, sizeof(err), "memory file is corrupt (chunk %" PRIu32
					 " fails its checksum)", bad);
			else
				snprintf(err, sizeof(err), "memory file: %s", strerror(-r));
			goto fail;
		}
		vm->verify_result = 0;
	}
	r = kvm_create_vm(&vm->kvm, &vm->mem, err, sizeof(err));
	if (r < 0)
		goto fail;
	if (vm->vbus_open && (r = vbus_vm_created(&vm->vbus, &vm->kvm)) < 0) {
		snprintf(err, sizeof(err), "virtio: KVM_IRQFD: %s", strerror(-r));
		goto destroy;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		r = snap_vcpu_create(&vm->vcpus[i], &vm->kvm, i, err, sizeof(err));
		vm->vcpus[i].vm = vm;
		if (r == 0)
			r = snap_restore_vcpu(img, &vm->kvm, &vm->vcpus[i], err, sizeof(err));
		if (r < 0)
			goto destroy;
	}
	r = snap_restore_vm(img, &vm->kvm, err, sizeof(err));
	if (r < 0)
		goto destroy;
	ndev = snap_devices(vm, &pv, devs);
	pthread_mutex_lock(&vm->lock);
	r = snap_restore_devs(img, devs, ndev, err, sizeof(err));
	if (r == 0) {
		vm->pv_events = pv.events;
		for (unsigned int i = 0; i < vm->nr_vcpus; i++)
			vm->vcpus[i].clock_hi_latch = pv.clock_hi_latch[i];
	}
	pthread_mutex_unlock(&vm->lock);
	if (r < 0)
		goto destroy;
	/* Queues the guest filled meanwhile, interrupts it has not seen. */
	if (vm->vbus_open)
		vbus_snap_resumed(&vm->vbus);
	memset(&vm->boot, 0, sizeof(vm->boot));
	vm->boot.mode = (enum boot_mode)img->meta.boot_mode;
	memcpy(vm->boot.format, img->meta.boot_format, sizeof(vm->boot.format));
	vm->reboots = img->meta.reboots;
	vm->run_req = (img->meta.flags & SNAP_META_PAUSED) ? RUN_PAUSE : RUN_GO;
	vm->exit_req = EXIT_NONE;
	vm->exit_why[0] = '\0';
	/* PV CLOCK continues from the saved value (time hibernated is not
	 * counted); kvmclock was moved by the wall time away (snap_restore_vm). */
	vm->pv_clock_offset_us = (int64_t)img->meta.pv_clock_us - (int64_t)vm_us(vm);
	vm->ready_us = img->meta.ready_us;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		r = -pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (r < 0) {
			snprintf(err, sizeof(err), "vcpu %u: pthread_create: %s", i, strerror(-r));
			goto destroy;
		}
		v->thread_started = true;
		v->has_cpu_clock = pthread_getcpuclockid(v->thread, &v->cpu_clock) == 0;
	}
	if (!vm->cfg->verify_memory_first) {
		vm->verify_result = 1;
		r = -pthread_create(&vm->verify_thread, NULL, verify_main, vm);
		if (r < 0) {
			snprintf(err, sizeof(err), "memory verifier thread: %s", strerror(-r));
			goto destroy;
		}
		vm->verify_started = true;
	}
	return 0;

destroy:
	destroy_machine(vm);
fail:
	log_err("resume: %s", err);
	fprintf(stderr, "haneul-vmm: cannot resume from %s: %s\n", vm->cfg->resume_dir, err);
	return r;
}

/* Control "hibernate": park the vCPUs, save everything into dir, exit 4.
 * On any error the VM goes on as it was (running or paused). */
static char *do_hibernate(struct vm *vm, const char *dir)
{
	bool was_paused = vm->run_req == RUN_PAUSE;
	struct snap_meta meta = { 0 };
	struct snap_dev devs[SNAP_DEVS_MAX];
	struct snap_pv pv = { 0 };
	struct snap_vm sv;
	unsigned int ndev;
	char err[512], msg[600];
	int vr, r;

	/* A resumed VM's memory file must be known good before it is copied
	 * into a new snapshot: wait for the verifier (a bounded file read). */
	if (vm->verify_started) {
		pthread_join(vm->verify_thread, NULL);
		vm->verify_started = false;
	}
	pthread_mutex_lock(&vm->lock);
	vr = vm->verify_result;
	pthread_mutex_unlock(&vm->lock);
	if (vr != 0)
		return ctl_error_reply("the snapshot this VM resumed from failed verification");
	if (vm->shutdown_requested || vm->reboot_requested)
		return ctl_error_reply("a shutdown or reboot is in progress");
	/* Every virtio device must be re-creatable by the resuming process. */
	if (vm->vbus_open && vbus_snap_check(&vm->vbus, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "%s; nothing was changed", err);
		return ctl_error_reply(msg);
	}
	if (!was_paused && pause_vcpus(vm) < 0)
		return ctl_error_reply("vCPUs did not stop within 5 s; still running");
	pthread_mutex_lock(&vm->lock);
	if (vm->exit_req != EXIT_NONE) {
		/* The guest powered off/reset/crashed meanwhile: let that win. */
		pthread_mutex_unlock(&vm->lock);
		if (!was_paused)
			resume_vcpus(vm);
		return ctl_error_reply("the guest is stopping or resetting");
	}
	pthread_mutex_unlock(&vm->lock);
	/* Devices next, before any state is read: no request may complete
	 * (into guest RAM, the irqchip or a disk) after the vCPUs and
	 * memory are saved.  Acknowledged writes are fdatasync'd here. */
	if (vm->vbus_open && (r = vbus_freeze(&vm->vbus, err, sizeof(err))) < 0) {
		log_err("hibernate: %s", err);
		if (!was_paused)
			resume_vcpus(vm);
		snprintf(msg, sizeof(msg), "hibernate failed: %s (the VM keeps %s)", err,
			 was_paused ? "paused" : "running");
		return ctl_error_reply(msg);
	}
	pthread_mutex_lock(&vm->lock);
	pv.events = vm->pv_events;
	pv.nr_vcpus = vm->nr_vcpus;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		pv.clock_hi_latch[i] = vm->vcpus[i].clock_hi_latch;
	meta.pv_clock_us = (uint64_t)((int64_t)vm_us(vm) + vm->pv_clock_offset_us);
	pthread_mutex_unlock(&vm->lock);
	meta.mem_size = vm->mem.size;
	meta.nr_vcpus = vm->nr_vcpus;
	meta.flags = (was_paused ? SNAP_META_PAUSED : 0) | (vm->cfg->prefer_pvh ? SNAP_META_PREFER_PVH : 0);
	meta.ready_us = vm->ready_us;
	meta.reboots = vm->reboots;
	meta.boot_mode = (uint32_t)vm->boot.mode;
	memcpy(meta.boot_format, vm->boot.format, sizeof(meta.boot_format));
	meta.boot_format[sizeof(meta.boot_format) - 1] = '\0';
	meta.kernel = (char *)vm->cfg->kernel;
	meta.initrd = (char *)vm->cfg->initrd;
	meta.cmdline = (char *)vm->cfg->cmdline;
	r = vm->kvm.ops->ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, NULL);
	meta.tsc_khz = r > 0 ? (uint32_t)r : 0;
	ndev = snap_devices(vm, &pv, devs);
	sv = (struct snap_vm){
		.kvm = &vm->kvm, .mem = &vm->mem, .vcpus = vm->vcpus, .nr_vcpus = vm->nr_vcpus,
		.devs = devs, .nr_devs = ndev, .mem_src_fd = vm->snap ? vm->snap->mem_fd : -1,
		.src = vm->snap, .supported = vm->cpuid,
	};
	r = snap_save(&sv, &meta, dir, err, sizeof(err));
	if (r < 0) {
		log_err("hibernate: %s", err);
		if (vm->vbus_open)
			vbus_thaw(&vm->vbus);
		if (!was_paused)
			resume_vcpus(vm);
		snprintf(msg, sizeof(msg), "hibernate failed: %s (the VM keeps %s)", err,
			 was_paused ? "paused" : "running");
		return ctl_error_reply(msg);
	}
	/* The devices stay frozen until the process exits: the guest's state
	 * now lives in the snapshot. */
	fprintf(stderr, "haneul-vmm: guest hibernated to %s\n", dir);
	finish(vm, VM_EXIT_HIBERNATED);
	{
		json_object *o = ok_obj();

		json_object_object_add(o, "dir", json_object_new_string(dir));
		return reply_obj(o);
	}
}

static char *ctl_handle(void *opaque, const char *line, size_t len)
{
	struct vm *vm = opaque;
	struct ctl_req req;
	char err[160];
	double t;

	if (ctl_parse(line, len, &req, err, sizeof(err)) < 0)
		return ctl_error_reply(err);
	if (vm->done)
		return ctl_error_reply("the VM is stopping");
	switch (req.cmd) {
	case CTL_STATUS:
		return do_status(vm);
	case CTL_PAUSE:
		if (vm->run_req == RUN_PAUSE)
			return ctl_error_reply("already paused");
		if (pause_vcpus(vm) < 0)
			return ctl_error_reply("vCPUs did not stop within 5 s; still running");
		log_info("paused");
		return do_status(vm);
	case CTL_RESUME:
		if (vm->run_req != RUN_PAUSE)
			return ctl_error_reply("not paused");
		resume_vcpus(vm);
		log_info("resumed");
		return do_status(vm);
	case CTL_SHUTDOWN:
		t = req.has_timeout ? req.timeout_s : vm->cfg->shutdown_timeout_s;
		if (req.force) {
			force_off(vm, "control: shutdown with force");
			return reply_obj(ok_obj());
		}
		begin_shutdown(vm, t);
		return do_status(vm);
	case CTL_REBOOT:
		if (req.force || !vm->ready_us) {
			/* Without a PV-speaking guest there is nobody to ask. */
			hard_reboot_request(vm, "control: reboot");
		} else {
			t = req.has_timeout ? req.timeout_s : vm->cfg->shutdown_timeout_s;
			pthread_mutex_lock(&vm->lock);
			if (vm->run_req == RUN_PAUSE)
				vm->run_req = RUN_GO;
			vm->pv_events |= PLAT_PV_EV_REBOOT;
			pthread_cond_broadcast(&vm->wake);
			pthread_mutex_unlock(&vm->lock);
			vm->reboot_requested = true;
			arm_timer(vm, t, TIMER_HARD_REBOOT);
		}
		return do_status(vm);
	case CTL_CONSOLE:
		return do_console(vm, req.bytes);
	case CTL_METRICS:
		return do_metrics(vm);
	case CTL_ATTACH_DRIVE:
		return do_attach_drive(vm, &req);
	case CTL_DETACH_DRIVE:
		return do_detach_drive(vm, &req);
	case CTL_HIBERNATE:
		return do_hibernate(vm, req.dir);
	}
	return ctl_error_reply("unhandled command");
}

/* ---- main loop ---- */

static void on_exit_request(struct vm *vm)
{
	enum exit_req req;
	char why[sizeof(vm->exit_why)];
	uint64_t cnt;

	if (read(vm->notify_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("notify read: %s", strerror(errno));
	pthread_mutex_lock(&vm->lock);
	req = vm->exit_req;
	memcpy(why, vm->exit_why, sizeof(why));
	pthread_mutex_unlock(&vm->lock);
	switch (req) {
	case EXIT_NONE:
		break;
	case EXIT_POWEROFF:
		log_info("power off: %s", why);
		fprintf(stderr, "haneul-vmm: guest powered off\n");
		finish(vm, VM_EXIT_POWERED_OFF);
		break;
	case EXIT_REBOOT:
		if (vm->shutdown_requested) {
			/* systemd maps Ctrl-Alt-Del to reboot: the guest went down
			 * cleanly, and it was asked to stay down. */
			log_info("reset during graceful shutdown (%s): treated as power off", why);
			fprintf(stderr, "haneul-vmm: guest powered off\n");
			finish(vm, VM_EXIT_POWERED_OFF);
			break;
		}
		log_info("reset: %s", why);
		if (reboot_machine(vm) < 0) {
			log_err("reboot failed");
			finish(vm, VM_EXIT_ERROR);
		}
		break;
	case EXIT_CRASH:
		fprintf(stderr, "haneul-vmm: guest crashed: %s\n", why);
		finish(vm, VM_EXIT_CRASHED);
		break;
	case EXIT_FAILED:
		log_err("stopping: %s", why);
		finish(vm, VM_EXIT_ERROR);
		break;
	}
}

static void on_signal(struct vm *vm)
{
	struct signalfd_siginfo si;

	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	force_off(vm, si.ssi_signo == SIGTERM ? "SIGTERM" : si.ssi_signo == SIGINT ? "SIGINT"
		  : "SIGHUP");
}

static void on_timer(struct vm *vm)
{
	uint64_t n;
	enum timer_action a = vm->timer_action;

	if (read(vm->timer_fd, &n, sizeof(n)) < 0)
		return;
	vm->timer_action = TIMER_NONE;
	if (a == TIMER_FORCE_OFF)
		force_off(vm, "shutdown timeout");
	else if (a == TIMER_HARD_REBOOT)
		hard_reboot_request(vm, "graceful reboot timed out");
}

static void on_stdin(struct vm *vm)
{
	uint8_t buf[UART_RX_CAP];
	size_t space;
	ssize_t n;

	pthread_mutex_lock(&vm->lock);
	space = uart_rx_space(&vm->uart);
	pthread_mutex_unlock(&vm->lock);
	if (!space)
		return;
	n = read(vm->con.in_fd, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		vm->stdin_eof = true;
		return;
	}
	pthread_mutex_lock(&vm->lock);
	uart_receive(&vm->uart, buf, (size_t)n);
	pthread_cond_broadcast(&vm->wake); /* a vCPU may be in PV IDLE */
	pthread_mutex_unlock(&vm->lock);
}

static void event_loop(struct vm *vm)
{
	enum { P_SIG, P_NOTIFY, P_TIMER, P_STDIN, P_VBUS, P_CTL };
	struct pollfd pfd[P_CTL + 1 + CTLSOCK_MAX_CLIENTS];

	while (!vm->done) {
		size_t nctl = 0;
		int timeout = -1;
		bool want_stdin = vm->con.in_fd >= 0 && !vm->stdin_eof;

		if (want_stdin) {
			pthread_mutex_lock(&vm->lock);
			if (!uart_rx_space(&vm->uart)) {
				want_stdin = false;
				timeout = 20; /* guest has not drained its receive buffer yet */
			}
			pthread_mutex_unlock(&vm->lock);
		}
		pfd[P_SIG] = (struct pollfd){ .fd = vm->signal_fd, .events = POLLIN };
		pfd[P_NOTIFY] = (struct pollfd){ .fd = vm->notify_fd, .events = POLLIN };
		pfd[P_TIMER] = (struct pollfd){ .fd = vm->timer_fd, .events = POLLIN };
		pfd[P_STDIN] = (struct pollfd){ .fd = want_stdin ? vm->con.in_fd : -1, .events = POLLIN };
		pfd[P_VBUS] = (struct pollfd){ .fd = vm->vbus_open ? vm->vbus.event_fd : -1,
					       .events = POLLIN };
		if (vm->ctl_open)
			nctl = ctlsock_pollfds(&vm->ctl, &pfd[P_CTL], CTLSOCK_MAX_CLIENTS + 1);
		if (poll(pfd, P_CTL + nctl, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			finish(vm, VM_EXIT_ERROR);
			break;
		}
		if (pfd[P_SIG].revents)
			on_signal(vm);
		if (!vm->done && pfd[P_NOTIFY].revents)
			on_exit_request(vm);
		if (!vm->done && pfd[P_TIMER].revents)
			on_timer(vm);
		if (!vm->done && pfd[P_STDIN].revents)
			on_stdin(vm);
		if (!vm->done && pfd[P_VBUS].revents)
			vbus_process(&vm->vbus);   /* the guest let go of an ejected device */
		if (!vm->done && nctl)
			ctlsock_dispatch(&vm->ctl, &pfd[P_CTL], nctl);
	}
}

static int setup_signals(struct vm *vm, sigset_t *old)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t set;

	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread starts, so only the signalfd sees them. */
	if (pthread_sigmask(SIG_BLOCK, &set, old) != 0)
		return -EINVAL;
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0) {
		int r = -errno;

		pthread_sigmask(SIG_SETMASK, old, NULL);
		return r;
	}
	return 0;
}

int vm_run(const struct vm_config *cfg)
{
	struct console_cfg cc = {
		.to_stdout = cfg->console_stdout, .from_stdin = cfg->console_stdout,
		.log_path = cfg->console_log, .out_fd = STDOUT_FILENO, .in_fd = STDIN_FILENO,
	};
	pthread_condattr_t ca;
	char err[256];
	sigset_t oldmask;
	struct vm *vm;
	int r, status = VM_EXIT_ERROR;

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		log_err("out of memory");
		return VM_EXIT_ERROR;
	}
	vm->cfg = cfg;
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->notify_fd = vm->signal_fd = vm->timer_fd = -1;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->boot_start_ns = cfg->start_ns;
	for (unsigned int i = 0; i < VCPU_MAX; i++)
		vm->vcpus[i].fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->wake, &ca);
	pthread_cond_init(&vm->parked_cond, &ca);
	pthread_condattr_destroy(&ca);

	r = kvm_open(&vm->kvm, NULL, cfg->kvm_path, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		goto free_vm;
	}
	if ((int)cfg->nr_vcpus > vm->kvm.max_vcpus) {
		log_err("--vcpus %u: this host's KVM allows at most %d", cfg->nr_vcpus,
			vm->kvm.max_vcpus);
		goto close_kvm;
	}
	r = kvm_supported_cpuid(&vm->kvm, 0, &vm->cpuid);
	if (r < 0) {
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		goto close_kvm;
	}
	if (kvm_msr_index_list(&vm->kvm, &vm->msrs) < 0)
		log_warn("KVM_GET_MSR_INDEX_LIST failed; setting boot MSRs unchecked");
	if (cfg->resume_dir && resume_open(vm, &cfg) < 0)
		goto free_cpuid;
	r = mem_init(&vm->mem, cfg->mem_size);
	if (r < 0) {
		log_err("guest memory (%" PRIu64 " bytes): %s", cfg->mem_size, strerror(-r));
		goto free_cpuid;
	}
	r = console_open(&vm->con, &cc, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		goto free_mem;
	}
	uart_init(&vm->uart, &vm_uart_ops, vm);
	i8042_init(&vm->kbd, &vm_kbd_ops, vm);
	rtc_init(&vm->rtc);
	r = register_devices(vm);
	if (r < 0) {
		log_err("device registration: %s", strerror(-r));
		goto close_console;
	}
	if (create_virtio(vm) < 0)
		goto close_console;
	vm->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->notify_fd < 0 || vm->timer_fd < 0) {
		log_err("eventfd/timerfd: %s", strerror(errno));
		goto close_fds;
	}
	if (cfg->control_path) {
		r = ctlsock_open(&vm->ctl, cfg->control_path, ctl_handle, vm, err, sizeof(err));
		if (r < 0) {
			log_err("%s", err);
			goto close_fds;
		}
		vm->ctl_open = true;
	}
	r = setup_signals(vm, &oldmask);
	if (r < 0) {
		log_err("signals: %s", strerror(-r));
		goto close_ctl;
	}
	if ((cfg->resume_dir ? resume_machine(vm) : start_machine(vm, false)) < 0)
		goto restore_signals;
	log_info("%s %" PRIu64 " us after process start: %u vCPU(s), %" PRIu64 " MiB, kernel %s (%s)",
		 cfg->resume_dir ? "resumed" : "started", vm_us(vm), vm->nr_vcpus,
		 vm->mem.size >> 20, cfg->kernel ? cfg->kernel : "?", vm->boot.format);
	event_loop(vm);
	status = vm->final_status;
	stop_verify(vm);
	destroy_machine(vm);

restore_signals:
	close(vm->signal_fd);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
close_ctl:
	if (vm->ctl_open)
		ctlsock_close(&vm->ctl);
close_fds:
	if (vm->timer_fd >= 0)
		close(vm->timer_fd);
	if (vm->notify_fd >= 0)
		close(vm->notify_fd);
close_console:
	if (vm->vbus_open)
		vbus_free(&vm->vbus);   /* flushes and unlocks the drives */
	console_close(&vm->con);
free_mem:
	mem_free(&vm->mem);
free_cpuid:
	stop_verify(vm);
	if (vm->snap) {
		snap_close(vm->snap);
		free(vm->snap);
	}
	free(vm->cpuid);
	free(vm->msrs);
close_kvm:
	kvm_close(&vm->kvm);
free_vm:
	pthread_cond_destroy(&vm->wake);
	pthread_cond_destroy(&vm->parked_cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
	return status;
}

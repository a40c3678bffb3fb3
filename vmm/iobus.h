/* vmm/iobus.h - the port I/O bus: devices claim [base, base+len) and the
 * vCPU exit handler dispatches by range.  Ports nobody claims read as
 * all-ones and ignore writes (what an empty ISA bus does).
 *
 * The bus does no locking: the caller (vm.c) holds the device lock around
 * iobus_in/iobus_out, so device callbacks run serialized.
 */
#ifndef VMM_IOBUS_H
#define VMM_IOBUS_H

#include <stdint.h>

#define IOBUS_MAX_DEVS 16

/* `off` is the port minus the device's base; `size` is 1, 2 or 4. */
struct iobus_dev {
	const char *name;
	uint16_t base;
	uint16_t len;
	void *opaque;
	uint32_t (*in)(void *opaque, uint16_t off, unsigned int size, unsigned int vcpu);
	void (*out)(void *opaque, uint16_t off, unsigned int size, uint32_t val, unsigned int vcpu);
};

struct iobus {
	unsigned int nr_devs;
	struct iobus_dev devs[IOBUS_MAX_DEVS];
};

void iobus_init(struct iobus *b);
/* 0, -EINVAL (empty or wrapping range), -EEXIST (overlap), -ENOSPC. */
int iobus_register(struct iobus *b, const struct iobus_dev *d);
const struct iobus_dev *iobus_find(const struct iobus *b, uint16_t port);
/* Returns the value masked to `size` bytes. */
uint32_t iobus_in(const struct iobus *b, uint16_t port, unsigned int size, unsigned int vcpu);
void iobus_out(const struct iobus *b, uint16_t port, unsigned int size, uint32_t val,
	       unsigned int vcpu);

#endif

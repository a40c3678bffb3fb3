/* vmm/iobus.c - port I/O dispatch by range (see iobus.h). */
#include "vmm/iobus.h"

#include <errno.h>
#include <string.h>

void iobus_init(struct iobus *b)
{
	memset(b, 0, sizeof(*b));
}

int iobus_register(struct iobus *b, const struct iobus_dev *d)
{
	if (!d->len || (uint32_t)d->base + d->len > 0x10000)
		return -EINVAL;
	for (unsigned int i = 0; i < b->nr_devs; i++) {
		const struct iobus_dev *o = &b->devs[i];

		if (d->base < o->base + o->len && o->base < d->base + d->len)
			return -EEXIST;
	}
	if (b->nr_devs >= IOBUS_MAX_DEVS)
		return -ENOSPC;
	b->devs[b->nr_devs++] = *d;
	return 0;
}

const struct iobus_dev *iobus_find(const struct iobus *b, uint16_t port)
{
	for (unsigned int i = 0; i < b->nr_devs; i++)
		if (port >= b->devs[i].base && port - b->devs[i].base < b->devs[i].len)
			return &b->devs[i];
	return NULL;
}

static uint32_t size_mask(unsigned int size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

uint32_t iobus_in(const struct iobus *b, uint16_t port, unsigned int size, unsigned int vcpu)
{
	const struct iobus_dev *d = iobus_find(b, port);

	if (!d || !d->in)
		return size_mask(size);
	return d->in(d->opaque, port - d->base, size, vcpu) & size_mask(size);
}

void iobus_out(const struct iobus *b, uint16_t port, unsigned int size, uint32_t val,
	       unsigned int vcpu)
{
	const struct iobus_dev *d = iobus_find(b, port);

	if (d && d->out)
		d->out(d->opaque, port - d->base, size, val & size_mask(size), vcpu);
}

/* tests/fuzz/fuzz_snap.c - libFuzzer target for the hibernate snapshot
 * parser: the input is taken as a `state` file; when the header and
 * sections parse, every section is also fed to the META/MEMT decoders and
 * the legacy device restorers (which must refuse or accept without reading
 * outside the payload).  Build: make fuzz (clang); run:
 * build/fuzz/tests/fuzz/fuzz_snap -max_total_time=60 CORPUS/ */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/dev/i8042.h"
#include "vmm/dev/rtc.h"
#include "vmm/dev/uart.h"
#include "vmm/snap.h"
#include "vmm/snap_dev.h"
#include "vmm/virtio/vsnap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nop_tx(void *o, uint8_t b) { (void)o; (void)b; }
static void nop_irq(void *o, int l) { (void)o; (void)l; }
static void nop_reset(void *o) { (void)o; }
static const struct uart_ops uops = { .tx = nop_tx, .irq = nop_irq };
static const struct i8042_ops kops = { .irq = nop_irq, .reset = nop_reset };

static void feed(const struct snap_section *s)
{
	char err[256];
	struct snap_meta m;
	struct snap_memt t;
	struct uart u;
	struct i8042 k;
	struct rtc r;
	struct snap_pv pv = { 0 };
	/* Exact-size copy of the payload: ASan flags reads past it. */
	uint8_t *p = malloc(s->len ? (size_t)s->len : 1);
	struct snap_section c = *s;

	if (!p)
		return;
	memcpy(p, s->data, (size_t)s->len);
	c.data = p;
	if (snap_meta_get(&c, &m, err, sizeof(err)) == 0)
		snap_meta_free(&m);
	if (snap_memt_get(&c, &t, err, sizeof(err)) == 0)
		snap_memt_free(&t);
	uart_init(&u, &uops, NULL);
	(void)snap_uart_ops.restore(&u, p, (size_t)s->len, err, sizeof(err));
	i8042_init(&k, &kops, NULL);
	(void)snap_i8042_ops.restore(&k, p, (size_t)s->len, err, sizeof(err));
	/* A restored i8042/UART must stay usable (indexes in range). */
	(void)i8042_read(&k, I8042_OFF_DATA);
	(void)uart_read(&u, UART_RBR);
	rtc_init(&r);
	(void)snap_rtc_ops.restore(&r, p, (size_t)s->len, err, sizeof(err));
	(void)snap_pv_ops.restore(&pv, p, (size_t)s->len, err, sizeof(err));
	/* virtio records (VDEV, VBUS): decoders only (applying needs devices). */
	{
		static struct vsnap_slot vs;
		struct vsnap_bus vb;

		(void)vsnap_slot_get(p, (size_t)s->len, &vs, err, sizeof(err));
		(void)vsnap_bus_get(p, (size_t)s->len, 16, &vb, err, sizeof(err));
	}
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_file f;
	char err[256];
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (snap_parse(buf, size, &f, err, sizeof(err)) == 0) {
		for (unsigned int i = 0; i < f.nr; i++)
			feed(&f.secs[i]);
		snap_file_free(&f);
	} else {
		/* Also exercise the decoders on raw bytes, as if they were a
		 * section that happened to pass its checksum. */
		struct snap_section s = { .data = buf, .len = size };

		feed(&s);
	}
	free(buf);
	return 0;
}

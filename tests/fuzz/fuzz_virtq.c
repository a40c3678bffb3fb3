/* tests/fuzz/fuzz_virtq.c - libFuzzer target: the split virtqueue and the
 * virtio-blk request parser against arbitrary guest memory.
 *
 * Guest memory is a small malloc'd buffer (one RAM region at gpa 0), so
 * AddressSanitizer flags any access outside it.  The input's first 16 bytes
 * pick the queue size, ring addresses and features; the rest is copied into
 * guest RAM.  Then up to 64 chains are popped, parsed as virtio-blk
 * requests, "executed" (reads fill the writable buffers, GET_ID writes the
 * serial) and pushed, with the EVENT_IDX / notify paths exercised.
 *
 *   make fuzz && build/fuzz/tests/fuzz/fuzz_virtq -max_total_time=300
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/mem.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/virtio.h"

#define RAM 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain chain;
	static struct iovec scratch[VIRTQ_CHAIN_MAX];
	struct guest_mem gm;
	struct virtq q;
	uint8_t *ram;

	if (size < 16)
		return 0;
	ram = calloc(1, RAM);
	if (!ram)
		return 0;
	memset(&gm, 0, sizeof(gm));
	gm.base = ram;
	gm.size = RAM;
	gm.nr_regions = 1;
	gm.regions[0] = (struct mem_region){ 0, RAM, ram };
	memcpy(ram, data + 16, size - 16 < RAM ? size - 16 : RAM);

	memset(&q, 0, sizeof(q));
	q.num_max = 256;
	virtq_reset(&q);
	q.num = rd16(data);
	/* Ring addresses: mostly inside RAM, sometimes anywhere. */
	q.desc_gpa = (data[2] & 0x80) ? (uint64_t)rd16(data + 2) << 20 : rd16(data + 2);
	q.avail_gpa = rd16(data + 4);
	q.used_gpa = rd16(data + 6);
	if (virtq_map(&q, &gm, data[8] & 1, data[8] & 2) == 0) {
		uint64_t capacity = rd16(data + 10);
		bool ro = data[8] & 4;

		for (int i = 0; i < 64; i++) {
			struct vblk_req r;
			int k = virtq_pop(&q, &chain);
			uint32_t len = 0;

			if (k <= 0) {
				if (k == 0 && virtq_enable_notify(&q))
					continue;
				break;
			}
			int st = vblk_parse_req(&chain, capacity, ro, scratch, &r);

			if (st >= 0) {
				if (st == VIRTIO_BLK_S_OK && (r.type == VIRTIO_BLK_T_IN ||
							      r.type == VIRTIO_BLK_T_GET_ID))
					for (unsigned int j = 0; j < r.nr_data; j++)
						memset(r.data[j].iov_base, 0xa5, r.data[j].iov_len);
				if (st == VIRTIO_BLK_S_OK && r.type == VIRTIO_BLK_T_OUT) {
					uint8_t sink[512];

					virtq_iov_read(r.data, r.nr_data, 0, sink, sizeof(sink));
				}
				*r.status = (uint8_t)st;
				len = (uint32_t)r.data_len + 1;
			}
			virtq_push(&q, chain.head, len);
			(void)virtq_need_notify(&q);
		}
		virtq_disable_notify(&q);
	}
	free(ram);
	return 0;
}

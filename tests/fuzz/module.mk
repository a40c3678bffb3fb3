# tests/fuzz: libFuzzer targets, not built by default.
#   make fuzz            -> $(O)/fuzz/tests/fuzz/fuzz_boot (clang, ASan+UBSan+libFuzzer)
#   build/fuzz/tests/fuzz/fuzz_boot -max_total_time=60 CORPUS_DIR
FUZZ_CC  ?= clang
FUZZ_O   ?= $(O)/fuzz
FUZZ_FLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined \
              -fno-omit-frame-pointer
FUZZ_BOOT_SRCS := tests/fuzz/fuzz_boot.c vmm/mem.c $(wildcard vmm/boot/*.c)

$(FUZZ_O)/tests/fuzz/fuzz_boot: $(FUZZ_BOOT_SRCS) $(wildcard vmm/boot/*.h) vmm/mem.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_BOOT_SRCS) -o $@

fuzz: $(FUZZ_O)/tests/fuzz/fuzz_boot

.PHONY: fuzz

# API parsers (issue 3): the query/form parser, the SigV4 Authorization header
# parser and IAM policy documents.
#   make fuzz -> also build-fuzz/tests/fuzz/fuzz_api_{query,sigv4,policy}
#   tests/fuzz/run_api.sh [SECONDS]   runs each for a bounded time with a seed corpus
FUZZ_API_LIBS := $(shell pkg-config --libs libcrypto json-c 2>/dev/null)
FUZZ_API_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null)
FUZZ_API_COMMON := common/strbuf.c api/query.c api/sigv4.c
FUZZ_API_HDRS := common/strbuf.h api/query.h api/sigv4.h api/policy.h

$(FUZZ_O)/tests/fuzz/fuzz_api_query: tests/fuzz/fuzz_api_query.c $(FUZZ_API_COMMON) $(FUZZ_API_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_API_CFLAGS) tests/fuzz/fuzz_api_query.c $(FUZZ_API_COMMON) $(FUZZ_API_LIBS) -o $@

$(FUZZ_O)/tests/fuzz/fuzz_api_sigv4: tests/fuzz/fuzz_api_sigv4.c $(FUZZ_API_COMMON) $(FUZZ_API_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_API_CFLAGS) tests/fuzz/fuzz_api_sigv4.c $(FUZZ_API_COMMON) $(FUZZ_API_LIBS) -o $@

$(FUZZ_O)/tests/fuzz/fuzz_api_policy: tests/fuzz/fuzz_api_policy.c api/policy.c $(FUZZ_API_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_API_CFLAGS) tests/fuzz/fuzz_api_policy.c api/policy.c $(FUZZ_API_LIBS) -o $@

fuzz: $(FUZZ_O)/tests/fuzz/fuzz_api_query $(FUZZ_O)/tests/fuzz/fuzz_api_sigv4 $(FUZZ_O)/tests/fuzz/fuzz_api_policy

# virtio (issue 4): the split virtqueue + virtio-blk request parser with
# arbitrary guest memory.  Seeds (a well-formed IN and an indirect OUT request):
#   build/fuzz/tests/fuzz/fuzz_virtq -max_total_time=300 CORPUS_DIR tests/fuzz/virtq_seeds
FUZZ_VIRTQ_SRCS := tests/fuzz/fuzz_virtq.c vmm/virtio/virtq.c vmm/virtio/blk.c vmm/virtio/virtio.c \
                   vmm/mem.c common/log.c

$(FUZZ_O)/tests/fuzz/fuzz_virtq: $(FUZZ_VIRTQ_SRCS) vmm/virtio/virtio.h vmm/virtio/blk.h vmm/mem.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_API_CFLAGS) $(FUZZ_VIRTQ_SRCS) $(FUZZ_API_LIBS) -lpthread -o $@

fuzz: $(FUZZ_O)/tests/fuzz/fuzz_virtq

# Hibernate snapshot parser (issue 5): the `state` file header/sections and
# the META/MEMT/legacy-device section decoders.
#   make fuzz -> build/fuzz/tests/fuzz/fuzz_snap
FUZZ_SNAP_SRCS := tests/fuzz/fuzz_snap.c vmm/snap.c vmm/snap_dev.c vmm/dev/uart.c vmm/dev/i8042.c \
                  vmm/dev/rtc.c

$(FUZZ_O)/tests/fuzz/fuzz_snap: $(FUZZ_SNAP_SRCS) vmm/snap.h vmm/snap_dev.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_SNAP_SRCS) -o $@

fuzz: $(FUZZ_O)/tests/fuzz/fuzz_snap

# haneul-lb (issue 7): the HTTP/1.1 request/response head parser and body
# framing.  make fuzz -> build/fuzz/tests/fuzz/fuzz_lb_http
#   build/fuzz/tests/fuzz/fuzz_lb_http -max_total_time=180 CORPUS_DIR tests/fuzz/lb_http_seeds
FUZZ_LB_SRCS := tests/fuzz/fuzz_lb_http.c lb/http.c

$(FUZZ_O)/tests/fuzz/fuzz_lb_http: $(FUZZ_LB_SRCS) lb/http.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_LB_SRCS) -o $@

fuzz: $(FUZZ_O)/tests/fuzz/fuzz_lb_http

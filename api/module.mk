# haneuld and the haneul CLI: every api/*.c but the two mains goes into
# libapi.a (unit tests link it).
API_MAINS   := api/main.c api/cli.c
API_SRCS    := $(filter-out $(API_MAINS),$(wildcard api/*.c))
API_OBJS    := $(patsubst %.c,$(O)/%.o,$(API_SRCS))
API_PKGS    := libmicrohttpd sqlite3 libcrypto json-c
API_LDLIBS  := $(call PKG_LIBS,$(API_PKGS)) -lpthread

$(O)/libapi.a: $(API_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# EC2 networking (api/ec2_net.c) uses common/netns.c: libnl-route-3.
$(O)/haneuld: $(O)/api/main.o $(O)/libapi.a $(O)/libcommon.a
	$(CC) $(LDFLAGS) $^ $(API_LDLIBS) $(COMMON_LDLIBS) -o $@

$(O)/haneul: $(O)/api/cli.o $(O)/libapi.a $(O)/libcommon.a
	$(CC) $(LDFLAGS) $^ $(API_LDLIBS) $(COMMON_LDLIBS) -o $@

$(O)/api/%.o: CFLAGS += $(call PKG_CFLAGS,$(API_PKGS))
$(O)/tests/unit/test_%.o: CFLAGS += $(call PKG_CFLAGS,$(API_PKGS))
BINS        += $(O)/haneuld $(O)/haneul
LIBS_ALL    += $(O)/libapi.a
UNIT_LDLIBS += $(API_LDLIBS)

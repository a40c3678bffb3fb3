# libcommon.a: what two or more binaries share.  haneul_net.c is the
# haneul-net tool (instance networking CLI), not part of the library.
COMMON_MAINS := common/haneul_net.c
COMMON_SRCS := $(filter-out $(COMMON_MAINS),$(wildcard common/*.c))
COMMON_OBJS := $(patsubst %.c,$(O)/%.o,$(COMMON_SRCS))
# common/netns.c speaks netlink through libnl-route-3 (Debian: libnl-route-3-dev).
COMMON_PKGS := libnl-route-3.0
COMMON_LDLIBS := $(call PKG_LIBS,$(COMMON_PKGS)) -lpthread

$(O)/libcommon.a: $(COMMON_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^ $(if $(COMMON_OBJS),,)

$(O)/haneul-net: $(O)/common/haneul_net.o $(O)/libcommon.a
	$(CC) $(LDFLAGS) $^ $(COMMON_LDLIBS) -o $@

$(O)/common/%.o: CFLAGS += $(call PKG_CFLAGS,$(COMMON_PKGS))
BINS        += $(O)/haneul-net
LIBS_ALL    += $(O)/libcommon.a
UNIT_LDLIBS += $(COMMON_LDLIBS)

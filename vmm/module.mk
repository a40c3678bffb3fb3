# haneul-vmm: every vmm/**/*.c but main.c goes into libvmm.a (unit tests link it).
VMM_SRCS := $(filter-out vmm/main.c,$(wildcard vmm/*.c vmm/*/*.c))
VMM_OBJS := $(patsubst %.c,$(O)/%.o,$(VMM_SRCS))
VMM_LDLIBS := $(call PKG_LIBS,json-c) -lpthread

$(O)/libvmm.a: $(VMM_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/haneul-vmm: $(O)/vmm/main.o $(O)/libvmm.a $(O)/libcommon.a
	$(CC) $(LDFLAGS) $^ $(VMM_LDLIBS) -o $@

$(O)/vmm/%.o: CFLAGS += $(call PKG_CFLAGS,json-c)
BINS     += $(O)/haneul-vmm
LIBS_ALL += $(O)/libvmm.a
UNIT_LDLIBS += $(VMM_LDLIBS)

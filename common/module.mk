# libcommon.a: what two or more binaries share.
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(patsubst %.c,$(O)/%.o,$(COMMON_SRCS))

$(O)/libcommon.a: $(COMMON_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^ $(if $(COMMON_OBJS),,)

LIBS_ALL += $(O)/libcommon.a

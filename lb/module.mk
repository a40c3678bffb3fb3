# haneul-lb: every lb/*.c but main.c goes into liblb.a (unit tests link it).
# Debian: libjson-c-dev, libssl-dev (build); libjson-c5, libssl3 (run).
LB_SRCS := $(filter-out lb/main.c,$(wildcard lb/*.c))
LB_OBJS := $(patsubst %.c,$(O)/%.o,$(LB_SRCS))
LB_LDLIBS := $(call PKG_LIBS,json-c libssl libcrypto) -lpthread

$(O)/liblb.a: $(LB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/haneul-lb: $(O)/lb/main.o $(O)/liblb.a $(O)/libcommon.a
	$(CC) $(LDFLAGS) $^ $(LB_LDLIBS) -o $@

$(O)/lb/%.o: CFLAGS += $(call PKG_CFLAGS,json-c openssl)
BINS        += $(O)/haneul-lb
LIBS_ALL    += $(O)/liblb.a
UNIT_LDLIBS += $(LB_LDLIBS)

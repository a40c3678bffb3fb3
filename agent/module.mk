# haneul-agent: the in-guest agent for Linux guests (docs/agent.md).  Every
# agent/*.c but main.c goes into libagent.a (unit tests link it).  The binary
# is linked -static against glibc and json-c so the initramfs needs no
# libraries; sanitizer builds cannot be static and link dynamically instead.
AGENT_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJS := $(patsubst %.c,$(O)/%.o,$(AGENT_SRCS))
AGENT_LDLIBS := $(call PKG_LIBS,json-c) -lpthread
AGENT_STATIC := $(if $(SANITIZE),,-static)

$(O)/libagent.a: $(AGENT_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/haneul-agent: $(O)/agent/main.o $(O)/libagent.a $(O)/libcommon.a
	$(CC) $(LDFLAGS) $(AGENT_STATIC) $^ $(AGENT_LDLIBS) -o $@

$(O)/agent/%.o: CFLAGS += $(call PKG_CFLAGS,json-c)
BINS        += $(O)/haneul-agent
LIBS_ALL    += $(O)/libagent.a
UNIT_LDLIBS += $(AGENT_LDLIBS)

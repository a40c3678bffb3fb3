# haneul top-level build.  `make`, `make test`, `make SANITIZE=address,undefined test`.
# Each folder adds its own targets in a module.mk fragment (included below), so
# the folders stay independent: vmm/module.mk, api/module.mk, images/tiny/module.mk ...

CC       ?= cc
O        ?= build
WERROR   ?= 1
SANITIZE ?=
OPT      ?= -O2

WARN := -Wall -Wextra -Wundef -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wwrite-strings -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS   := -std=gnu11 $(OPT) -g $(WARN) -fno-strict-aliasing -D_GNU_SOURCE \
            -I. $(EXTRA_CFLAGS)
DEPFLAGS := -MMD -MP
LDFLAGS  := $(EXTRA_LDFLAGS)
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(1) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(1) 2>/dev/null)

# Filled by the module.mk fragments.
BINS        :=
LIBS_ALL    :=
UNIT_LDLIBS := -lcmocka -lpthread
EXTRA_ALL   :=

all: build-all

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

include $(sort $(wildcard common/module.mk vmm/module.mk api/module.mk lb/module.mk agent/module.mk images/*/module.mk bench/module.mk bench/*/module.mk tests/fuzz/module.mk))

# Unit tests: tests/unit/test_<module>.c, linked against every library archive
# (archives pull in only the objects a test needs).
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(UNIT_SRCS))

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(LIBS_ALL)
	$(CC) $(LDFLAGS) $< -Wl,--start-group $(LIBS_ALL) -Wl,--end-group $(UNIT_LDLIBS) -o $@

build-all: $(BINS) $(EXTRA_ALL) $(UNIT_BINS)

# `make test` runs unit, local-KVM integration and nested (real-KVM) tests and
# prints one closing line "N passed, N failed, N skipped".
test: build-all
	O=$(O) tests/run.sh $(TESTS)

unit: build-all
	O=$(O) tests/run.sh unit

clean:
	rm -rf $(O)

.PHONY: all build-all test unit clean
.SECONDARY:

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# The README's main command (issue 7): ALB + Auto Scaling group scaling on CPU.
demo: build-all
	scripts/demo.sh
.PHONY: demo

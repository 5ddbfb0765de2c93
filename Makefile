# SPDX-License-Identifier: Apache-2.0
# Sluice: the only build entry point. Everything generated lives in $(O).

O        ?= build
V        ?= 0
SAN      ?=
VERSION  ?= 0.1.0-dev
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
CNIBINDIR ?= /opt/cni/bin
TESTS    ?=

CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
VMLINUX_H ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.PHONY: FORCE all deps test test-unit test-bpf test-netns bench demo install clean

# Debian packages the build, tests and lab need (checked by dpkg, installed only when missing).
DEB_PKGS := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libmnl-dev libnl-3-dev \
	libnl-route-3-dev libcjson-dev libyaml-dev libmicrohttpd-dev libcmocka-dev \
	libcurl4-openssl-dev libssl-dev pkg-config containernetworking-plugins iproute2 \
	curl socat nginx-light procps util-linux jq libxdp-dev xdp-tools \
	iptables nftables sockperf python3-yaml python3-jsonschema prometheus wrk

DEPS_STAMP := $(O)/.deps-ok

PKGS     := libbpf libxdp libcjson yaml-0.1 libmicrohttpd libcurl libmnl libelf zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
CFLAGS   ?= -g -O2
ifneq ($(SAN),)
CFLAGS   += -fsanitize=$(SAN) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SAN)
endif
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) -MMD -MP -I. -Ilib -Ibpf/include -I$(O)/skel \
	$(PKG_CFLAGS) -DSLUICE_VERSION=\"$(VERSION)\" -D_GNU_SOURCE

BPF_CFLAGS := -g -O2 --target=bpf -D__TARGET_ARCH_x86 -Wall -Wextra -Werror -Wshadow \
	-Wimplicit-fallthrough -Wno-unused-parameter -I$(O)/include -Ibpf/include

BPF_SRCS  := $(wildcard bpf/tc/*.bpf.c bpf/xdp/*.bpf.c bpf/sockops/*.bpf.c)
BPF_NAMES := $(notdir $(BPF_SRCS:.bpf.c=))
BPF_OBJS  := $(addprefix $(O)/bpf/,$(addsuffix .o,$(BPF_NAMES)))
SKELS     := $(addprefix $(O)/skel/,$(addsuffix .skel.h,$(BPF_NAMES)))
# BPF objects only the tests/bpf benches load (test-run floors), never the agent
TBPF_SRCS := $(wildcard tests/bpf/*.bpf.c)
SKELS     += $(addprefix $(O)/skel/,$(notdir $(TBPF_SRCS:.bpf.c=.skel.h)))

LIB_SRCS   := $(wildcard lib/*.c)
AGENT_CORE := $(filter-out agent/main.c,$(wildcard agent/*.c agent/*/*.c))
AGENT_SRCS := agent/main.c $(AGENT_CORE)
CNI_CORE   := $(filter-out cni/main.c,$(wildcard cni/*.c))
CLI_CORE   := $(filter-out cli/main.c,$(wildcard cli/*.c))

obj = $(addprefix $(O)/obj/,$(1:.c=.o))
san_obj = $(addprefix $(O)/san/,$(1:.c=.o))

BINS := $(O)/sluice-agent $(O)/sluice-cni $(O)/sluice

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(O)/tests/bpf/%,$(BPFT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(O)/tests/tools/%,$(TOOL_SRCS))

all: $(DEPS_STAMP) $(BINS)

# --- dependencies ---------------------------------------------------------------------------
deps:
	$(Q)scripts/deps.sh $(DEB_PKGS)

# Checked on every run (a quarter second of dpkg-query): a package removed since the last build
# is installed again. Everything else depends on the stamp order-only, so nothing rebuilds.
$(DEPS_STAMP): FORCE
	$(Q)scripts/deps.sh $(DEB_PKGS)
	$(Q)mkdir -p $(@D) && touch $@

FORCE:

# --- BPF --------------------------------------------------------------------------------------
$(O)/include/vmlinux.h: | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
ifneq ($(VMLINUX_H),)
	$(Q)cp $(VMLINUX_H) $@
else
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@
endif

$(O)/bpf/%.bpf.o: bpf/*/%.bpf.c $(O)/include/vmlinux.h $(wildcard bpf/include/*.h)
	@mkdir -p $(@D)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/bpf/%.bpf.o: tests/bpf/%.bpf.c $(O)/include/vmlinux.h bpf/include/sl_abi.h
	@mkdir -p $(@D)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/bpf/%.o: $(O)/bpf/%.bpf.o
	$(Q)$(BPFTOOL) gen object $@ $<

$(O)/skel/%.skel.h: $(O)/bpf/%.o
	@mkdir -p $(@D)
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# --- userspace --------------------------------------------------------------------------------
$(O)/obj/%.o: %.c $(SKELS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/san/%.o: %.c $(SKELS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
		-DFIXTURE_DIR=\"tests/unit/fixtures\" -c $< -o $@

$(O)/sluice-agent: $(call obj,$(AGENT_SRCS) $(LIB_SRCS))
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lpthread -o $@

$(O)/sluice-cni: $(call obj,cni/main.c $(CNI_CORE) $(LIB_SRCS))
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(O)/sluice: $(call obj,cli/main.c $(CLI_CORE) $(LIB_SRCS))
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# Unit tests: every test links the library and the I/O-free cores, under ASan/UBSan.
UNIT_DEPS := $(call san_obj,$(LIB_SRCS) $(AGENT_CORE) $(CNI_CORE) $(CLI_CORE))
$(O)/tests/unit/%: $(call san_obj,tests/unit/%.c) $(UNIT_DEPS)
	@mkdir -p $(@D)
	$(Q)$(CC) -fsanitize=address,undefined $^ $(PKG_LIBS) -lcmocka -lpthread -o $@

$(O)/tests/bpf/%: $(call obj,tests/bpf/%.c tests/bpf/pktbuild.c tests/bpf/testrun.c) \
		$(call obj,$(AGENT_CORE) $(LIB_SRCS))
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $(filter-out %/pktbuild.o %/testrun.o,$^) \
		$(O)/obj/tests/bpf/pktbuild.o $(O)/obj/tests/bpf/testrun.o \
		$(PKG_LIBS) -lcmocka -lpthread -o $@

# Small clients the netns tests run inside lab pods; libc only.
$(O)/tests/tools/%: tests/tools/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) -std=gnu11 $(CFLAGS) $(WARN) -D_GNU_SOURCE $< -o $@

# --- tests, demo, bench -------------------------------------------------------------------------
test: all $(UNIT_BINS) $(BPFT_BINS) $(TOOL_BINS)
	$(Q)O=$(O) TESTS='$(TESTS)' tests/run.sh

demo: all
	$(Q)O=$(O) scripts/demo.sh

# bench/bench.mk adds the benchmark's own programs to BENCH_BINS.
BENCH_BINS :=
-include bench/bench.mk

bench: all $(BPFT_BINS) $(BENCH_BINS)
	$(Q)O=$(O) bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(CNIBINDIR)
	install -m 0755 $(O)/sluice-agent $(O)/sluice $(DESTDIR)$(BINDIR)/
	install -m 0755 $(O)/sluice-cni $(DESTDIR)$(CNIBINDIR)/

clean:
	rm -rf $(O)

-include $(shell find $(O)/obj $(O)/san -name '*.d' 2>/dev/null)

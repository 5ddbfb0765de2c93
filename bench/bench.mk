# SPDX-License-Identifier: Apache-2.0
# Included by the Makefile: the benchmark's own programs, built into $(O)/bench/ with the
# project's warning flags. They need nothing but libc (and libm for the percentiles).

BENCH_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) -D_GNU_SOURCE

BENCH_BINS += $(O)/bench/connlat $(O)/bench/connsrv

$(O)/bench/%: bench/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(BENCH_CFLAGS) $(LDFLAGS) $< -lm -o $@

# bpfstats reads the kernel's BPF run-time statistics: it needs libbpf.
BENCH_BINS += $(O)/bench/bpfstats

$(O)/bench/bpfstats: bench/bpfstats.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(BENCH_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) $< $(PKG_LIBS) -o $@

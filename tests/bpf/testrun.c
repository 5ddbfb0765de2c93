// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/loader/kclock.h"
#include "agent/maps/maps.h"
#include "sl_abi.h"
#include "tests/bpf/pktbuild.h"
#include "tests/bpf/testrun.h"

int tr_libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

unsigned int tr_ns_per_jiffy(void)
{
	return kclock_ns_per_jiffy(kclock_hz());
}

static char cg_path[128];

int tr_cg_enter(const char *name)
{
	char procs[192];
	FILE *f;

	snprintf(cg_path, sizeof(cg_path), TR_CG_ROOT "/sluice-test-%s-%d", name, (int)getpid());
	if (mkdir(cg_path, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_path);
	f = fopen(procs, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) ? -errno : 0;
}

void tr_cg_leave(void)
{
	FILE *f = fopen(TR_CG_ROOT "/cgroup.procs", "w");

	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	if (cg_path[0])
		rmdir(cg_path);
}

const char *tr_cg_path(void)
{
	return cg_path;
}

int tr_pins_clear(struct bpf_object *obj)
{
	struct bpf_map *m;
	int err;

	bpf_object__for_each_map(m, obj) {
		err = bpf_map__set_pin_path(m, NULL);
		if (err < 0)
			return err;
	}
	return 0;
}

void tr_ep_stats_seed(int fd, const uint32_t *ifindexes, size_t n, struct maps_result *ret_res)
{
	size_t vsz = maps_percpu_size(sizeof(struct sl_ep_stats)), rec = sizeof(uint32_t) + vsz, i;
	unsigned char *recs = calloc(n ? n : 1, rec);
	struct maps_table t = {
		.name = "sluice_ep_stats",
		.fd = fd,
		.key_size = sizeof(uint32_t),
		.value_size = vsz,
		.keys_only = true,
		.entries = recs,
		.n = n,
	};
	struct maps_result res = {};
	char err[256] = "";

	assert_non_null(recs);
	for (i = 0; i < n; i++)
		memcpy(recs + i * rec, &ifindexes[i], sizeof(uint32_t));
	assert_int_equal(maps_reconcile(&maps_bpf_ops, &t, 1, &res, err, sizeof(err)), 0);
	free(recs);
	if (ret_res)
		*ret_res = res;
}

int tr_run(const struct bpf_program *prog, bool skb, const uint8_t *pkt, int len,
	   uint32_t repeat, struct tr_out *out, uint32_t *ret_ns)
{
	struct __sk_buff ctx = { .ifindex = 1 /* lo: the only device in this netns */ };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = pkt,
		.data_size_in = (uint32_t)len,
		.data_out = out->data,
		.data_size_out = sizeof(out->data),
		.repeat = repeat,
	);
	int err;

	assert_true(len > 0);
	if (skb) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	if (err)
		return err;
	out->retval = (int)opts.retval;
	out->len = opts.data_size_out;
	if (ret_ns)
		*ret_ns = opts.duration;
	return 0;
}

void tr_ep_seed(int fd, const struct tr_ep *eps, size_t n)
{
	size_t rec = sizeof(struct sl_ep_key) + sizeof(struct sl_ep_val), i;
	unsigned char *recs = calloc(n ? n : 1, rec);
	struct maps_table t = {
		.name = "sluice_ep", .fd = fd, .key_size = sizeof(struct sl_ep_key),
		.value_size = sizeof(struct sl_ep_val), .entries = recs, .n = n,
	};
	struct maps_result res = {};
	char err[256] = "";

	assert_non_null(recs);
	for (i = 0; i < n; i++) {
		struct sl_ep_key k = { .family = 0 };
		struct sl_ep_val v = { .ifindex = eps[i].ifindex, .ep_id = eps[i].ep_id,
				       .flags = eps[i].flags, .pol_ctx = eps[i].pol_ctx };

		k.family = tr_abi_addr(eps[i].addr, k.addr);
		memcpy(recs + i * rec, &k, sizeof(k));
		memcpy(recs + i * rec + sizeof(k), &v, sizeof(v));
	}
	if (maps_reconcile(&maps_bpf_ops, &t, 1, &res, err, sizeof(err)) != 0)
		fail_msg("tr_ep_seed: %s", err);
	free(recs);
}

uint8_t tr_abi_addr(const char *s, uint32_t addr[4])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return SL_AF_INET;
	assert_int_equal(inet_pton(AF_INET6, s, addr), 1);
	return SL_AF_INET6;
}

int tr_frame(uint8_t *buf, int family, int proto, const char *src, uint16_t sport,
	     const char *dst, uint16_t dport, size_t payload, uint8_t tcp_flags)
{
	struct pkt_spec s = { .family = family, .l4 = proto, .src = src, .dst = dst,
			      .sport = sport, .dport = dport, .payload_len = payload };
	int len = pkt_build(&s, buf, PKT_MAX);

	assert_true(len > 0);
	if (tcp_flags)
		assert_int_equal(pkt_tcp_flags_set(buf, (size_t)len, tcp_flags), 0);
	assert_int_equal(pkt_l4_csum_fill(buf, (size_t)len), 0);
	assert_int_equal(pkt_csums_verify(buf, (size_t)len), 0);
	return len;
}

void tr_stat_get(int fd, uint32_t idx, struct sl_stat_val *v)
{
	uint64_t s[2];

	assert_int_equal(pkt_percpu_sum(fd, &idx, s, 2), 0);
	v->packets = s[0];
	v->bytes = s[1];
}

uint64_t tr_stat_packets(int fd, uint32_t idx)
{
	struct sl_stat_val v;

	tr_stat_get(fd, idx, &v);
	return v.packets;
}

void tr_assert_stats(int fd, const struct tr_stat_want *w, size_t n)
{
	struct sl_stat_val v;
	size_t j;
	int i;

	for (i = 0; i < SL_STAT_MAX; i++) {
		uint64_t p = 0, b = 0;

		for (j = 0; j < n; j++) {
			if (w[j].idx == i) {
				p = w[j].packets;
				b = w[j].bytes;
			}
		}
		tr_stat_get(fd, (uint32_t)i, &v);
		if (v.packets != p || v.bytes != b)
			fail_msg("sluice_stats[%d]: packets=%llu bytes=%llu, want %llu/%llu", i,
				 (unsigned long long)v.packets, (unsigned long long)v.bytes,
				 (unsigned long long)p, (unsigned long long)b);
	}
}

void tr_assert_out(const struct tr_out *o, int retval, const uint8_t *want, int len)
{
	assert_int_equal(o->retval, retval);
	assert_int_equal(o->len, len);
	assert_memory_equal(o->data, want, (size_t)len);
}

void tr_assert_translated(const struct tr_out *o, int retval, const uint8_t *want, int len)
{
	tr_assert_out(o, retval, want, len);
	assert_int_equal(pkt_csums_verify(o->data, o->len), 0);
}

struct sl_ct_key tr_ct_key(int dir, uint8_t proto, const char *saddr, uint16_t sport,
			   const char *daddr, uint16_t dport)
{
	struct sl_ct_key k = { .sport = htons(sport), .dport = htons(dport), .proto = proto,
			       .dir = (uint8_t)dir };

	k.family = tr_abi_addr(saddr, k.saddr);
	assert_int_equal(tr_abi_addr(daddr, k.daddr), k.family);
	return k;
}

void tr_assert_ct(int ct_fd, const struct sl_ct_key *k, const char *addr, uint16_t port,
		  uint32_t svc_id, uint8_t flags)
{
	struct sl_ct_val v = {};
	uint32_t want[4];
	uint8_t fam = tr_abi_addr(addr, want);

	assert_int_equal(bpf_map_lookup_elem(ct_fd, k, &v), 0);
	assert_memory_equal(v.addr, want, sizeof(want));
	assert_int_equal(v.port, htons(port));
	assert_int_equal(v.family, fam);
	assert_int_equal(v.flags, flags);
	assert_int_equal(v.svc_id, svc_id);
	assert_true(v.last_seen != 0);
}

void tr_ct_put(int ct_fd, const struct sl_ct_key *k, const char *addr, uint16_t port,
	       uint32_t svc_id, uint8_t flags)
{
	struct sl_ct_val v = { .port = htons(port), .svc_id = svc_id, .flags = flags };

	v.family = tr_abi_addr(addr, v.addr);
	assert_int_equal(bpf_map_update_elem(ct_fd, k, &v, BPF_ANY), 0);
}

size_t tr_ct_walk(int ct_fd, bool clear)
{
	struct sl_ct_key k, next, *keys = NULL, *nk;
	size_t n = 0, cap = 0, i;
	bool first = true;

	/* keys first, deletes after: get_next_key from NULL rescans the buckets each time */
	while (bpf_map_get_next_key(ct_fd, first ? NULL : &k, &next) == 0) {
		if (clear && n == cap) {
			cap = cap ? cap * 2 : 1024;
			nk = realloc(keys, cap * sizeof(*keys));
			assert_non_null(nk);
			keys = nk;
		}
		if (clear)
			keys[n] = next;
		k = next;
		first = false;
		n++;
	}
	for (i = 0; clear && i < n; i++)
		assert_int_equal(bpf_map_delete_elem(ct_fd, &keys[i]), 0);
	free(keys);
	return n;
}

void tr_udp_csum_zero(uint8_t *buf, int len)
{
	int family, proto, off = pkt_l4_off(buf, (size_t)len, &family, &proto);

	assert_true(off > 0);
	assert_int_equal(proto, IPPROTO_UDP);
	buf[off + 6] = buf[off + 7] = 0;
}

uint16_t tr_udp_csum_to_ffff(uint8_t *buf, int len)
{
	int family, proto, off = pkt_l4_off(buf, (size_t)len, &family, &proto);
	uint16_t w;

	assert_true(off > 0 && len >= off + 10);
	buf[off + 8] = buf[off + 9] = 0;
	assert_int_equal(pkt_l4_csum_fill(buf, (size_t)len), 0);
	memcpy(&w, buf + off + 6, 2);
	assert_int_not_equal(w, 0xffff);
	memcpy(buf + off + 8, &w, 2);
	assert_int_equal(pkt_l4_csum_fill(buf, (size_t)len), 0);
	assert_int_equal(buf[off + 6], 0xff);
	assert_int_equal(buf[off + 7], 0xff);
	assert_int_equal(pkt_csums_verify(buf, (size_t)len), 0);
	return w;
}

void tr_udp_word_set(uint8_t *buf, int len, uint16_t w)
{
	int family, proto, off = pkt_l4_off(buf, (size_t)len, &family, &proto);

	assert_true(off > 0 && len >= off + 10);
	memcpy(buf + off + 8, &w, 2);
	assert_int_equal(pkt_l4_csum_fill(buf, (size_t)len), 0);
}

void tr_bench_print(const char *name, uint32_t ns)
{
	printf("bench %s ns_per_pkt=%u\n", name, ns);
	fflush(stdout);
}

// SPDX-License-Identifier: Apache-2.0
/*
 * Pins the layout of every struct in bpf/include/sl_abi.h. BPF programs and pinned maps outlive
 * the agent, so a change here must come with a new map name (STYLE.md section 5); update the
 * numbers below only together with that rename.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sl_abi.h"

#define OFF(type, field, want) assert_int_equal(offsetof(struct type, field), want)
#define SZ(type, want)	       assert_int_equal(sizeof(struct type), want)

static void sl_ep_key__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_ep_key, 20);
	OFF(sl_ep_key, addr, 0);
	OFF(sl_ep_key, family, 16);
	OFF(sl_ep_key, pad, 17);
	assert_int_equal(sizeof(((struct sl_ep_key *)0)->pad), 3);
}

static void sl_ep_val__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_ep_val, 16);
	OFF(sl_ep_val, ifindex, 0);
	OFF(sl_ep_val, ep_id, 4);
	OFF(sl_ep_val, flags, 8);
	OFF(sl_ep_val, pol_ctx, 12);
}

static void sl_svc_key__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_svc_key, 20);
	OFF(sl_svc_key, addr, 0);
	OFF(sl_svc_key, port, 16);
	OFF(sl_svc_key, proto, 18);
	OFF(sl_svc_key, family, 19);
}

static void sl_svc_val__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_svc_val, 16);
	OFF(sl_svc_val, svc_id, 0);
	OFF(sl_svc_val, count, 4);
	OFF(sl_svc_val, flags, 6);
	OFF(sl_svc_val, affinity_timeout, 8);
	OFF(sl_svc_val, maglev_size, 12);
}

static void sl_backend_key__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_backend_key, 8);
	OFF(sl_backend_key, svc_id, 0);
	OFF(sl_backend_key, slot, 4);
}

static void sl_backend_val__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_backend_val, 24);
	OFF(sl_backend_val, addr, 0);
	OFF(sl_backend_val, port, 16);
	OFF(sl_backend_val, family, 18);
	OFF(sl_backend_val, flags, 19);
	OFF(sl_backend_val, ep_id, 20);
}

static void sl_stat_val__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_stat_val, 16);
	OFF(sl_stat_val, packets, 0);
	OFF(sl_stat_val, bytes, 8);
}

static void sl_ep_stats__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_ep_stats, 32);
	OFF(sl_ep_stats, from_pod_packets, 0);
	OFF(sl_ep_stats, from_pod_bytes, 8);
	OFF(sl_ep_stats, to_pod_packets, 16);
	OFF(sl_ep_stats, to_pod_bytes, 24);
}

static void sl_config__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_config, 24);
	OFF(sl_config, sk_slots_mask, 16);
	OFF(sl_config, log_level, 0);
	OFF(sl_config, flags, 4);
	OFF(sl_config, ns_per_jiffy, 8);
	OFF(sl_config, pol_events_per_sec, 12);
	OFF(sl_config, http_events_per_sec, 20);
}

static void sl_stat__indices__pinned(void **state)
{
	(void)state;
	/* slots of the pinned sluice_stats array: renumbering breaks counters across upgrades */
	assert_int_equal(SL_STAT_TC_IN_PASS, 0);
	assert_int_equal(SL_STAT_TC_OUT_PASS, 1);
	assert_int_equal(SL_STAT_XDP_IN_PASS, 2);
	assert_int_equal(SL_STAT_SOCK_ACTIVE_EST, 3);
	assert_int_equal(SL_STAT_SOCK_PASSIVE_EST, 4);
	assert_int_equal(SL_STAT_PARSE_ERROR, 5);
	assert_int_equal(SL_STAT_NON_IP, 6);
	assert_int_equal(SL_STAT_EP_MISS, 7);
	assert_int_equal(SL_STAT_SOCK_LB, 8);
	assert_int_equal(SL_STAT_MAGLEV_MISS, 20);
	assert_int_equal(SL_STAT_POL_ALLOWED, 21);
	assert_int_equal(SL_STAT_EVENT_LOST, 31);
	assert_int_equal(SL_STAT_L7_ALLOWED, 32);
	assert_int_equal(SL_STAT_L7_NO_REPLY, 40);
	assert_int_equal(SL_STAT_L7_RESET, 41);
	assert_int_equal(SL_STAT_MAX, 47);
	assert_true(SL_STAT_MAX <= SL_STAT_SLOTS);
	assert_int_equal(SL_STAT_SLOTS, 64);
}

static void sl_lb_structs__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_ct_key, 40);
	OFF(sl_ct_key, daddr, 16);
	OFF(sl_ct_key, sport, 32);
	OFF(sl_ct_key, dport, 34);
	OFF(sl_ct_key, proto, 36);
	OFF(sl_ct_key, family, 37);
	OFF(sl_ct_key, dir, 38);
	SZ(sl_ct_val, 32);
	OFF(sl_ct_val, port, 16);
	OFF(sl_ct_val, family, 18);
	OFF(sl_ct_val, flags, 19);
	OFF(sl_ct_val, svc_id, 20);
	OFF(sl_ct_val, last_seen, 24);
	SZ(sl_sk_rev_key, 32);
	OFF(sl_sk_rev_key, addr, 8);
	OFF(sl_sk_rev_key, port, 24);
	OFF(sl_sk_rev_key, family, 26);
	SZ(sl_sk_rev_val, 24);
	OFF(sl_sk_rev_val, port, 16);
	OFF(sl_sk_rev_val, svc_id, 20);
	SZ(sl_sk_slot, 56);
	OFF(sl_sk_slot, be_addr, 8);
	OFF(sl_sk_slot, be_port, 24);
	OFF(sl_sk_slot, fe, 28);
	assert_true((SL_SK_SLOTS & (SL_SK_SLOTS - 1)) == 0);
	SZ(sl_aff_key, 32);
	OFF(sl_aff_key, addr, 8);
	OFF(sl_aff_key, svc_id, 24);
	OFF(sl_aff_key, family, 28);
	SZ(sl_aff_val, 32);
	OFF(sl_aff_val, slot, 8);
	OFF(sl_aff_val, port, 12);
	OFF(sl_aff_val, addr, 16);
}

static void sl_abi__constants__pinned(void **state)
{
	(void)state;
	assert_int_equal(SL_AF_INET, 2);
	assert_int_equal(SL_AF_INET6, 10);
	assert_int_equal(SL_SVC_F_AFFINITY, 1);
	assert_int_equal(SL_SVC_F_NODEPORT, 2);
	assert_int_equal(SL_SVC_F_EXTERNAL, 4);
	assert_int_equal(SL_CT_DIR_FWD, 0);
	assert_int_equal(SL_CT_DIR_REV, 1);
	assert_int_equal(SL_MAGLEV_DEFAULT, 16381);
	assert_int_equal(SL_MAX_ENDPOINTS, 65536);
	assert_int_equal(SL_MAX_SERVICES, 65536);
	assert_int_equal(SL_MAX_BACKENDS, 262144);
	assert_int_equal(SL_MAX_BACKENDS_PER_SVC, 1024);
}

static void policy_structs__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_ipc_key, 24);
	OFF(sl_ipc_key, prefixlen, 0);
	OFF(sl_ipc_key, family, 4);
	OFF(sl_ipc_key, addr, 8);
	SZ(sl_ipc_val, 8);
	OFF(sl_ipc_val, identity, 0);
	SZ(sl_pol_key, 12);
	OFF(sl_pol_key, ctx, 0);
	OFF(sl_pol_key, identity, 4);
	OFF(sl_pol_key, dport, 8);
	OFF(sl_pol_key, proto, 10);
	OFF(sl_pol_key, dir, 11);
	SZ(sl_port_range, 4);
	SZ(sl_pol_val, 32);
	OFF(sl_pol_val, policy, 0);
	OFF(sl_pol_val, n_ranges, 4);
	OFF(sl_pol_val, r, 8);
	SZ(sl_pct_key, 40);
	OFF(sl_pct_key, sport, 32);
	OFF(sl_pct_key, hook, 38);
	SZ(sl_pct_val, 16);
	OFF(sl_pct_val, policy, 8);
	SZ(sl_pol_event, 64);
	OFF(sl_pol_event, saddr, 8);
	OFF(sl_pol_event, ep_id, 40);
	OFF(sl_pol_event, sport, 52);
	OFF(sl_pol_event, reason, 60);
	/* the counters follow the reasons, in the same order */
	assert_int_equal(SL_STAT_POL_NO_RULE - SL_STAT_POL_ALLOWED, SL_POL_R_NO_RULE);
	assert_int_equal(SL_STAT_POL_L4_UNKNOWN - SL_STAT_POL_ALLOWED, SL_POL_R_L4_UNKNOWN);
	assert_true(SL_STAT_MAX <= SL_STAT_SLOTS);
}

static void l7_structs__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_l7_port_key, 20);
	OFF(sl_l7_port_key, port, 16);
	OFF(sl_l7_port_key, family, 18);
	SZ(sl_l7_port_val, 8);
	OFF(sl_l7_port_val, n_rules, 4);
	SZ(sl_l7_rule_key, 8);
	SZ(sl_l7_rule, 208);
	OFF(sl_l7_rule, policy, 4);
	OFF(sl_l7_rule, flags, 8);
	OFF(sl_l7_rule, path_len, 12);
	OFF(sl_l7_rule, path_kind, 14);
	OFF(sl_l7_rule, host_len, 15);
	OFF(sl_l7_rule, host, 16);
	OFF(sl_l7_rule, path, 80);
	SZ(sl_l7_conn, 248);
	OFF(sl_l7_conn, mode, 8);
	OFF(sl_l7_conn, head_len, 16);
	OFF(sl_l7_conn, clen, 24);
	OFF(sl_l7_conn, path, 32);
	OFF(sl_l7_conn, host, 160);
	OFF(sl_l7_conn, pos, 224);
	OFF(sl_l7_conn, tmp, 240);
	SZ(sl_l7_event, 208);
	OFF(sl_l7_event, saddr, 8);
	OFF(sl_l7_event, policy, 40);
	OFF(sl_l7_event, sport, 44);
	OFF(sl_l7_event, family, 48);
	OFF(sl_l7_event, method, 51);
	OFF(sl_l7_event, status, 52);
	OFF(sl_l7_event, host, 64);
	OFF(sl_l7_event, path, 112);
	assert_int_equal(SL_HTTP_GET, 0);
	assert_int_equal(SL_HTTP_PATCH, 8);
	assert_int_equal(SL_HTTP_OTHER, 9);
	assert_int_equal(SL_L7_R_TOO_LARGE, 4);
	assert_int_equal(SL_L7_R_UPGRADE, 5);
	OFF(sl_l7_conn, upgrade, 22);
	SZ(sl_l7_kill, 24);
	OFF(sl_l7_kill, family, 16);
	/* the counters follow the reasons, in the same order */
	assert_int_equal(SL_STAT_L7_TOO_LARGE - SL_STAT_L7_ALLOWED, SL_L7_R_TOO_LARGE);
	assert_int_equal(SL_STAT_L7_UPGRADE - SL_STAT_L7_ALLOWED, SL_L7_R_UPGRADE);
}

static void l4_structs__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_l4_key, 56);
	OFF(sl_l4_key, peer, 16);
	OFF(sl_l4_key, svc, 32);
	OFF(sl_l4_key, port, 48);
	OFF(sl_l4_key, svc_port, 50);
	OFF(sl_l4_key, family, 52);
	OFF(sl_l4_key, role, 54);
	SZ(sl_l4_val, 208);
	OFF(sl_l4_val, bytes_tx, 40);
	OFF(sl_l4_val, retrans, 72);
	OFF(sl_l4_val, rtt_sum_us, 80);
	OFF(sl_l4_val, rtt, 88);
	assert_int_equal(SL_RTT_BUCKETS, 15);
	assert_int_equal(SL_L4_CLIENT, 1);
	assert_int_equal(SL_L4_SERVER, 2);
	assert_int_equal(SL_CFG_F_L4_TELEMETRY, 1);
	assert_int_equal(SL_STAT_L4_FLOW_FULL, 42);
	SZ(sl_l4_dkey, 40);
	OFF(sl_l4_dkey, port, 32);
	OFF(sl_l4_dkey, dir, 36);
	OFF(sl_l4_dkey, reason, 37);
	SZ(sl_l4_dval, 16);
	assert_true(SL_DROP_NO_BACKEND >= SL_POL_R_MAX);
	assert_int_equal(SL_STAT_L4_DROP_FULL, 46);
	SZ(sl_l4_sk, 104);
	OFF(sl_l4_sk, bytes_tx, 56);
	OFF(sl_l4_sk, closed, 96);
}

static void http_tel_structs__layout__pinned(void **state)
{
	(void)state;
	SZ(sl_http_fkey, 40);
	OFF(sl_http_fkey, lport, 32);
	OFF(sl_http_fkey, family, 36);
	SZ(sl_http_dir, 32);
	OFF(sl_http_dir, num, 8);
	OFF(sl_http_dir, st, 24);
	OFF(sl_http_dir, cand, 28);
	SZ(sl_http_req, 16);
	OFF(sl_http_req, cap, 14);
	SZ(sl_http_cap, 136);
	OFF(sl_http_cap, path, 16);
	OFF(sl_http_cap, tp, 80);
	SZ(sl_http_event, 200);
	OFF(sl_http_event, local, 24);
	OFF(sl_http_event, req_bytes, 56);
	OFF(sl_http_event, lport, 68);
	OFF(sl_http_event, family, 74);
	OFF(sl_http_event, path_len, 77);
	OFF(sl_http_event, path, 80);
	OFF(sl_http_event, tp, 144);
	/* slot numbers + 1 fit sl_http_req.cap; paths and ids copy a word at a time */
	assert_true(SL_HT_CAP_SLOTS < 65536);
	assert_int_equal(SL_HT_CAP_SLOTS & (SL_HT_CAP_SLOTS - 1), 0);
	assert_int_equal(SL_HT_CAP & (SL_HT_CAP - 1), 0);
	assert_int_equal(SL_HT_EV_PATH % 8, 0);
	assert_int_equal(SL_HT_EV_TP % 8, 0);
	SZ(sl_http_flow, 224);
	OFF(sl_http_flow, q, 64);
	OFF(sl_http_flow, resp_ts, 192);
	OFF(sl_http_flow, status, 212);
	OFF(sl_http_flow, role, 216);
	SZ(sl_http_skey, 40);
	OFF(sl_http_skey, port, 32);
	OFF(sl_http_skey, status, 34);
	OFF(sl_http_skey, method, 38);
	SZ(sl_http_sval, 552);
	OFF(sl_http_sval, dur, 32);
	OFF(sl_http_sval, ttfb, 160);
	OFF(sl_http_sval, streams, 280);
	OFF(sl_http_sval, gap, 432);
	assert_int_equal(SL_HTTP_PENDING & (SL_HTTP_PENDING - 1), 0); /* a power of two */
	assert_int_equal(SL_HTTP_BUCKETS, 15);
	assert_int_equal(SL_CFG_F_HTTP_TELEMETRY, 2);
	assert_int_equal(SL_STAT_HTTP_REQ, 43);
	assert_int_equal(SL_STAT_HTTP_FULL, 45);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sl_ep_key__layout__pinned),
		cmocka_unit_test(sl_ep_val__layout__pinned),
		cmocka_unit_test(sl_svc_key__layout__pinned),
		cmocka_unit_test(sl_svc_val__layout__pinned),
		cmocka_unit_test(sl_backend_key__layout__pinned),
		cmocka_unit_test(sl_backend_val__layout__pinned),
		cmocka_unit_test(sl_stat_val__layout__pinned),
		cmocka_unit_test(sl_ep_stats__layout__pinned),
		cmocka_unit_test(sl_config__layout__pinned),
		cmocka_unit_test(policy_structs__layout__pinned),
		cmocka_unit_test(sl_stat__indices__pinned),
		cmocka_unit_test(sl_lb_structs__layout__pinned),
		cmocka_unit_test(sl_abi__constants__pinned),
		cmocka_unit_test(l7_structs__layout__pinned),
		cmocka_unit_test(l4_structs__layout__pinned),
		cmocka_unit_test(http_tel_structs__layout__pinned),
	};

	return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}

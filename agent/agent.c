// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "agent.h"
#include "agent/loader/loader.h"
#include "agent/flows/flows.h"
#include "agent/maps/maps.h"
#include "agent/policy/l7.h"
#include "agent/policy/policy.h"
#include "agent/state/store.h"
#include "agent/state/validate.h"
#include "agent/sync/sync.h"
#include "agent/telemetry/http.h"
#include "agent/telemetry/l4.h"
#include "agent/telemetry/otlp.h"
#include "agent/telemetry/reqev.h"
#include "agent/telemetry/spans.h"
#include "log.h"
#include "manifest.h"
#include "sl_abi.h"

#define ERRLEN 1024

struct agent {
	pthread_mutex_t lock;
	struct agent_config cfg;
	struct loader *loader;
	struct store *store;
	unsigned long reconcile_runs;
	unsigned long reconcile_writes;
	unsigned long reconcile_last_writes;
	unsigned long reconcile_errors;
	unsigned long api_requests;
	unsigned long api_errors;
	unsigned long map_full_errors;
	struct ip_addr node_addrs[8]; /* the uplink's addresses: where NodePorts listen */
	size_t n_node_addrs;
	struct ip_addr host_addrs[32]; /* every address of the node's namespace: SL_ID_HOST */
	size_t n_host_addrs;
	struct policy_desired pol;     /* the last policy reconciled (names, for flow events) */
	struct l7_desired l7;	       /* the last HTTPPolicy reconciled (names, for flow events) */
	struct flows *flows;	       /* policy flow events; NULL when the ring is unreadable */
	struct tel_l4 *tel_l4;	       /* L4 telemetry export; NULL when switched off */
	struct tel_http *tel_http;     /* HTTP telemetry export; NULL when switched off */
	struct otlp *otlp;	       /* OTLP push; NULL without otlp_endpoint */
	struct spans *spans;	       /* spans waiting for the OTLP push; NULL without one */
	uint64_t start_unix_ns;	       /* when the agent started: the start of cumulative sums */
	uint64_t l4_flushed_ms;	       /* the last L4 flush (CLOCK_MONOTONIC); flows thread only */
};

static char *otlp_build(void *ctx, enum otlp_signal sig);
static void on_request(void *ctx, const struct flow_rec *r);
static char *api_telemetry(struct agent *a, int *status);

#define FLOWS_KEEP     8192 /* events kept for `sluice observe` */
#define FLOWS_PER_CALL 1024 /* events one /v1/flows answer carries at most */

static const char *const map_names[] = {
	"sluice_ep", "sluice_ep_stats", "sluice_svc", "sluice_backend", "sluice_stats",
	"sluice_ct", "sluice_sk_rev", "sluice_affinity", "sluice_maglev",
	"sluice_ipcache", "sluice_policy", "sluice_pol_ct", "sluice_l7_port", "sluice_l7_rule",
	"sluice_l7_socks", "sluice_l7_conn", "sluice_l7_kill", "sluice_l4_flow",
	"sluice_http_flow", "sluice_http_stats", "sluice_l4_drop",
};

static const char *const stat_names[SL_STAT_MAX] = {
	[SL_STAT_TC_IN_PASS] = "tc_in_pass",
	[SL_STAT_TC_OUT_PASS] = "tc_out_pass",
	[SL_STAT_XDP_IN_PASS] = "xdp_in_pass",
	[SL_STAT_SOCK_ACTIVE_EST] = "sock_active_established",
	[SL_STAT_SOCK_PASSIVE_EST] = "sock_passive_established",
	[SL_STAT_PARSE_ERROR] = "parse_error",
	[SL_STAT_NON_IP] = "non_ip",
	[SL_STAT_EP_MISS] = "endpoint_miss",
	[SL_STAT_SOCK_LB] = "sock_lb",
	[SL_STAT_SOCK_REVNAT] = "sock_revnat",
	[SL_STAT_NO_BACKEND] = "no_backend",
	[SL_STAT_TC_DNAT] = "tc_dnat",
	[SL_STAT_TC_REVNAT] = "tc_revnat",
	[SL_STAT_XDP_DNAT] = "xdp_dnat",
	[SL_STAT_UP_REVNAT] = "uplink_revnat",
	[SL_STAT_CT_HIT] = "ct_hit",
	[SL_STAT_CT_NEW] = "ct_new",
	[SL_STAT_CT_FULL] = "ct_full",
	[SL_STAT_FRAGMENT] = "fragment",
	[SL_STAT_L4_UNSUPPORTED] = "l4_unsupported",
	[SL_STAT_MAGLEV_MISS] = "maglev_miss",
	[SL_STAT_POL_ALLOWED] = "policy_allowed",
	[SL_STAT_POL_NO_RULE] = "policy_denied_no_rule",
	[SL_STAT_POL_SPOOFED] = "policy_denied_spoofed",
	[SL_STAT_POL_FRAGMENT] = "policy_denied_fragment",
	[SL_STAT_POL_L4_UNKNOWN] = "policy_denied_l4_unknown",
	[SL_STAT_POL_TRACKED] = "policy_tracked",
	[SL_STAT_POL_HOST] = "policy_host",
	[SL_STAT_POL_ICMP] = "policy_icmp",
	[SL_STAT_POL_OPEN] = "policy_not_isolated",
	[SL_STAT_EVENT_SAMPLED] = "event_sampled_out",
	[SL_STAT_EVENT_LOST] = "event_lost",
	[SL_STAT_L7_ALLOWED] = "http_policy_allowed",
	[SL_STAT_L7_NO_RULE] = "http_policy_denied_no_rule",
	[SL_STAT_L7_AMBIGUOUS] = "http_policy_denied_ambiguous_path",
	[SL_STAT_L7_MALFORMED] = "http_policy_denied_malformed",
	[SL_STAT_L7_TOO_LARGE] = "http_policy_denied_head_too_large",
	[SL_STAT_L7_UPGRADE] = "http_policy_denied_upgrade",
	[SL_STAT_L7_SOCK] = "http_policy_sockets",
	[SL_STAT_L7_SOCK_FULL] = "http_policy_sockets_full",
	[SL_STAT_L7_NO_REPLY] = "http_policy_denied_without_reply",
	[SL_STAT_L7_RESET] = "http_policy_reset",
	[SL_STAT_L4_FLOW_FULL] = "l4_flow_full",
	[SL_STAT_HTTP_REQ] = "http_telemetry_requests",
	[SL_STAT_HTTP_LOST] = "http_telemetry_framing_lost",
	[SL_STAT_HTTP_FULL] = "http_stats_full",
	[SL_STAT_L4_DROP_FULL] = "l4_drop_full",
};

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reconciles the maps against st. Caller holds the lock. */
/* The node's own addresses, every interface of its namespace but IPv6 link-local ones. */
static void host_addrs_load(struct agent *a)
{
	struct ifaddrs *ifa, *it;
	struct ip_addr *ha;

	a->n_host_addrs = 0;
	if (getifaddrs(&ifa) < 0)
		return;
	for (it = ifa; it; it = it->ifa_next) {
		if (!it->ifa_addr ||
		    a->n_host_addrs >= sizeof(a->host_addrs) / sizeof(a->host_addrs[0]))
			continue;
		ha = &a->host_addrs[a->n_host_addrs];
		memset(ha, 0, sizeof(*ha));
		if (it->ifa_addr->sa_family == AF_INET) {
			ha->family = AF_INET;
			memcpy(ha->a, &((struct sockaddr_in *)it->ifa_addr)->sin_addr, 4);
		} else if (it->ifa_addr->sa_family == AF_INET6 &&
			   !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)it->ifa_addr)->sin6_addr)) {
			ha->family = AF_INET6;
			memcpy(ha->a, &((struct sockaddr_in6 *)it->ifa_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		a->n_host_addrs++;
	}
	freeifaddrs(ifa);
}

/* Each sluice_ep record gets its endpoint's isolation flags and policy context. */
static void ep_policy_set(struct sync_desired *d, const struct policy_desired *pd)
{
	size_t rec = sizeof(struct sl_ep_key) + sizeof(struct sl_ep_val), i;
	const struct policy_ep *pe;
	struct sl_ep_val v;

	for (i = 0; i < d->n_ep; i++) {
		unsigned char *vp = (unsigned char *)d->ep + i * rec + sizeof(struct sl_ep_key);

		memcpy(&v, vp, sizeof(v));
		pe = policy_ep_find(pd, v.ep_id);
		v.flags = pe ? pe->flags : 0;
		v.pol_ctx = pe ? pe->ctx : 0;
		memcpy(vp, &v, sizeof(v));
	}
}

static int reconcile_locked(struct agent *a, const struct store *st, const char *why,
			    char *err, size_t errlen)
{
	size_t es_size = maps_percpu_size(sizeof(struct sl_ep_stats)), i;
	int fd_ep = loader_map_fd(a->loader, "sluice_ep");
	int fd_es = loader_map_fd(a->loader, "sluice_ep_stats");
	int fd_svc = loader_map_fd(a->loader, "sluice_svc");
	int fd_bk = loader_map_fd(a->loader, "sluice_backend");
	int fd_mg = loader_map_fd(a->loader, "sluice_maglev");
	struct sync_input in = {
		.ep_stats_value_size = es_size,
		.node_addrs = a->node_addrs, .n_node_addrs = a->n_node_addrs,
		.maglev_size = a->cfg.maglev_table_size,
	};
	int fd_ipc = loader_map_fd(a->loader, "sluice_ipcache");
	int fd_pol = loader_map_fd(a->loader, "sluice_policy");
	struct policy_input pin = { .host_addrs = a->host_addrs,
				    .track_all = a->cfg.policy_track_flows != 0 };
	struct policy_desired pd = {};
	struct l7_desired ld = {};
	int fd_l7p = loader_map_fd(a->loader, "sluice_l7_port");
	int fd_l7r = loader_map_fd(a->loader, "sluice_l7_rule");
	struct maps_maglev *mg = NULL;
	struct sync_desired d = {};
	struct maps_result res = {}, mres = {};
	void *cur_svc = NULL, *cur_bk = NULL;
	int r;

	a->reconcile_runs++;
	r = maps_dump(&maps_bpf_ops, fd_svc, sizeof(struct sl_svc_key), sizeof(struct sl_svc_val),
		      &cur_svc, &in.n_cur_svc);
	if (r < 0) {
		snprintf(err, errlen, "map sluice_svc: read failed: %s", strerror(-r));
		goto out;
	}
	r = maps_dump(&maps_bpf_ops, fd_bk, sizeof(struct sl_backend_key),
		      sizeof(struct sl_backend_val), &cur_bk, &in.n_cur_backend);
	if (r < 0) {
		snprintf(err, errlen, "map sluice_backend: read failed: %s", strerror(-r));
		goto out;
	}
	in.cur_svc = cur_svc;
	in.cur_backend = cur_bk;
	r = sync_build(st, &in, &d, err, errlen);
	if (r < 0)
		goto out;
	host_addrs_load(a);
	pin.n_host_addrs = a->n_host_addrs;
	r = policy_build(st, &pin, &pd, err, errlen);
	if (r < 0)
		goto out;
	ep_policy_set(&d, &pd);
	r = l7_build(st, &ld, err, errlen);
	if (r < 0)
		goto out;
	if (!loader_l7_ready(a->loader) && ld.n_ports) {
		log_warn("agent", "HTTPPolicy selects pods but is not enforced",
			 "ports=%zu err=\"%s\"", ld.n_ports, loader_l7_error(a->loader));
		ld.n_ports = ld.n_rules = 0;
	}
	{
		/*
		 * Identities and rules before the endpoints that turn isolation on; an endpoint's
		 * isolation goes before the rules it used are deleted. sluice_ep before
		 * sluice_ep_stats: a registered veth is checked for spoofed sources. HTTP rules
		 * before the (pod, port) entries that point at them.
		 */
		struct maps_table tables[] = {
			{ .name = "sluice_ipcache", .fd = fd_ipc, .key_size = sizeof(struct sl_ipc_key),
			  .value_size = sizeof(struct sl_ipc_val), .entries = pd.ipc, .n = pd.n_ipc },
			{ .name = "sluice_policy", .fd = fd_pol, .key_size = sizeof(struct sl_pol_key),
			  .value_size = sizeof(struct sl_pol_val), .entries = pd.pol, .n = pd.n_pol },
			{ .name = "sluice_ep", .fd = fd_ep, .key_size = sizeof(struct sl_ep_key),
			  .value_size = sizeof(struct sl_ep_val), .entries = d.ep, .n = d.n_ep },
			{ .name = "sluice_ep_stats", .fd = fd_es, .key_size = sizeof(__u32),
			  .value_size = es_size, .keys_only = true, .entries = d.ep_stats,
			  .n = d.n_ep_stats },
			{ .name = "sluice_backend", .fd = fd_bk,
			  .key_size = sizeof(struct sl_backend_key),
			  .value_size = sizeof(struct sl_backend_val), .entries = d.backend,
			  .n = d.n_backend },
			{ .name = "sluice_svc", .fd = fd_svc, .key_size = sizeof(struct sl_svc_key),
			  .value_size = sizeof(struct sl_svc_val), .entries = d.svc, .n = d.n_svc },
			{ .name = "sluice_l7_rule", .fd = fd_l7r,
			  .key_size = sizeof(struct sl_l7_rule_key),
			  .value_size = sizeof(struct sl_l7_rule), .entries = ld.rules,
			  .n = ld.n_rules },
			{ .name = "sluice_l7_port", .fd = fd_l7p,
			  .key_size = sizeof(struct sl_l7_port_key),
			  .value_size = sizeof(struct sl_l7_port_val), .entries = ld.ports,
			  .n = ld.n_ports },
		};

		r = maps_reconcile(&maps_bpf_ops, tables, sizeof(tables) / sizeof(tables[0]), &res,
				   err, errlen);
	}
	if (r < 0)
		goto out;
	/* Maglev tables after the backends they point into; a table never names a missing slot. */
	if (d.n_maglev) {
		mg = calloc(d.n_maglev, sizeof(*mg));
		if (!mg) {
			r = -ENOMEM;
			snprintf(err, errlen, "reconcile: out of memory");
			goto out;
		}
	}
	for (i = 0; i < d.n_maglev; i++)
		mg[i] = (struct maps_maglev){ .svc_id = d.maglev[i].svc_id,
					      .size = d.maglev[i].size,
					      .table = d.maglev[i].table };
	r = maps_maglev_sync(fd_mg, mg, d.n_maglev, &mres, err, errlen);
	if (r < 0)
		goto out;
	res.updates += mres.updates;
	res.deletes += mres.deletes;
	/* keep what flow events need: names of policies and identities */
	free(pd.ipc);
	free(pd.pol);
	pd.ipc = pd.pol = NULL;
	pd.n_ipc = pd.n_pol = 0;
	policy_desired_free(&a->pol);
	a->pol = pd;
	pd = (struct policy_desired){};
	free(ld.ports);
	free(ld.rules);
	ld.ports = ld.rules = NULL;
	ld.n_ports = ld.n_rules = 0;
	l7_desired_free(&a->l7);
	a->l7 = ld;
	ld = (struct l7_desired){};
	a->reconcile_last_writes = res.updates + res.deletes;
	a->reconcile_writes += a->reconcile_last_writes;
	if (a->reconcile_last_writes)
		log_info("agent", "reconciled", "why=%s updates=%zu deletes=%zu", why, res.updates,
			 res.deletes);
	else
		log_debug("agent", "reconciled, no change", "why=%s", why);
out:
	if (r < 0) {
		a->reconcile_errors++;
		if (strstr(err, "(map full")) {
			a->map_full_errors++;
			log_err("agent", "map full", "why=%s err=\"%s\"", why, err);
		}
	}
	free(mg);
	free(cur_svc);
	free(cur_bk);
	sync_desired_free(&d);
	policy_desired_free(&pd);
	l7_desired_free(&ld);
	store_trim(st); /* the parsed objects were for this build only */
	return r;
}

/* The netns path of the local endpoint with the address k names, into buf; false if none. */
static bool ep_netns_of(const struct store *st, const struct sl_l7_kill *k, char *buf,
			size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	const struct store_ep *e;
	size_t i;
	int j;

	if (!inet_ntop(k->family == SL_AF_INET ? AF_INET : AF_INET6, k->addr, ip, sizeof(ip)))
		return false;
	for (i = 0; i < store_ep_count(st); i++) {
		e = store_ep_at(st, i);
		for (j = 0; j < e->n_ips; j++)
			if (!strcmp(e->ips[j], ip) && e->netns[0]) {
				snprintf(buf, len, "%s", e->netns);
				return true;
			}
	}
	return false;
}

#define REAP_MAX 64

/*
 * Runs the TCP socket iterator of link_fd to its end in the network namespace at path (where
 * it must be created to see that namespace's sockets), from this thread, which it puts back
 * in its own namespace. Returns 0, or -1 with errno.
 */
static int iter_in_netns(const char *path, int link_fd)
{
	int self, nfd, it, r = -1, e = 0;
	char buf[128];

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	nfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nfd >= 0 && setns(nfd, CLONE_NEWNET) == 0) {
		it = bpf_iter_create(link_fd);
		if (it >= 0) {
			while (read(it, buf, sizeof(buf)) > 0)
				;
			close(it);
			r = 0;
		} else {
			e = errno;
		}
		if (setns(self, CLONE_NEWNET) < 0)
			log_err("agent", "cannot return to the agent's netns", "err=\"%s\"",
				strerror(errno));
	} else {
		e = errno;
	}
	if (nfd >= 0)
		close(nfd);
	close(self);
	errno = e;
	return r;
}

/*
 * Resets the connections sluice_l7_kill names (denied request heads too short for a 403): runs
 * the sluice_l7_reset iterator in the network namespace of each one's pod, which is where an
 * iterator must be created to see its sockets. On the flows thread, every 100 ms; an empty map
 * costs one syscall. Entries whose pod is gone, or whose namespace cannot be entered, are
 * dropped, so none is retried forever.
 */
static void l7_reap(void *ctx)
{
	struct agent *a = ctx;
	int kfd = loader_map_fd(a->loader, "sluice_l7_kill"), lfd = loader_l7_reset_link(a->loader);
	char paths[8][256], p[256];
	__u64 keys[REAP_MAX], key;
	bool later[REAP_MAX];
	int r;
	size_t n = 0, n_paths = 0, i, k;
	struct sl_l7_kill v;

	if (kfd < 0 || lfd < 0 || bpf_map_get_next_key(kfd, NULL, &key) < 0)
		return;
	pthread_mutex_lock(&a->lock);
	for (r = 0; r == 0 && n < REAP_MAX; r = bpf_map_get_next_key(kfd, &key, &key)) {
		keys[n] = key;
		later[n] = false;
		if (bpf_map_lookup_elem(kfd, &key, &v) == 0 && ep_netns_of(a->store, &v, p, sizeof(p))) {
			for (i = 0; i < n_paths && strcmp(paths[i], p); i++)
				;
			if (i == n_paths && n_paths < sizeof(paths) / sizeof(paths[0]))
				snprintf(paths[n_paths++], sizeof(paths[0]), "%s", p);
			later[n] = i == n_paths; /* no room this round: the next one */
		}
		n++;
	}
	pthread_mutex_unlock(&a->lock);
	for (i = 0; i < n_paths; i++)
		if (iter_in_netns(paths[i], lfd) < 0)
			log_warn("agent", "cannot reset HTTP connections in a pod's netns",
				 "netns=%s err=\"%s\"", paths[i], strerror(errno));
	/* what the iterator found it deleted; the rest is gone or unreachable */
	for (k = 0; k < n; k++)
		if (!later[k])
			(void)bpf_map_delete_elem(kfd, &keys[k]);
}

#define L4_FLUSH_MS 1000
#define L4_FLUSH_MAX 4096 /* pods' namespaces flushed per round */

/*
 * Every L4_FLUSH_MS: the sluice_l4_flush iterator in each local pod's network namespace, so
 * live connections' bytes reach sluice_l4_flow while they last. On the flows thread.
 */
static void l4_flush_tick(struct agent *a)
{
	int lfd = loader_l4_flush_link(a->loader);
	const struct store_ep *e;
	struct timespec ts;
	char (*paths)[256];
	size_t n = 0, i, j;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (lfd < 0 || now - a->l4_flushed_ms < L4_FLUSH_MS)
		return;
	a->l4_flushed_ms = now;
	pthread_mutex_lock(&a->lock);
	paths = calloc(store_ep_count(a->store) ? store_ep_count(a->store) : 1, sizeof(*paths));
	for (i = 0; paths && i < store_ep_count(a->store) && n < L4_FLUSH_MAX; i++) {
		e = store_ep_at(a->store, i);
		if (!e->netns[0])
			continue;
		for (j = 0; j < n && strcmp(paths[j], e->netns); j++)
			;
		if (j == n)
			snprintf(paths[n++], sizeof(paths[0]), "%s", e->netns);
	}
	pthread_mutex_unlock(&a->lock);
	for (i = 0; i < n; i++)
		if (iter_in_netns(paths[i], lfd) < 0)
			log_debug("agent", "cannot flush L4 counters in a pod's netns",
				  "netns=%s err=\"%s\"", paths[i], strerror(errno));
	free(paths);
}

/* The flows thread's tick, every 100 ms. */
static void agent_tick(void *ctx)
{
	struct agent *a = ctx;

	if (loader_l7_reset_link(a->loader) >= 0)
		l7_reap(a);
	l4_flush_tick(a);
}

/* The uplink's addresses (NodePorts answer on them); none without an uplink. */
static void node_addrs_load(struct agent *a)
{
	struct ifaddrs *ifa, *it;
	struct ip_addr *na;

	a->n_node_addrs = 0;
	if (!a->cfg.uplink[0] || getifaddrs(&ifa) < 0)
		return;
	for (it = ifa; it; it = it->ifa_next) {
		if (!it->ifa_addr || strcmp(it->ifa_name, a->cfg.uplink) ||
		    a->n_node_addrs >= sizeof(a->node_addrs) / sizeof(a->node_addrs[0]))
			continue;
		na = &a->node_addrs[a->n_node_addrs];
		memset(na, 0, sizeof(*na));
		if (it->ifa_addr->sa_family == AF_INET) {
			na->family = AF_INET;
			memcpy(na->a, &((struct sockaddr_in *)it->ifa_addr)->sin_addr, 4);
		} else if (it->ifa_addr->sa_family == AF_INET6) {
			/* link-local addresses need a scope: NodePorts are not served there */
			if (IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)it->ifa_addr)->sin6_addr))
				continue;
			na->family = AF_INET6;
			memcpy(na->a, &((struct sockaddr_in6 *)it->ifa_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		a->n_node_addrs++;
	}
	freeifaddrs(ifa);
}

int agent_reconcile(struct agent *a, const char *why)
{
	char err[ERRLEN] = "";
	int r;

	pthread_mutex_lock(&a->lock);
	r = reconcile_locked(a, a->store, why, err, sizeof(err));
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		log_err("agent", "reconcile failed", "why=%s err=\"%s\"", why, err);
	return r;
}

int agent_new(const struct agent_config *cfg, struct agent **ret_agent, char *err,
	      size_t errlen)
{
	enum log_level lvl = LOG_LVL_INFO;
	struct loader_opts lo = {};
	struct agent *a;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->cfg = *cfg;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		a->start_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	(void)log_level_parse(cfg->log_level, &lvl);
	r = store_new(&a->store);
	if (r < 0)
		goto err_free;
	r = store_load(a->store, cfg->state_file, err, errlen);
	if (r < 0)
		goto err_free;
	lo.bpffs_root = cfg->bpffs_root;
	lo.cgroup_path = cfg->cgroup[0] ? cfg->cgroup : NULL;
	lo.uplink_ifname = cfg->uplink[0] ? cfg->uplink : NULL;
	lo.log_level = lvl;
	lo.sizes = cfg->sizes;
	lo.pol_events_per_sec = cfg->policy_events_per_sec;
	lo.http_events_per_sec = cfg->http_telemetry ? cfg->http_events_per_sec : 0;
	lo.http_policy = (int)cfg->http_policy;
	lo.l4_telemetry = (int)cfg->l4_telemetry;
	lo.http_telemetry = (int)cfg->http_telemetry;
	if (cfg->otlp_endpoint[0] && strncmp(cfg->otlp_endpoint, "http://", 7) &&
	    strncmp(cfg->otlp_endpoint, "https://", 8)) {
		snprintf(err, errlen, "otlp_endpoint: want http://HOST:PORT or https://..., got \"%s\"",
			 cfg->otlp_endpoint);
		r = -EINVAL;
		goto err_free;
	}
	{
		unsigned int mask, lim = cfg->telemetry_series_limit ?: TEL_SERIES_DEFAULT;

		r = tel_labels_parse(cfg->telemetry_labels, &mask, err, errlen);
		if (r == 0 && cfg->l4_telemetry)
			r = tel_l4_new(mask, lim, &a->tel_l4);
		if (r == 0 && cfg->http_telemetry)
			r = tel_http_new(mask, lim, &a->tel_http);
		if (r < 0)
			goto err_free;
	}
	r = loader_new(&lo, &a->loader, err, errlen);
	if (r < 0)
		goto err_free;
	node_addrs_load(a);
	r = loader_map_fd(a->loader, "sluice_events");
	if (r < 0 ||
	    (r = flows_new(r, loader_map_fd(a->loader, "sluice_l7_events"),
			   loader_map_fd(a->loader, "sluice_http_events"), FLOWS_KEEP, &a->flows)) < 0)
		log_warn("agent", "flow events unavailable, `sluice observe` will show none",
			 "err=\"%s\"", strerror(-r));
	else
		flows_set_tick(a->flows, agent_tick, a);
	if (cfg->otlp_endpoint[0] && a->flows && lo.http_events_per_sec) {
		r = spans_new(SPANS_DEFAULT_MAX, &a->spans);
		if (r < 0)
			goto err_free;
		flows_set_request_sink(a->flows, on_request, a);
	}
	if (cfg->otlp_endpoint[0]) {
		struct otlp_cfg oc = { .endpoint = cfg->otlp_endpoint,
				       .interval_ms = cfg->otlp_interval_ms,
				       .timeout_ms = cfg->otlp_timeout_ms,
				       .queue_max = cfg->otlp_queue };

		r = otlp_new(&oc, otlp_build, a, &a->otlp);
		if (r < 0) {
			snprintf(err, errlen, "otlp: %s", strerror(-r));
			goto err_free;
		}
		log_info("agent", "OTLP export on", "endpoint=%s interval_ms=%u", cfg->otlp_endpoint,
			 cfg->otlp_interval_ms);
	}
	log_info("agent", "datapath loaded", "bpffs=%s links_updated=%d objects=%d endpoints=%zu",
		 cfg->bpffs_root, loader_links_updated(a->loader),
		 store_count(a->store, OBJ_POD) + store_count(a->store, OBJ_SERVICE),
		 store_ep_count(a->store));
	*ret_agent = a;
	return 0;
err_free:
	agent_free(a);
	return r;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	otlp_free(a->otlp); /* first: its thread reads the rest */
	flows_free(a->flows);
	spans_free(a->spans);
	tel_l4_free(a->tel_l4);
	tel_http_free(a->tel_http);
	loader_free(a->loader);
	store_free(a->store);
	policy_desired_free(&a->pol);
	l7_desired_free(&a->l7);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* --- API ------------------------------------------------------------------------------------ */

static char *json_error(int *status, int code, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "error", msg);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	*status = code;
	return s;
}

static char *json_take(cJSON *o, int *status, int code)
{
	char *s;

	if (!o)
		return json_error(status, 500, "out of memory");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	*status = code;
	return s;
}

/* Commits a changed copy of the store if the maps accept it; otherwise nothing changes. */
static int commit_locked(struct agent *a, struct store *next, const char *why, char *err,
			 size_t errlen)
{
	double t0 = mono_ms();
	int r;

	r = reconcile_locked(a, next, why, err, errlen);
	log_debug("agent", "reconcile timed", "why=%s ms=%.1f", why, mono_ms() - t0);
	if (r < 0) {
		char err2[ERRLEN];

		/* maps_reconcile rolled its writes back; the old state stays in force */
		(void)reconcile_locked(a, a->store, "rollback", err2, sizeof(err2));
		return r;
	}
	store_free(a->store);
	a->store = next;
	t0 = mono_ms();
	r = store_save(a->store, a->cfg.state_file);
	log_debug("agent", "state saved", "ms=%.1f", mono_ms() - t0);
	if (r < 0)
		log_warn("agent", "saving state failed, state lives in memory and maps only",
			 "file=%s err=\"%s\"", a->cfg.state_file, strerror(-r));
	return 0;
}

static char *api_apply(struct agent *a, const char *body, size_t len, bool del, int *status)
{
	char err[ERRLEN] = "";
	cJSON *items = NULL, *results = NULL, *resp;
	struct store *next = NULL;
	double t0 = mono_ms(), t1, t2;
	int r, n_items;

	r = manifest_parse(body ? body : "", len, "request", &items, err, sizeof(err));
	if (r < 0)
		return json_error(status, r == -E2BIG ? 413 : 400, err);
	t1 = mono_ms();
	n_items = cJSON_GetArraySize(items);
	r = store_clone(a->store, &next);
	if (r < 0)
		goto out;
	if (del)
		r = store_delete(next, items, &results, err, sizeof(err));
	else
		r = store_apply_take(next, items, &results, err, sizeof(err));
	if (r < 0) {
		store_free(next);
		cJSON_Delete(items);
		return json_error(status, r == -ENOENT ? 404 : 422, err);
	}
	t2 = mono_ms();
	r = commit_locked(a, next, del ? "delete" : "apply", err, sizeof(err));
	log_info("agent", del ? "delete done" : "apply done",
		 "objects=%d ok=%d parse_ms=%.1f store_ms=%.1f commit_ms=%.1f", n_items,
		 r == 0, t1 - t0, t2 - t1, mono_ms() - t2);
	if (r < 0) {
		store_free(next);
		cJSON_Delete(results);
		cJSON_Delete(items);
		return json_error(status, 500, err);
	}
out:
	cJSON_Delete(items);
	/* the request tree, its copies and the old store are gone: give their pages back now, so
	 * the memory is down when the client hears back (the server trims again after the body) */
	if (len > (1u << 20))
		malloc_trim(0);
	if (r < 0) {
		cJSON_Delete(results);
		return json_error(status, 500, strerror(-r));
	}
	resp = cJSON_CreateObject();
	cJSON_AddItemToObject(resp, "results", results);
	return json_take(resp, status, 200);
}

/* The addresses the endpoint of container id has (none when unknown) into ep. */
static void ep_ips_of(const struct store *st, const char *id, struct store_ep *ep)
{
	size_t i;

	ep->n_ips = 0;
	for (i = 0; i < store_ep_count(st); i++) {
		const struct store_ep *e = store_ep_at(st, i);

		if (!strcmp(e->container_id, id)) {
			ep->n_ips = e->n_ips;
			memcpy(ep->ips, e->ips, sizeof(ep->ips));
			return;
		}
	}
}

static char *api_cni(struct agent *a, const char *body, size_t len, bool add, int *status)
{
	char err[ERRLEN] = "";
	struct store *next = NULL;
	struct store_ep ep;
	const cJSON *cid;
	cJSON *req, *resp;
	unsigned int id = 0;
	int r;

	req = cJSON_ParseWithLength(body ? body : "", len);
	if (!req)
		return json_error(status, 400, "cni: body is not valid JSON");
	if (add) {
		r = store_ep_parse(req, &ep, err, sizeof(err));
		if (r < 0) {
			cJSON_Delete(req);
			return json_error(status, 422, err);
		}
	} else {
		cid = cJSON_GetObjectItemCaseSensitive(req, "containerID");
		if (!cJSON_IsString(cid) || !cid->valuestring[0]) {
			cJSON_Delete(req);
			return json_error(status, 422, "cni endpoint: containerID: required");
		}
		snprintf(ep.container_id, sizeof(ep.container_id), "%s", cid->valuestring);
	}
	cJSON_Delete(req);
	if (!add)
		ep_ips_of(a->store, ep.container_id, &ep);
	r = store_clone(a->store, &next);
	if (r == 0)
		r = add ? store_ep_add(next, &ep, &id) : store_ep_del(next, ep.container_id);
	if (r < 0) {
		store_free(next);
		return json_error(status, r == -ENOSPC ? 507 : 500, strerror(-r));
	}
	r = commit_locked(a, next, add ? "cni-add" : "cni-del", err, sizeof(err));
	if (r < 0) {
		store_free(next);
		return json_error(status, 500, err);
	}
	/* a new pod at an address, or none: the address's L4 flows are no longer its pod's */
	for (int k = 0; k < ep.n_ips; k++) {
		if (a->tel_l4)
			tel_l4_forget(loader_map_fd(a->loader, "sluice_l4_flow"),
				      loader_map_fd(a->loader, "sluice_l4_drop"), ep.ips[k]);
		if (a->tel_http)
			tel_http_forget(loader_map_fd(a->loader, "sluice_http_stats"), ep.ips[k]);
	}
	log_info("agent", add ? "endpoint registered" : "endpoint released",
		 "container=%s pod=%s/%s veth=%s", ep.container_id, add ? ep.pod_ns : "",
		 add ? ep.pod_name : "", add ? ep.host_ifname : "");
	resp = cJSON_CreateObject();
	if (add) {
		cJSON *e = cJSON_AddObjectToObject(resp, "endpoint");

		cJSON_AddStringToObject(e, "containerID", ep.container_id);
		cJSON_AddNumberToObject(e, "endpointID", id);
	}
	return json_take(resp, status, 200);
}

/* --- flows ----------------------------------------------------------------------------------- */

/* The pod (local endpoint, or Pod object by its status) that has address ip, or false. */
static bool pod_of_ip(const struct store *st, const char *ip, const char **ret_ns,
		      const char **ret_name)
{
	size_t i, n = store_ep_count(st);
	int k, np = store_count(st, OBJ_POD);

	for (i = 0; i < n; i++) {
		const struct store_ep *ep = store_ep_at(st, i);

		for (k = 0; k < ep->n_ips; k++)
			if (!strcmp(ep->ips[k], ip)) {
				*ret_ns = ep->pod_ns;
				*ret_name = ep->pod_name;
				return true;
			}
	}
	for (k = 0; k < np; k++) {
		const cJSON *pod = store_obj_at(st, OBJ_POD, k), *it;
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(pod, "status");

		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(status, "podIPs")) {
			const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "ip"));

			if (v && !strcmp(v, ip)) {
				*ret_ns = cJSON_GetStringValue(
					cJSON_GetObjectItemCaseSensitive(md, "namespace"));
				*ret_name = cJSON_GetStringValue(
					cJSON_GetObjectItemCaseSensitive(md, "name"));
				return *ret_ns && *ret_name;
			}
		}
	}
	return false;
}

/* The first Service of the pod's namespace whose selector selects it, or NULL. */
static const char *service_of_pod(const struct store *st, const char *ns, const char *name)
{
	const cJSON *pod = store_obj_get(st, OBJ_POD, ns, name);
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(pod, "metadata"), "labels");
	int i, n = store_count(st, OBJ_SERVICE);

	for (i = 0; pod && i < n; i++) {
		const cJSON *svc = store_obj_at(st, OBJ_SERVICE, i);
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(svc, "metadata");
		const char *sns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "namespace"));

		if (sns && !strcmp(sns, ns) &&
		    selector_matches_map(cJSON_GetObjectItemCaseSensitive(
						 cJSON_GetObjectItemCaseSensitive(svc, "spec"),
						 "selector"),
					 labels))
			return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "name"));
	}
	return NULL;
}

static const char *proto_name(unsigned p)
{
	switch (p) {
	case IPPROTO_TCP: return "TCP";
	case IPPROTO_UDP: return "UDP";
	case IPPROTO_SCTP: return "SCTP";
	case IPPROTO_ICMP: return "ICMP";
	case IPPROTO_ICMPV6: return "ICMPv6";
	default: return NULL;
	}
}

static const char *const reason_names[SL_POL_R_MAX] = {
	[SL_POL_R_ALLOWED] = "allowed", [SL_POL_R_NO_RULE] = "no_rule",
	[SL_POL_R_SPOOFED] = "spoofed", [SL_POL_R_FRAGMENT] = "fragment",
	[SL_POL_R_L4_UNKNOWN] = "l4_unknown",
};

/* One side of a flow: address, port, and the pod (and for a destination its Service). */
static cJSON *flow_side(const struct agent *a, const __u32 *addr, __u8 family, __u16 port,
			__u32 peer_id, bool is_peer, bool dst)
{
	cJSON *o = cJSON_CreateObject();
	const char *ns, *name, *svc;
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family == SL_AF_INET ? AF_INET : AF_INET6, addr, ip, sizeof(ip));
	cJSON_AddStringToObject(o, "ip", ip);
	if (port)
		cJSON_AddNumberToObject(o, "port", ntohs(port));
	if (pod_of_ip(a->store, ip, &ns, &name)) {
		cJSON_AddStringToObject(o, "namespace", ns);
		cJSON_AddStringToObject(o, "pod", name);
		if (dst && (svc = service_of_pod(a->store, ns, name)))
			cJSON_AddStringToObject(o, "service", svc);
	} else if (is_peer) {
		cJSON_AddStringToObject(o, "identity", policy_ident_desc(&a->pol, peer_id));
	}
	return o;
}

static const char *const l7_reason_names[SL_L7_R_MAX] = {
	[SL_L7_R_ALLOWED] = "allowed", [SL_L7_R_NO_RULE] = "no_rule",
	[SL_L7_R_AMBIGUOUS] = "ambiguous_path", [SL_L7_R_MALFORMED] = "malformed",
	[SL_L7_R_TOO_LARGE] = "head_too_large", [SL_L7_R_UPGRADE] = "upgrade_not_allowed",
};

/* The start of a flow record: its number and time. */
static cJSON *flow_head(const struct flow_rec *r)
{
	cJSON *o = cJSON_CreateObject();
	time_t secs = (time_t)(r->realtime_ns / 1000000000ull);
	char t[64], ts[80];
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, sizeof(ts), "%s.%03uZ", t, (unsigned)(r->realtime_ns / 1000000ull % 1000));
	cJSON_AddNumberToObject(o, "seq", (double)r->seq);
	cJSON_AddStringToObject(o, "time", ts);
	return o;
}

/* An HTTPPolicy verdict on one request (docs/api.md). */
static cJSON *http_flow_json(const struct agent *a, const struct flow_rec *r)
{
	const struct sl_l7_event *e = &r->http;
	cJSON *o = flow_head(r), *h;
	const char *pol = l7_policy_name(&a->l7, e->policy);
	char buf[SL_L7_EV_PATH + 1];
	size_t n;

	cJSON_AddStringToObject(o, "type", "http");
	cJSON_AddStringToObject(o, "verdict", e->verdict == SL_VERDICT_ALLOW ? "allowed" : "denied");
	cJSON_AddStringToObject(o, "reason",
				e->reason < SL_L7_R_MAX ? l7_reason_names[e->reason] : "unknown");
	cJSON_AddStringToObject(o, "direction", "ingress");
	cJSON_AddStringToObject(o, "protocol", "HTTP");
	cJSON_AddItemToObject(o, "source", flow_side(a, e->saddr, e->family, e->sport, 0, false,
						     false));
	cJSON_AddItemToObject(o, "destination", flow_side(a, e->daddr, e->family, e->dport, 0,
							  false, true));
	h = cJSON_AddObjectToObject(o, "http");
	cJSON_AddStringToObject(h, "method", e->method < SL_HTTP_OTHER ? httppol_methods[e->method] :
									"_OTHER");
	n = e->path_len < SL_L7_EV_PATH ? e->path_len : SL_L7_EV_PATH;
	memcpy(buf, e->path, n);
	buf[n] = '\0';
	cJSON_AddStringToObject(h, "path", buf);
	if (e->path_len > SL_L7_EV_PATH)
		cJSON_AddBoolToObject(h, "path_truncated", true);
	n = e->host_len < SL_L7_EV_HOST ? e->host_len : SL_L7_EV_HOST;
	memcpy(buf, e->host, n);
	buf[n] = '\0';
	if (n)
		cJSON_AddStringToObject(h, "host", buf);
	if (e->status)
		cJSON_AddNumberToObject(h, "status", e->status);
	if (pol)
		cJSON_AddStringToObject(o, "policy", pol);
	return o;
}

/* An HTTP request telemetry sampled, with its latency (docs/api.md). */
static cJSON *request_flow_json(const struct agent *a, const struct flow_rec *r)
{
	const struct sl_http_event *e = &r->req;
	bool server = e->role == SL_L4_SERVER, trunc;
	cJSON *o = flow_head(r), *h, *t, *cl, *sv;
	char path[SL_HT_EV_PATH + 1], hex[33];
	struct reqev_trace tr;

	cJSON_AddStringToObject(o, "type", "request");
	cJSON_AddStringToObject(o, "protocol", "HTTP");
	/* the pod whose veth saw it answered (server) or asked (client) */
	cJSON_AddStringToObject(o, "observed", server ? "server" : "client");
	cl = flow_side(a, server ? e->peer : e->local, e->family,
		       htons(server ? e->pport : e->lport), 0, false, false);
	sv = flow_side(a, server ? e->local : e->peer, e->family,
		       htons(server ? e->lport : e->pport), 0, false, true);
	cJSON_AddItemToObject(o, "source", cl);
	cJSON_AddItemToObject(o, "destination", sv);
	h = cJSON_AddObjectToObject(o, "http");
	cJSON_AddStringToObject(h, "method", e->method < SL_HTTP_OTHER ? httppol_methods[e->method] :
									"_OTHER");
	if (e->path_len) {
		reqev_path(e, path, sizeof(path), &trunc);
		cJSON_AddStringToObject(h, "path", path);
		if (trunc)
			cJSON_AddBoolToObject(h, "path_truncated", true);
	}
	if (e->status)
		cJSON_AddNumberToObject(h, "status", e->status);
	cJSON_AddNumberToObject(h, "duration_ms", (double)e->dur_ns / 1e6);
	cJSON_AddNumberToObject(h, "time_to_first_byte_ms", (double)e->ttfb_ns / 1e6);
	cJSON_AddNumberToObject(h, "request_bytes", e->req_bytes);
	cJSON_AddNumberToObject(h, "response_bytes", e->resp_bytes);
	if (e->chunks)
		cJSON_AddNumberToObject(h, "chunks", e->chunks);
	if (reqev_trace(e, &tr)) {
		t = cJSON_AddObjectToObject(o, "trace");
		reqev_hex(tr.trace_id, 16, hex);
		cJSON_AddStringToObject(t, "trace_id", hex);
		reqev_hex(tr.parent_id, 8, hex);
		cJSON_AddStringToObject(t, "parent_span_id", hex);
		cJSON_AddBoolToObject(t, "sampled", tr.flags & 1);
	}
	return o;
}

static cJSON *flow_json(const struct agent *a, const struct flow_rec *r)
{
	const struct sl_pol_event *e = &r->ev;
	cJSON *o;
	const char *pn = proto_name(e->proto);
	bool egress = e->dir == SL_POL_EGRESS;

	if (r->kind == FLOW_HTTP)
		return http_flow_json(a, r);
	if (r->kind == FLOW_REQUEST)
		return request_flow_json(a, r);
	o = flow_head(r);
	cJSON_AddStringToObject(o, "type", "l4");
	cJSON_AddStringToObject(o, "verdict", e->verdict == SL_VERDICT_ALLOW ? "allowed" : "denied");
	cJSON_AddStringToObject(o, "reason",
				e->reason < SL_POL_R_MAX ? reason_names[e->reason] : "unknown");
	cJSON_AddStringToObject(o, "direction", egress ? "egress" : "ingress");
	if (pn)
		cJSON_AddStringToObject(o, "protocol", pn);
	else
		cJSON_AddNumberToObject(o, "protocol", e->proto);
	cJSON_AddItemToObject(o, "source",
			      flow_side(a, e->saddr, e->family, e->sport, e->peer_id, !egress, false));
	cJSON_AddItemToObject(o, "destination",
			      flow_side(a, e->daddr, e->family, e->dport, e->peer_id, egress, true));
	if (e->policy && e->policy <= a->pol.n_policies)
		cJSON_AddStringToObject(o, "policy", a->pol.policies[e->policy - 1]);
	return o;
}

/* GET /v1/flows?since=N: the events after N, oldest first (docs/api.md). */
static char *api_flows(struct agent *a, const char *query, int *status)
{
	struct flow_rec *recs;
	uint64_t since = 0, next = 0, dropped = 0;
	cJSON *o, *items;
	const char *q;
	size_t i, n = 0;

	if (query && (q = strstr(query, "since="))) {
		char *end;

		errno = 0;
		since = strtoull(q + 6, &end, 10);
		if (errno || end == q + 6 || (*end && *end != '&'))
			return json_error(status, 400, "since: want a sequence number");
	}
	recs = calloc(FLOWS_PER_CALL, sizeof(*recs));
	if (!recs)
		return json_error(status, 500, "out of memory");
	if (a->flows)
		n = flows_read(a->flows, since, recs, FLOWS_PER_CALL, &next, &dropped);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "next", (double)next);
	cJSON_AddNumberToObject(o, "dropped", (double)dropped);
	cJSON_AddBoolToObject(o, "available", a->flows != NULL);
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(items, flow_json(a, &recs[i]));
	free(recs);
	store_trim(a->store);
	return json_take(o, status, 200);
}

static long map_entries(int fd)
{
	unsigned char key[64], next[64];
	long n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0 && n < (1L << 24)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

static long map_max(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -1;
	return info.max_entries;
}

static char *api_status(struct agent *a, int *status)
{
	cJSON *o = cJSON_CreateObject(), *progs, *maps, *objs, *rec, *e;
	size_t i;
	int fd, k;

	cJSON_AddStringToObject(o, "version", SLUICE_VERSION);
	cJSON_AddStringToObject(o, "bpffs", a->cfg.bpffs_root);
	e = cJSON_AddObjectToObject(o, "node");
	cJSON_AddStringToObject(e, "netns", a->cfg.netns);
	cJSON_AddStringToObject(e, "cgroup", a->cfg.cgroup);
	cJSON_AddStringToObject(e, "uplink", a->cfg.uplink);
	e = cJSON_AddObjectToObject(o, "telemetry");
	cJSON_AddBoolToObject(e, "l4", a->tel_l4 != NULL);
	cJSON_AddBoolToObject(e, "http", a->tel_http != NULL);
	e = cJSON_AddObjectToObject(o, "http_policy");
	cJSON_AddBoolToObject(e, "enforced", loader_l7_ready(a->loader));
	if (!loader_l7_ready(a->loader))
		cJSON_AddStringToObject(e, "error", loader_l7_error(a->loader));
	progs = cJSON_AddArrayToObject(o, "programs");
	for (i = 0; i < loader_prog_count(a->loader); i++) {
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", loader_prog_name(a->loader, i));
		cJSON_AddBoolToObject(e, "loaded", true);
		cJSON_AddNumberToObject(e, "links", loader_prog_links(a->loader, i));
		cJSON_AddItemToArray(progs, e);
	}
	maps = cJSON_AddArrayToObject(o, "maps");
	for (i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++) {
		fd = loader_map_fd(a->loader, map_names[i]);
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", map_names[i]);
		cJSON_AddNumberToObject(e, "entries", map_entries(fd));
		cJSON_AddNumberToObject(e, "max_entries", map_max(fd));
		cJSON_AddItemToArray(maps, e);
	}
	objs = cJSON_AddObjectToObject(o, "objects");
	for (k = 0; k < OBJ_KIND_MAX; k++)
		cJSON_AddNumberToObject(objs, obj_kind_plural(k), store_count(a->store, k));
	cJSON_AddNumberToObject(o, "endpoints", (double)store_ep_count(a->store));
	rec = cJSON_AddObjectToObject(o, "reconcile");
	cJSON_AddNumberToObject(rec, "runs", a->reconcile_runs);
	cJSON_AddNumberToObject(rec, "writes", a->reconcile_writes);
	cJSON_AddNumberToObject(rec, "last_writes", a->reconcile_last_writes);
	cJSON_AddNumberToObject(rec, "errors", a->reconcile_errors);
	cJSON_AddNumberToObject(rec, "links_updated_at_start", loader_links_updated(a->loader));
	return json_take(o, status, 200);
}

char *agent_http(struct agent *a, const char *method, const char *url, const char *query,
		 const char *body, size_t len, int *ret_status)
{
	enum obj_kind kind;
	char *resp;
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");

	pthread_mutex_lock(&a->lock);
	a->api_requests++;
	if (get && !strcmp(url, "/v1/status"))
		resp = api_status(a, ret_status);
	else if (get && !strcmp(url, "/v1/telemetry"))
		resp = api_telemetry(a, ret_status);
	else if (get && !strcmp(url, "/v1/flows"))
		resp = api_flows(a, query, ret_status);
	else if (get && !strcmp(url, "/healthz"))
		resp = json_take(cJSON_CreateObject(), ret_status, 200);
	else if (post && !strcmp(url, "/v1/apply"))
		resp = api_apply(a, body, len, false, ret_status);
	else if (post && !strcmp(url, "/v1/delete"))
		resp = api_apply(a, body, len, true, ret_status);
	else if (get && !strncmp(url, "/v1/objects/", 12)) {
		if (obj_kind_parse(url + 12, &kind) < 0)
			resp = json_error(ret_status, 404, "unknown object kind in path");
		else
			resp = json_take(store_list(a->store, kind), ret_status, 200);
	} else if (get && !strcmp(url, "/v1/endpoints")) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToObject(o, "items", store_service_endpoints(a->store));
		store_trim(a->store);
		resp = json_take(o, ret_status, 200);
	} else if (post && !strcmp(url, "/v1/cni/add"))
		resp = api_cni(a, body, len, true, ret_status);
	else if (post && !strcmp(url, "/v1/cni/del"))
		resp = api_cni(a, body, len, false, ret_status);
	else if (!get && !post)
		resp = json_error(ret_status, 405, "method not allowed");
	else
		resp = json_error(ret_status, 404, "no such endpoint");
	if (*ret_status >= 400)
		a->api_errors++;
	pthread_mutex_unlock(&a->lock);
	return resp;
}

/* --- metrics -------------------------------------------------------------------------------- */

/* Sums a per-CPU value made only of __u64 counters over every CPU into out. */
static void percpu_sum(int fd, __u32 key, void *out, size_t size)
{
	size_t n = size / sizeof(__u64), i;
	int ncpu = libbpf_num_possible_cpus(), c;
	__u64 *v, *o = out;

	memset(out, 0, size);
	if (ncpu < 1)
		return;
	v = calloc((size_t)ncpu, size);
	if (!v)
		return;
	if (bpf_map_lookup_elem(fd, &key, v) == 0)
		for (c = 0; c < ncpu; c++)
			for (i = 0; i < n; i++)
				o[i] += v[(size_t)c * n + i];
	free(v);
}

/* Reads the telemetry maps into the series tables. Caller holds the lock. */
static int telemetry_collect(struct agent *a, const struct tel_names *n)
{
	int r = 0;

	if (a->tel_l4)
		r = tel_l4_collect(a->tel_l4, loader_map_fd(a->loader, "sluice_l4_flow"),
				   loader_map_fd(a->loader, "sluice_l4_drop"), n);
	if (r < 0)
		log_warn("agent", "L4 telemetry not collected", "err=\"%s\"", strerror(-r));
	if (r >= 0 && a->tel_http)
		r = tel_http_collect(a->tel_http, loader_map_fd(a->loader, "sluice_http_stats"), n);
	if (r < 0)
		log_warn("agent", "telemetry not collected", "err=\"%s\"", strerror(-r));
	return r;
}

/* Spans of requests: who a pod's address is. Caller holds a->lock. */
static void span_namer(void *ctx, const __u32 *addr, __u8 family, struct spans_who *w)
{
	struct agent *a = ctx;
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family == SL_AF_INET ? AF_INET : AF_INET6, addr, ip, sizeof(ip));
	if (pod_of_ip(a->store, ip, &w->ns, &w->pod))
		w->service = service_of_pod(a->store, w->ns, w->pod);
}

/* The flows thread's sink of request events: those with a traceparent become spans. */
static void on_request(void *ctx, const struct flow_rec *r)
{
	struct agent *a = ctx;

	spans_add(a->spans, &r->req, r->realtime_ns);
}

/*
 * The OTLP exporter's bodies: an ExportMetricsServiceRequest of the telemetry, or an
 * ExportTraceServiceRequest of the spans waiting; NULL when there is nothing.
 */
static char *otlp_build(void *ctx, enum otlp_signal sig)
{
	struct agent *a = ctx;
	cJSON *req, *rm, *res, *attrs, *kv, *sm, *metrics;
	struct tel_names n = { 0 };
	struct timespec ts;
	char host[256] = "", *body = NULL;
	uint64_t now;
	int r;

	if (sig == OTLP_TRACES) {
		if (!a->spans)
			return NULL;
		pthread_mutex_lock(&a->lock);
		body = spans_take_otlp(a->spans, span_namer, a);
		store_trim(a->store);
		pthread_mutex_unlock(&a->lock);
		return body;
	}
	req = cJSON_CreateObject();
	if (!req)
		return NULL;
	gethostname(host, sizeof(host) - 1);
	rm = cJSON_AddArrayToObject(req, "resourceMetrics");
	res = cJSON_CreateObject();
	cJSON_AddItemToArray(rm, res);
	attrs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(res, "resource"), "attributes");
	kv = cJSON_CreateObject();
	cJSON_AddStringToObject(kv, "key", "service.name");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(kv, "value"), "stringValue", "sluice-agent");
	cJSON_AddItemToArray(attrs, kv);
	kv = cJSON_CreateObject();
	cJSON_AddStringToObject(kv, "key", "host.name");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(kv, "value"), "stringValue", host);
	cJSON_AddItemToArray(attrs, kv);
	sm = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(res, "scopeMetrics"), sm);
	kv = cJSON_AddObjectToObject(sm, "scope");
	cJSON_AddStringToObject(kv, "name", "sluice");
	cJSON_AddStringToObject(kv, "version", SLUICE_VERSION);
	metrics = cJSON_AddArrayToObject(sm, "metrics");
	pthread_mutex_lock(&a->lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	r = tel_names_build(a->store, &n);
	if (r == 0)
		r = telemetry_collect(a, &n);
	if (r >= 0 && a->tel_l4)
		r = tel_l4_otlp(a->tel_l4, metrics, a->start_unix_ns, now);
	if (r >= 0 && a->tel_http)
		r = tel_http_otlp(a->tel_http, metrics, a->start_unix_ns, now);
	tel_names_free(&n);
	store_trim(a->store);
	pthread_mutex_unlock(&a->lock);
	if (r >= 0 && metrics)
		body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	return body;
}

/*
 * GET /v1/telemetry: the HTTP series as they are now (cumulative), for `sluice top`:
 * {"time_ns", "bounds": [s...], "http": [{"side", "labels": {...}, "count", "errors",
 * "duration_sum_s", "buckets": [...]}]}. A series counts as errors when its labels carry
 * error_type (so not when the allow-list leaves error_type out). Caller holds the lock.
 */
static char *api_telemetry(struct agent *a, int *status)
{
	static const __u32 bus[] = { SL_HTTP_BOUNDS_US };
	cJSON *o = cJSON_CreateObject(), *arr, *e, *b;
	struct tel_names n;
	struct timespec ts;
	const uint64_t *v;
	const char *labels;
	size_t i, k;
	int side, r;

	if (!a->tel_http) {
		cJSON_Delete(o);
		return json_error(status, 409, "HTTP telemetry is off (http_telemetry: 0)");
	}
	r = tel_names_build(a->store, &n);
	if (r == 0)
		r = telemetry_collect(a, &n);
	tel_names_free(&n);
	store_trim(a->store);
	if (r < 0) {
		cJSON_Delete(o);
		return json_error(status, 500, strerror(-r));
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	cJSON_AddNumberToObject(o, "time_ns", (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec);
	b = cJSON_AddArrayToObject(o, "bounds");
	for (k = 0; k < sizeof(bus) / sizeof(bus[0]); k++)
		cJSON_AddItemToArray(b, cJSON_CreateNumber(bus[k] / 1e6));
	arr = cJSON_AddArrayToObject(o, "http");
	for (side = 0; side < 2; side++) {
		const struct tel_series *t = tel_http_series(a->tel_http, side == 0);

		for (i = 0; i < tel_series_count(t); i++) {
			tel_series_at(t, i, &labels, &v);
			e = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, e);
			cJSON_AddStringToObject(e, "side", side == 0 ? "server" : "client");
			cJSON_AddItemToObject(e, "labels", tel_labels_json(labels));
			cJSON_AddNumberToObject(e, "count", (double)v[offsetof(struct sl_http_sval, count) / 8]);
			cJSON_AddNumberToObject(e, "errors", strstr(labels, "error_type=\"") ?
						(double)v[offsetof(struct sl_http_sval, count) / 8] : 0);
			cJSON_AddNumberToObject(e, "duration_sum_s",
						(double)v[offsetof(struct sl_http_sval, dur_sum_ns) / 8] / 1e9);
			b = cJSON_AddArrayToObject(e, "buckets");
			for (k = 0; k < SL_HTTP_BUCKETS; k++)
				cJSON_AddItemToArray(b, cJSON_CreateNumber(
					(double)v[offsetof(struct sl_http_sval, dur) / 8 + k]));
		}
	}
	return json_take(o, status, 200);
}

/* The L4 and HTTP telemetry families, and how many series each group holds. */
static void telemetry_write(struct agent *a, FILE *f)
{
	struct tel_names n;
	int r;

	if (!a->tel_l4 && !a->tel_http)
		return;
	r = tel_names_build(a->store, &n);
	if (r < 0) {
		log_warn("agent", "telemetry not exported", "err=\"%s\"", strerror(-r));
		goto out;
	}
	r = telemetry_collect(a, &n);
	if (r < 0)
		goto out;
	if (a->tel_l4)
		tel_l4_prom(a->tel_l4, f);
	if (a->tel_http)
		tel_http_prom(a->tel_http, f);
	fprintf(f, "# HELP sluice_telemetry_series Series of a metric group, and the label sets "
		   "summed into its overflow series.\n# TYPE sluice_telemetry_series gauge\n");
	if (a->tel_l4) {
		tel_series_gauge(f, "tcp", tel_l4_series(a->tel_l4));
		tel_series_gauge(f, "drops", tel_l4_drop_series(a->tel_l4));
	}
	if (a->tel_http) {
		tel_series_gauge(f, "http_server", tel_http_series(a->tel_http, true));
		tel_series_gauge(f, "http_client", tel_http_series(a->tel_http, false));
	}
out:
	tel_names_free(&n);
	store_trim(a->store);
}

char *agent_metrics(struct agent *a)
{
	struct sl_stat_val sv;
	struct sl_ep_stats es;
	const struct store_ep *ep;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;
	int fd, k;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	pthread_mutex_lock(&a->lock);
	fprintf(f, "# HELP sluice_build_info Sluice agent build.\n# TYPE sluice_build_info gauge\n"
		   "sluice_build_info{version=\"%s\"} 1\n", SLUICE_VERSION);
	fprintf(f, "# HELP sluice_program_links Live links of each BPF program.\n"
		   "# TYPE sluice_program_links gauge\n");
	for (i = 0; i < loader_prog_count(a->loader); i++)
		fprintf(f, "sluice_program_links{program=\"%s\"} %d\n",
			loader_prog_name(a->loader, i), loader_prog_links(a->loader, i));
	fprintf(f, "# HELP sluice_map_entries Entries in each pinned map.\n"
		   "# TYPE sluice_map_entries gauge\n");
	for (i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++)
		fprintf(f, "sluice_map_entries{map=\"%s\"} %ld\n", map_names[i],
			map_entries(loader_map_fd(a->loader, map_names[i])));
	fprintf(f, "# HELP sluice_map_max_entries Capacity of each pinned map.\n"
		   "# TYPE sluice_map_max_entries gauge\n");
	for (i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++)
		fprintf(f, "sluice_map_max_entries{map=\"%s\"} %ld\n", map_names[i],
			map_max(loader_map_fd(a->loader, map_names[i])));
	fprintf(f, "# HELP sluice_reconcile_runs_total Reconcile passes.\n"
		   "# TYPE sluice_reconcile_runs_total counter\nsluice_reconcile_runs_total %lu\n",
		a->reconcile_runs);
	fprintf(f, "# HELP sluice_reconcile_writes_total Map writes made by reconciles.\n"
		   "# TYPE sluice_reconcile_writes_total counter\n"
		   "sluice_reconcile_writes_total %lu\n", a->reconcile_writes);
	fprintf(f, "# HELP sluice_reconcile_errors_total Failed reconciles.\n"
		   "# TYPE sluice_reconcile_errors_total counter\n"
		   "sluice_reconcile_errors_total %lu\n", a->reconcile_errors);
	fprintf(f, "# HELP sluice_map_full_errors_total Reconciles that failed on a full map.\n"
		   "# TYPE sluice_map_full_errors_total counter\n"
		   "sluice_map_full_errors_total %lu\n", a->map_full_errors);
	fprintf(f, "# HELP sluice_api_requests_total Local API requests.\n"
		   "# TYPE sluice_api_requests_total counter\nsluice_api_requests_total %lu\n",
		a->api_requests);
	fprintf(f, "# HELP sluice_objects Desired-state objects by kind.\n"
		   "# TYPE sluice_objects gauge\n");
	for (k = 0; k < OBJ_KIND_MAX; k++)
		fprintf(f, "sluice_objects{kind=\"%s\"} %d\n", obj_kind_name(k),
			store_count(a->store, k));
	fd = loader_map_fd(a->loader, "sluice_stats");
	fprintf(f, "# HELP sluice_datapath_packets_total Packets seen by the datapath, by counter.\n"
		   "# TYPE sluice_datapath_packets_total counter\n");
	for (k = 0; k < SL_STAT_MAX; k++) {
		percpu_sum(fd, k, &sv, sizeof(sv));
		fprintf(f, "sluice_datapath_packets_total{counter=\"%s\"} %llu\n", stat_names[k],
			(unsigned long long)sv.packets);
	}
	fprintf(f, "# HELP sluice_datapath_bytes_total Bytes seen by the datapath, by counter.\n"
		   "# TYPE sluice_datapath_bytes_total counter\n");
	for (k = 0; k < SL_STAT_MAX; k++) {
		percpu_sum(fd, k, &sv, sizeof(sv));
		fprintf(f, "sluice_datapath_bytes_total{counter=\"%s\"} %llu\n", stat_names[k],
			(unsigned long long)sv.bytes);
	}
	fd = loader_map_fd(a->loader, "sluice_ep_stats");
	fprintf(f, "# HELP sluice_endpoint_packets_total Packets through a pod's veth.\n"
		   "# TYPE sluice_endpoint_packets_total counter\n");
	for (i = 0; i < store_ep_count(a->store); i++) {
		ep = store_ep_at(a->store, i);
		percpu_sum(fd, (__u32)ep->host_ifindex, &es, sizeof(es));
		fprintf(f, "sluice_endpoint_packets_total{k8s_namespace_name=\"%s\",k8s_pod_name=\"%s\",direction=\"from_pod\"} %llu\n",
			ep->pod_ns, ep->pod_name, (unsigned long long)es.from_pod_packets);
		fprintf(f, "sluice_endpoint_packets_total{k8s_namespace_name=\"%s\",k8s_pod_name=\"%s\",direction=\"to_pod\"} %llu\n",
			ep->pod_ns, ep->pod_name, (unsigned long long)es.to_pod_packets);
	}
	fprintf(f, "# HELP sluice_endpoint_bytes_total Bytes through a pod's veth.\n"
		   "# TYPE sluice_endpoint_bytes_total counter\n");
	for (i = 0; i < store_ep_count(a->store); i++) {
		ep = store_ep_at(a->store, i);
		percpu_sum(fd, (__u32)ep->host_ifindex, &es, sizeof(es));
		fprintf(f, "sluice_endpoint_bytes_total{k8s_namespace_name=\"%s\",k8s_pod_name=\"%s\",direction=\"from_pod\"} %llu\n",
			ep->pod_ns, ep->pod_name, (unsigned long long)es.from_pod_bytes);
		fprintf(f, "sluice_endpoint_bytes_total{k8s_namespace_name=\"%s\",k8s_pod_name=\"%s\",direction=\"to_pod\"} %llu\n",
			ep->pod_ns, ep->pod_name, (unsigned long long)es.to_pod_bytes);
	}
	telemetry_write(a, f);
	if (a->otlp) {
		struct otlp_stats os;

		otlp_stats_get(a->otlp, &os);
		fprintf(f, "# HELP sluice_otlp_exports_total OTLP export bodies, by what became of them "
			   "(failed counts tries).\n# TYPE sluice_otlp_exports_total counter\n"
			   "sluice_otlp_exports_total{result=\"sent\"} %llu\n"
			   "sluice_otlp_exports_total{result=\"failed\"} %llu\n"
			   "sluice_otlp_exports_total{result=\"dropped\"} %llu\n"
			   "# HELP sluice_otlp_queue_bodies OTLP export bodies waiting for the collector.\n"
			   "# TYPE sluice_otlp_queue_bodies gauge\nsluice_otlp_queue_bodies %llu\n"
			   "# HELP sluice_otlp_queue_bytes Bytes of the bodies waiting.\n"
			   "# TYPE sluice_otlp_queue_bytes gauge\nsluice_otlp_queue_bytes %llu\n",
			(unsigned long long)os.sent, (unsigned long long)os.failed,
			(unsigned long long)os.dropped, (unsigned long long)os.queued,
			(unsigned long long)os.queued_bytes);
	}
	if (a->spans) {
		struct spans_stats ss;

		spans_stats_get(a->spans, &ss);
		fprintf(f, "# HELP sluice_otlp_spans_total Spans of traced requests, by what became of "
			   "them (exported: put in an export body).\n"
			   "# TYPE sluice_otlp_spans_total counter\n"
			   "sluice_otlp_spans_total{result=\"exported\"} %llu\n"
			   "sluice_otlp_spans_total{result=\"dropped\"} %llu\n"
			   "# HELP sluice_otlp_spans_queued Spans waiting for the next export.\n"
			   "# TYPE sluice_otlp_spans_queued gauge\nsluice_otlp_spans_queued %llu\n",
			(unsigned long long)ss.taken, (unsigned long long)ss.dropped,
			(unsigned long long)ss.queued);
	}
	pthread_mutex_unlock(&a->lock);
	fclose(f);
	return buf;
}

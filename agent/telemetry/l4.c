// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/telemetry/l4.h"
#include "agent/telemetry/mapwalk.h"
#include "agent/telemetry/names.h"
#include "agent/telemetry/series.h"
#include "sl_abi.h"

#define N_VALS	   (sizeof(struct sl_l4_val) / sizeof(__u64))
#define N_DVALS	   (sizeof(struct sl_l4_dval) / sizeof(__u64))
#define LABELS_MAX 1024

struct tel_l4 {
	unsigned int mask;
	struct tel_series *series;
	struct tel_series *drops;
};

int tel_l4_new(unsigned int label_mask, unsigned int series_limit, struct tel_l4 **ret)
{
	struct tel_l4 *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->mask = label_mask;
	r = tel_series_new(N_VALS, series_limit, &t->series);
	if (r == 0)
		r = tel_series_new(N_DVALS, series_limit, &t->drops);
	if (r < 0) {
		tel_series_free(t->series);
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

void tel_l4_free(struct tel_l4 *t)
{
	if (!t)
		return;
	tel_series_free(t->series);
	tel_series_free(t->drops);
	free(t);
}

/* --- export --------------------------------------------------------------------------------- */

/* The label set of one flow; false when it has no local pod (its pod went). */
static bool flow_labels(const struct tel_l4 *t, const struct tel_names *n, const struct sl_l4_key *k,
			char *buf, size_t len)
{
	const struct tel_pod *lp = tel_pod_of(n, k->family, k->local), *pp;
	const struct tel_svc *sv = NULL;
	char port[8], peer[INET6_ADDRSTRLEN];
	const char *v[TEL_LABEL_MAX] = { NULL };
	bool ok = true;
	int l;

	if (!lp || !lp->local)
		return false;
	pp = tel_pod_of(n, k->family, k->peer);
	if (k->svc_port)
		sv = tel_svc_of(n, k->family, k->svc, k->svc_port);
	else if (k->role == SL_L4_SERVER)
		sv = tel_backend_of(n, k->family, k->local, k->port); /* the Service it backs */
	snprintf(port, sizeof(port), "%u", k->svc_port ? k->svc_port : k->port);
	tel_addr_text(k->family, k->peer, peer, sizeof(peer));
	v[TEL_NAMESPACE] = lp->ns;
	v[TEL_POD] = lp->name;
	v[TEL_ROLE] = k->role == SL_L4_CLIENT ? "client" : "server";
	v[TEL_TRANSPORT] = "tcp";
	v[TEL_SERVER_PORT] = port;
	v[TEL_SERVICE] = sv ? sv->name : NULL;
	v[TEL_SERVICE_NS] = sv ? sv->ns : NULL;
	v[TEL_PEER_NAMESPACE] = pp ? pp->ns : NULL;
	v[TEL_PEER_POD] = pp ? pp->name : NULL;
	v[TEL_PEER_ADDRESS] = peer;
	buf[0] = '\0';
	for (l = 0; l < TEL_LABEL_MAX; l++)
		if (t->mask & (1u << l))
			ok = ok && tel_label_append(buf, len, tel_label_name(l), v[l]);
	return ok;
}

static const char *const drop_reasons[] = {
	[SL_POL_R_NO_RULE] = "policy_denied", [SL_POL_R_SPOOFED] = "spoofed_source",
	[SL_POL_R_FRAGMENT] = "fragment",    [SL_POL_R_L4_UNKNOWN] = "l4_unknown",
	[SL_DROP_NO_BACKEND] = "no_backend",
};

static const char *transport_name(__u8 proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	default: snprintf(buf, len, "%u", proto); return buf;
	}
}

/* The label set of one drop aggregate; false when its pod went. */
static bool drop_labels(const struct tel_l4 *t, const struct tel_names *n,
			const struct sl_l4_dkey *k, char *buf, size_t len)
{
	const struct tel_pod *lp = tel_pod_of(n, k->family, k->local), *pp;
	const struct tel_svc *sv = NULL;
	char port[8], peer[INET6_ADDRSTRLEN], proto[8];
	const char *v[TEL_LABEL_MAX] = { NULL };
	bool ok = true, tx = k->dir == SL_POL_EGRESS;
	int l;

	if (!lp || !lp->local)
		return false;
	pp = tel_pod_of(n, k->family, k->peer);
	if (tx && k->port)
		sv = tel_svc_of(n, k->family, k->peer, k->port); /* sent to a frontend */
	else if (!tx && k->port)
		sv = tel_backend_of(n, k->family, k->local, k->port);
	snprintf(port, sizeof(port), "%u", k->port);
	tel_addr_text(k->family, k->peer, peer, sizeof(peer));
	v[TEL_NAMESPACE] = lp->ns;
	v[TEL_POD] = lp->name;
	v[TEL_TRANSPORT] = transport_name(k->proto, proto, sizeof(proto));
	v[TEL_SERVER_PORT] = k->port ? port : NULL;
	v[TEL_SERVICE] = sv ? sv->name : NULL;
	v[TEL_SERVICE_NS] = sv ? sv->ns : NULL;
	v[TEL_PEER_NAMESPACE] = pp ? pp->ns : NULL;
	v[TEL_PEER_POD] = pp ? pp->name : NULL;
	v[TEL_PEER_ADDRESS] = peer;
	v[TEL_ERROR_TYPE] = k->reason < sizeof(drop_reasons) / sizeof(drop_reasons[0]) &&
				    drop_reasons[k->reason] ? drop_reasons[k->reason] : "other";
	v[TEL_IO_DIRECTION] = tx ? "transmit" : "receive";
	buf[0] = '\0';
	for (l = 0; l < TEL_LABEL_MAX; l++)
		if (t->mask & (1u << l))
			ok = ok && tel_label_append(buf, len, tel_label_name(l), v[l]);
	return ok;
}

struct walk {
	struct tel_l4 *t;
	const struct tel_names *n;
};

static int drop_row(void *ctx, const void *key, const uint64_t *sum, bool *ret_delete)
{
	struct walk *w = ctx;
	char labels[LABELS_MAX];

	if (!drop_labels(w->t, w->n, key, labels, sizeof(labels))) {
		*ret_delete = true;
		return 0;
	}
	return tel_series_add(w->t->drops, labels, sum);
}

static int flow_row(void *ctx, const void *key, const uint64_t *sum, bool *ret_delete)
{
	struct walk *w = ctx;
	char labels[LABELS_MAX];

	if (!flow_labels(w->t, w->n, key, labels, sizeof(labels))) {
		*ret_delete = true; /* no pod of this node has the address any more */
		return 0;
	}
	return tel_series_add(w->t->series, labels, sum);
}

#define V(f) (offsetof(struct sl_l4_val, f) / sizeof(__u64))

static const __u32 rtt_bounds_us[] = { SL_RTT_BOUNDS_US };
static double rtt_bounds_s[SL_RTT_BUCKETS - 1];

#define COUNTER(p, o, u, h, f) { p, o, u, h, TEL_COUNTER, V(f), 0, 0, NULL, 0, -1 }
static const struct tel_family l4_fams[] = {
	COUNTER("sluice_tcp_connections_opened_total", "sluice.tcp.connections.opened",
		"{connection}", "TCP connections established, by the pod that opened or accepted them.",
		opened),
	COUNTER("sluice_tcp_connections_closed_total", "sluice.tcp.connections.closed",
		"{connection}", "Established TCP connections that ended, however they ended.", closed),
	COUNTER("sluice_tcp_connections_reset_total", "sluice.tcp.connections.reset",
		"{connection}", "Established TCP connections that ended with a reset, sent or received.",
		reset),
	COUNTER("sluice_tcp_connections_refused_total", "sluice.tcp.connections.refused",
		"{connection}", "TCP connects answered by a reset.", refused),
	COUNTER("sluice_tcp_connections_failed_total", "sluice.tcp.connections.failed",
		"{connection}", "TCP connects that never established otherwise (timeout, unreachable).",
		failed),
	COUNTER("sluice_tcp_sent_bytes_total", "sluice.tcp.sent", "By",
		"Payload bytes the peer acknowledged (live connections: flushed every second).",
		bytes_tx),
	COUNTER("sluice_tcp_received_bytes_total", "sluice.tcp.received", "By",
		"Payload bytes received (live connections: flushed every second).", bytes_rx),
	COUNTER("sluice_tcp_sent_segments_total", "sluice.tcp.sent.segments", "{segment}",
		"TCP segments sent, retransmissions and pure ACKs included.", segs_tx),
	COUNTER("sluice_tcp_received_segments_total", "sluice.tcp.received.segments", "{segment}",
		"TCP segments received.", segs_rx),
	COUNTER("sluice_tcp_retransmitted_segments_total", "sluice.tcp.retransmitted.segments",
		"{segment}", "TCP segments retransmitted.", retrans),
	{ "sluice_tcp_rtt_seconds", "sluice.tcp.rtt", "s",
	  "Smoothed round-trip time of TCP connections, one sample per closed connection.",
	  TEL_HIST, V(rtt), V(rtt_sum_us), 1e-6, rtt_bounds_s, SL_RTT_BUCKETS - 1, -1 },
};

#define D(f) (offsetof(struct sl_l4_dval, f) / sizeof(__u64))
static const struct tel_family drop_fams[] = {
	{ "sluice_dropped_packets_total", "sluice.network.dropped.packets", "{packet}",
	  "Packets of a pod's flows the datapath dropped, by reason (error_type).", TEL_COUNTER,
	  D(packets), 0, 0, NULL, 0, -1 },
	{ "sluice_dropped_bytes_total", "sluice.network.dropped", "By",
	  "Bytes of the packets dropped, by reason (error_type).", TEL_COUNTER, D(bytes), 0, 0,
	  NULL, 0, -1 },
};
#undef D
#undef COUNTER

int tel_l4_collect(struct tel_l4 *t, int flow_fd, int drop_fd, const struct tel_names *n)
{
	size_t i;
	int r;

	_Static_assert(sizeof(rtt_bounds_us) / sizeof(rtt_bounds_us[0]) == SL_RTT_BUCKETS - 1,
		       "one bound per bucket but the last");
	if (flow_fd < 0)
		return flow_fd;
	for (i = 0; i < SL_RTT_BUCKETS - 1; i++)
		rtt_bounds_s[i] = rtt_bounds_us[i] / 1e6;
	tel_series_begin(t->series);
	r = tel_map_walk(flow_fd, sizeof(struct sl_l4_key), N_VALS, flow_row,
			 &(struct walk){ t, n });
	if (r == 0)
		r = tel_series_end(t->series);
	if (r < 0)
		return r;
	tel_series_begin(t->drops);
	if (drop_fd >= 0)
		r = tel_map_walk(drop_fd, sizeof(struct sl_l4_dkey), N_DVALS, drop_row,
				 &(struct walk){ t, n });
	if (r == 0)
		r = tel_series_end(t->drops);
	return r < 0 ? r : (int)tel_series_count(t->series);
}

void tel_l4_prom(const struct tel_l4 *t, FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(l4_fams) / sizeof(l4_fams[0]); i++)
		tel_family_prom(f, t->series, &l4_fams[i]);
	for (i = 0; i < sizeof(drop_fams) / sizeof(drop_fams[0]); i++)
		tel_family_prom(f, t->drops, &drop_fams[i]);
}

int tel_l4_otlp(const struct tel_l4 *t, cJSON *metrics, uint64_t start_ns, uint64_t now_ns)
{
	size_t i;
	int r = 0;

	for (i = 0; i < sizeof(l4_fams) / sizeof(l4_fams[0]) && !r; i++)
		r = tel_family_otlp(metrics, t->series, &l4_fams[i], start_ns, now_ns);
	for (i = 0; i < sizeof(drop_fams) / sizeof(drop_fams[0]) && !r; i++)
		r = tel_family_otlp(metrics, t->drops, &drop_fams[i], start_ns, now_ns);
	return r;
}

const struct tel_series *tel_l4_series(const struct tel_l4 *t)
{
	return t->series;
}

const struct tel_series *tel_l4_drop_series(const struct tel_l4 *t)
{
	return t->drops;
}

void tel_l4_forget(int flow_fd, int drop_fd, const char *ip)
{
	tel_map_forget(flow_fd, sizeof(struct sl_l4_key), offsetof(struct sl_l4_key, family), ip);
	if (drop_fd >= 0)
		tel_map_forget(drop_fd, sizeof(struct sl_l4_dkey), offsetof(struct sl_l4_dkey, family),
			       ip);
}

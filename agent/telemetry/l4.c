// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "agent/telemetry/l4.h"
#include "agent/telemetry/series.h"
#include "ipaddr.h"
#include "jsonget.h"
#include "sl_abi.h"

#define N_VALS	   (sizeof(struct sl_l4_val) / sizeof(__u64))
#define LABELS_MAX 1024

static const char *const label_names[TEL_LABEL_MAX] = {
	[TEL_NAMESPACE] = "k8s_namespace_name",
	[TEL_POD] = "k8s_pod_name",
	[TEL_ROLE] = "role",
	[TEL_TRANSPORT] = "network_transport",
	[TEL_SERVER_PORT] = "server_port",
	[TEL_SERVICE] = "service_name",
	[TEL_SERVICE_NS] = "service_namespace",
	[TEL_PEER_NAMESPACE] = "peer_k8s_namespace_name",
	[TEL_PEER_POD] = "peer_k8s_pod_name",
	[TEL_PEER_ADDRESS] = "network_peer_address",
};

const char *tel_label_name(enum tel_label l)
{
	return l < TEL_LABEL_MAX ? label_names[l] : "?";
}

int tel_labels_parse(const char *list, unsigned int *ret_mask, char *err, size_t errlen)
{
	char buf[512], *tok, *save = NULL, *p;
	unsigned int mask = 0;
	int l;

	if (!list || !*list) {
		*ret_mask = TEL_LABELS_DEFAULT;
		return 0;
	}
	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "telemetry_labels: longer than %zu characters", sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		for (p = tok + strlen(tok); p > tok && p[-1] == ' ';)
			*--p = '\0';
		for (l = 0; l < TEL_LABEL_MAX; l++)
			if (!strcmp(tok, label_names[l]))
				break;
		if (l == TEL_LABEL_MAX) {
			snprintf(err, errlen,
				 "telemetry_labels: unknown label '%s' (want a comma-separated list "
				 "of k8s_namespace_name, k8s_pod_name, role, network_transport, "
				 "server_port, service_name, service_namespace, peer_k8s_namespace_name, "
				 "peer_k8s_pod_name, network_peer_address)",
				 tok);
			return -EINVAL;
		}
		mask |= 1u << l;
	}
	*ret_mask = mask;
	return 0;
}

struct tel_l4 {
	unsigned int mask;
	struct tel_series *series;
};

int tel_l4_new(unsigned int label_mask, unsigned int series_limit, struct tel_l4 **ret)
{
	struct tel_l4 *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->mask = label_mask;
	r = tel_series_new(N_VALS, series_limit, &t->series);
	if (r < 0) {
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
	free(t);
}

/* --- names: addresses of pods and frontends of Services, from the desired state ------------ */

struct pod_ent {
	__u32 addr[4];
	__u8 family;
	bool local; /* a pod of this node (a CNI-registered endpoint) */
	const char *ns, *name;
};

struct svc_ent {
	__u32 addr[4];
	__u16 port; /* host byte order */
	__u8 family;
	const char *ns, *name;
};

struct names {
	struct pod_ent *pods;
	size_t n_pods;
	struct svc_ent *svcs;
	size_t n_svcs;
};

static bool abi_addr(const char *s, __u32 out[4], __u8 *family)
{
	struct ip_addr a;

	if (!s || ip_parse(s, &a) < 0)
		return false;
	memset(out, 0, 16);
	memcpy(out, a.a, a.family == AF_INET ? 4 : 16);
	*family = a.family == AF_INET ? SL_AF_INET : SL_AF_INET6;
	return true;
}

static int cmp_addr(__u8 fa, const __u32 *a, __u8 fb, const __u32 *b)
{
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return memcmp(a, b, 16);
}

static int cmp_pod(const void *x, const void *y)
{
	const struct pod_ent *a = x, *b = y;
	int c = cmp_addr(a->family, a->addr, b->family, b->addr);

	/* local endpoints first among equal addresses: they are this node's truth */
	return c ? c : (int)b->local - (int)a->local;
}

static int cmp_svc(const void *x, const void *y)
{
	const struct svc_ent *a = x, *b = y;
	int c = cmp_addr(a->family, a->addr, b->family, b->addr);

	return c ? c : (int)a->port - (int)b->port;
}

static int pod_push(struct names *n, size_t *cap, const char *ip, const char *ns,
		    const char *name, bool local)
{
	struct pod_ent *p;

	if (n->n_pods == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		p = realloc(n->pods, *cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		n->pods = p;
	}
	p = &n->pods[n->n_pods];
	if (!abi_addr(ip, p->addr, &p->family))
		return 0;
	p->local = local;
	p->ns = ns;
	p->name = name;
	n->n_pods++;
	return 0;
}

static int svc_push(struct names *n, size_t *cap, const char *ip, int port, const char *ns,
		    const char *name)
{
	struct svc_ent *s;

	if (n->n_svcs == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		s = realloc(n->svcs, *cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		n->svcs = s;
	}
	s = &n->svcs[n->n_svcs];
	if (!abi_addr(ip, s->addr, &s->family) || port <= 0 || port > 65535)
		return 0;
	s->port = (__u16)port;
	s->ns = ns;
	s->name = name;
	n->n_svcs++;
	return 0;
}

/* Pointers into st stay valid until store_trim. */
static int names_build(const struct store *st, struct names *n)
{
	size_t cp = 0, cs = 0, i;
	const cJSON *o, *md, *ipo, *ips, *port;
	const char *ns, *name, *single;
	int k, cnt, r = 0;

	memset(n, 0, sizeof(*n));
	for (i = 0; i < store_ep_count(st) && !r; i++) {
		const struct store_ep *ep = store_ep_at(st, i);

		for (k = 0; k < ep->n_ips && !r; k++)
			r = pod_push(n, &cp, ep->ips[k], ep->pod_ns, ep->pod_name, true);
	}
	cnt = store_count(st, OBJ_POD);
	for (k = 0; k < cnt && !r; k++) {
		o = store_obj_at(st, OBJ_POD, k);
		md = jget(o, "metadata");
		ns = jstr(md, "namespace") ?: "default";
		name = jstr(md, "name");
		cJSON_ArrayForEach(ipo, jget(jget(o, "status"), "podIPs"))
			if (!r)
				r = pod_push(n, &cp, jstr(ipo, "ip"), ns, name, false);
		if (!r && !cJSON_GetArraySize(jget(jget(o, "status"), "podIPs")))
			r = pod_push(n, &cp, jstr(jget(o, "status"), "podIP"), ns, name, false);
	}
	cnt = store_count(st, OBJ_SERVICE);
	for (k = 0; k < cnt && !r; k++) {
		o = store_obj_at(st, OBJ_SERVICE, k);
		md = jget(o, "metadata");
		ns = jstr(md, "namespace") ?: "default";
		name = jstr(md, "name");
		ips = jget(jget(o, "spec"), "clusterIPs");
		single = jstr(jget(o, "spec"), "clusterIP");
		cJSON_ArrayForEach(port, jget(jget(o, "spec"), "ports")) {
			const cJSON *pn = jget(port, "port");

			if (!cJSON_IsNumber(pn) || strcmp(jstr(port, "protocol") ?: "TCP", "TCP"))
				continue;
			if (cJSON_GetArraySize(ips) > 0) {
				cJSON_ArrayForEach(ipo, ips)
					if (!r && cJSON_IsString(ipo))
						r = svc_push(n, &cs, ipo->valuestring, pn->valueint, ns,
							     name);
			} else if (!r) {
				r = svc_push(n, &cs, single, pn->valueint, ns, name);
			}
		}
	}
	if (n->n_pods)
		qsort(n->pods, n->n_pods, sizeof(*n->pods), cmp_pod);
	if (n->n_svcs)
		qsort(n->svcs, n->n_svcs, sizeof(*n->svcs), cmp_svc);
	return r;
}

static void names_free(struct names *n)
{
	free(n->pods);
	free(n->svcs);
}

/* The first (local first) pod of an address, or NULL. */
static const struct pod_ent *pod_of(const struct names *n, __u8 family, const __u32 *addr)
{
	size_t lo = 0, hi = n->n_pods, mid;
	int c;

	while (lo < hi) { /* lower bound */
		mid = (lo + hi) / 2;
		c = cmp_addr(n->pods[mid].family, n->pods[mid].addr, family, addr);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n->n_pods && !cmp_addr(n->pods[lo].family, n->pods[lo].addr, family, addr))
		return &n->pods[lo];
	return NULL;
}

static const struct svc_ent *svc_of(const struct names *n, __u8 family, const __u32 *addr,
				    __u16 port)
{
	struct svc_ent k = { .family = family, .port = port };

	if (!n->n_svcs)
		return NULL;
	memcpy(k.addr, addr, sizeof(k.addr));
	return bsearch(&k, n->svcs, n->n_svcs, sizeof(k), cmp_svc);
}

/* --- export --------------------------------------------------------------------------------- */

static void addr_text(__u8 family, const __u32 *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == SL_AF_INET ? AF_INET : AF_INET6, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* The label set of one flow; false when it has no local pod (its pod went). */
static bool flow_labels(const struct tel_l4 *t, const struct names *n, const struct sl_l4_key *k,
			char *buf, size_t len)
{
	const struct pod_ent *lp = pod_of(n, k->family, k->local), *pp;
	const struct svc_ent *sv = NULL;
	char port[8], peer[INET6_ADDRSTRLEN];
	const char *v[TEL_LABEL_MAX] = { NULL };
	bool ok = true;
	int l;

	if (!lp || !lp->local)
		return false;
	pp = pod_of(n, k->family, k->peer);
	if (k->svc_port)
		sv = svc_of(n, k->family, k->svc, k->svc_port);
	snprintf(port, sizeof(port), "%u", k->svc_port ? k->svc_port : k->port);
	addr_text(k->family, k->peer, peer, sizeof(peer));
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
			ok = ok && tel_label_append(buf, len, label_names[l], v[l]);
	return ok;
}

/* Keys to delete once a walk is over: deleting the key get_next_key stands on restarts it. */
struct doomed {
	struct sl_l4_key *k;
	size_t n, cap;
};

static int doomed_push(struct doomed *d, const struct sl_l4_key *k)
{
	struct sl_l4_key *nk;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		nk = realloc(d->k, d->cap * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		d->k = nk;
	}
	d->k[d->n++] = *k;
	return 0;
}

static void doomed_delete(struct doomed *d, int fd)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		bpf_map_delete_elem(fd, &d->k[i]);
	free(d->k);
}

static int flows_read(struct tel_l4 *t, int fd, const struct names *n)
{
	int ncpu = libbpf_num_possible_cpus(), c, r = 0;
	struct sl_l4_key key, next, *prev = NULL;
	struct doomed gone = { NULL, 0, 0 };
	char labels[LABELS_MAX];
	uint64_t sum[N_VALS];
	__u64 *pc;
	size_t i;

	if (ncpu < 1)
		return -EINVAL;
	pc = calloc((size_t)ncpu, sizeof(struct sl_l4_val));
	if (!pc)
		return -ENOMEM;
	while (r == 0 && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (!flow_labels(t, n, &key, labels, sizeof(labels))) {
			/* no pod of this node has the address any more: the flow goes with it */
			r = doomed_push(&gone, &key);
			continue;
		}
		if (bpf_map_lookup_elem(fd, &key, pc) < 0)
			continue;
		memset(sum, 0, sizeof(sum));
		for (c = 0; c < ncpu; c++)
			for (i = 0; i < N_VALS; i++)
				sum[i] += pc[(size_t)c * N_VALS + i];
		r = tel_series_add(t->series, labels, sum);
	}
	doomed_delete(&gone, fd);
	free(pc);
	return r;
}

#define V(f) (offsetof(struct sl_l4_val, f) / sizeof(__u64))

int tel_l4_write(struct tel_l4 *t, int flow_fd, const struct store *st, FILE *f)
{
	static const __u32 bounds_us[] = { SL_RTT_BOUNDS_US };
	double bounds_s[SL_RTT_BUCKETS - 1];
	struct names n;
	size_t i;
	int r;

	_Static_assert(sizeof(bounds_us) / sizeof(bounds_us[0]) == SL_RTT_BUCKETS - 1,
		       "one bound per bucket but the last");
	if (flow_fd < 0)
		return flow_fd;
	for (i = 0; i < SL_RTT_BUCKETS - 1; i++)
		bounds_s[i] = bounds_us[i] / 1e6;
	r = names_build(st, &n);
	if (r < 0) {
		names_free(&n);
		return r;
	}
	tel_series_begin(t->series);
	r = flows_read(t, flow_fd, &n);
	if (r == 0)
		r = tel_series_end(t->series);
	names_free(&n);
	if (r < 0)
		return r;
	tel_series_write(f, t->series, "sluice_tcp_connections_opened_total", "counter",
			 "TCP connections established, by the pod that opened or accepted them.",
			 V(opened));
	tel_series_write(f, t->series, "sluice_tcp_connections_closed_total", "counter",
			 "Established TCP connections that ended, however they ended.", V(closed));
	tel_series_write(f, t->series, "sluice_tcp_connections_reset_total", "counter",
			 "Established TCP connections that ended with a reset, sent or received.",
			 V(reset));
	tel_series_write(f, t->series, "sluice_tcp_connections_refused_total", "counter",
			 "TCP connects answered by a reset.", V(refused));
	tel_series_write(f, t->series, "sluice_tcp_connections_failed_total", "counter",
			 "TCP connects that never established otherwise (timeout, unreachable).",
			 V(failed));
	tel_series_write(f, t->series, "sluice_tcp_sent_bytes_total", "counter",
			 "Payload bytes the peer acknowledged, counted when a connection closes.",
			 V(bytes_tx));
	tel_series_write(f, t->series, "sluice_tcp_received_bytes_total", "counter",
			 "Payload bytes received, counted when a connection closes.", V(bytes_rx));
	tel_series_write(f, t->series, "sluice_tcp_sent_segments_total", "counter",
			 "TCP segments sent, retransmissions and pure ACKs included, at close.",
			 V(segs_tx));
	tel_series_write(f, t->series, "sluice_tcp_received_segments_total", "counter",
			 "TCP segments received, at close.", V(segs_rx));
	tel_series_write(f, t->series, "sluice_tcp_retransmitted_segments_total", "counter",
			 "TCP segments retransmitted, at close.", V(retrans));
	tel_series_write_hist(f, t->series, "sluice_tcp_rtt_seconds",
			      "Smoothed round-trip time of TCP connections, one sample per closed "
			      "connection.",
			      V(rtt), bounds_s, SL_RTT_BUCKETS - 1, V(rtt_sum_us), 1e-6);
	fprintf(f, "# HELP sluice_telemetry_series Series of a metric group, and the label sets summed into its overflow series.\n"
		   "# TYPE sluice_telemetry_series gauge\n"
		   "sluice_telemetry_series{group=\"tcp\",kind=\"series\"} %zu\n"
		   "sluice_telemetry_series{group=\"tcp\",kind=\"overflowed\"} %zu\n",
		tel_series_count(t->series) - (tel_series_overflowed(t->series) ? 1 : 0),
		tel_series_overflowed(t->series));
	return (int)tel_series_count(t->series);
}

void tel_l4_forget(int flow_fd, const char *ip)
{
	struct sl_l4_key key, next, *prev = NULL;
	struct doomed gone = { NULL, 0, 0 };
	__u32 addr[4];
	__u8 family;

	if (flow_fd < 0 || !abi_addr(ip, addr, &family))
		return;
	while (bpf_map_get_next_key(flow_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (key.family == family && !memcmp(key.local, addr, sizeof(addr)) &&
		    doomed_push(&gone, &key) < 0)
			break;
	}
	doomed_delete(&gone, flow_fd);
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one header both the BPF programs and userspace include: map keys and values, statistics
 * indices, the load-time config struct. Every struct has explicit padding; tests/unit/test_abi.c
 * pins sizes and offsets, so a layout change fails a test and must come with a new map name.
 */
#ifndef SL_ABI_H
#define SL_ABI_H

#ifdef __BPF__
/* vmlinux.h provides the __u types */
#else
#include <linux/types.h>
#endif

#define SL_MAX_ENDPOINTS 65536
#define SL_MAX_SERVICES	 65536
#define SL_MAX_BACKENDS	 262144
#define SL_MAX_BACKENDS_PER_SVC 1024
#define SL_MAX_CT	 262144 /* sluice_ct: two entries (forward and reply) per flow */
#define SL_MAX_SK_REV	 262144 /* sluice_sk_rev: translated sockets, for getpeername/recvmsg */
#define SL_SK_SLOTS	 131072 /* sluice_sk_slot: recent TCP connect()s; a power of two */
#define SL_MAX_AFFINITY	 65536
#define SL_MAX_MAGLEV_SVCS 1024  /* services with a Maglev table (NodePort, external, LB) */
#define SL_MAGLEV_DEFAULT 16381 /* prime; the agent may choose a larger prime per service */
#define SL_MAGLEV_MAX	 131071
#define SL_MAX_IPCACHE	 65536	/* sluice_ipcache: pod addresses, node addresses, ipBlock CIDRs */
#define SL_MAX_POLICY	 262144 /* sluice_policy: (context, peer identity, port) entries */
#define SL_MAX_POL_CT	 262144 /* sluice_pol_ct: two entries per tracked flow and hook */

#define SL_AF_INET  2
#define SL_AF_INET6 10

/* sluice_ep: pod address -> local endpoint. Addresses in network byte order; IPv4 in addr[0]. */
struct sl_ep_key {
	__u32 addr[4];
	__u8 family; /* SL_AF_INET or SL_AF_INET6 */
	__u8 pad[3];
};

#define SL_EP_F_INGRESS_ISOLATED (1u << 0) /* a NetworkPolicy selects the pod for ingress */
#define SL_EP_F_EGRESS_ISOLATED	 (1u << 1) /* ... for egress */
#define SL_EP_F_TRACK		 (1u << 2) /* track flows even where not isolated, so that a
					    * policy that isolates the pod later spares them */

struct sl_ep_val {
	__u32 ifindex; /* host-side veth, in the node's network namespace */
	__u32 ep_id;   /* agent-assigned endpoint id, stable across restarts */
	__u32 flags;   /* SL_EP_F_* */
	__u32 pol_ctx; /* policy context: key prefix into sluice_policy (0: none) */
};

/* sluice_svc: frontend (virtual address, port, protocol) -> service. */
struct sl_svc_key {
	__u32 addr[4];
	__u16 port;   /* network byte order */
	__u8 proto;   /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family;
};

#define SL_SVC_F_AFFINITY (1u << 0) /* sessionAffinity: ClientIP */
#define SL_SVC_F_NODEPORT (1u << 1) /* frontend is a node address + nodePort */
#define SL_SVC_F_EXTERNAL (1u << 2) /* frontend is an externalIP or LoadBalancer ingress IP */

/*
 * A frontend with count 0 exists but has no backend: connect() fails with ECONNREFUSED at
 * once and the tc/XDP programs drop (SL_STAT_NO_BACKEND) instead of letting the VIP leak.
 */
struct sl_svc_val {
	__u32 svc_id;		/* key prefix into sluice_backend and sluice_maglev */
	__u16 count;		/* backends in slots 0..count-1 */
	__u16 flags;		/* SL_SVC_F_* */
	__u32 affinity_timeout; /* seconds, with SL_SVC_F_AFFINITY */
	__u32 maglev_size;	/* entries of this service's sluice_maglev table; 0: none */
};

/* sluice_backend: (service, slot) -> backend address. */
struct sl_backend_key {
	__u32 svc_id;
	__u32 slot;
};

struct sl_backend_val {
	__u32 addr[4];
	__u16 port;   /* network byte order, the resolved targetPort */
	__u8 family;
	__u8 flags;
	__u32 ep_id;  /* local endpoint id, 0 when the backend is not on this node */
};

/*
 * sluice_ct: LRU connection tracking shared by the tc fallback NAT and XDP NodePort. Each
 * translated flow has a forward entry (client -> frontend, value: backend) and a reply entry
 * (backend -> client, value: frontend) used for reverse NAT. Ports in network byte order.
 */
#define SL_CT_DIR_FWD 0
#define SL_CT_DIR_REV 1

struct sl_ct_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 dir;  /* SL_CT_DIR_* */
	__u8 pad;
};

#define SL_CT_F_NODEPORT (1u << 0) /* created by XDP on the uplink; reply NAT at uplink egress */

struct sl_ct_val {
	__u32 addr[4];	  /* forward: backend address; reply: frontend address */
	__u16 port;	  /* forward: backend port; reply: frontend port */
	__u8 family;
	__u8 flags;	  /* SL_CT_F_* */
	__u32 svc_id;
	__u64 last_seen;  /* sl_now() (datapath clock, ns), refreshed at most once a second */
};

/* sluice_sk_rev: socket LB reverse entries: (socket cookie, backend) -> frontend. */
struct sl_sk_rev_key {
	__u64 cookie;
	__u32 addr[4]; /* backend address */
	__u16 port;    /* backend port, network byte order */
	__u8 family;
	__u8 pad[5];
};

struct sl_sk_rev_val {
	__u32 addr[4]; /* frontend address */
	__u16 port;    /* frontend port, network byte order */
	__u8 family;
	__u8 pad;
	__u32 svc_id;
};

/*
 * sluice_sk_slot: the translation of a TCP connect(), in slot cookie & (slots - 1) of an array,
 * for getpeername. A connect() writes a slot and no hash entry: any hash or LRU map update
 * from the connect hook costs about a microsecond here (a slot write about 0.1), and TCP
 * connections are where the rate is. A slot is overwritten once SL_SK_SLOTS later sockets have
 * cookies; the first getpeername() that finds its slot moves the entry into sluice_sk_rev,
 * whose LRU then keeps it while the socket uses it. UDP keeps using sluice_sk_rev.
 */
struct sl_sk_slot {
	__u64 cookie;	  /* 0: empty */
	__u32 be_addr[4]; /* the backend the connect() went to */
	__u16 be_port;	  /* network byte order */
	__u8 be_family;
	__u8 pad;
	struct sl_sk_rev_val fe;
};

/*
 * sluice_affinity: sessionAffinity ClientIP. The socket LB keys clients by network-namespace
 * cookie (a pod), the tc and XDP programs by source address; a hit is used only while the slot
 * still holds the same backend and the timeout has not passed.
 */
struct sl_aff_key {
	__u64 netns_cookie; /* socket LB; 0 for address-keyed entries */
	__u32 addr[4];	    /* tc/XDP: client address; zero for cookie-keyed entries */
	__u32 svc_id;
	__u8 family;
	__u8 pad[3];
};

struct sl_aff_val {
	__u64 last_used; /* sl_now() (datapath clock, ns) */
	__u32 slot;
	__u16 port;	 /* backend port at that slot, network byte order */
	__u8 family;
	__u8 pad;
	__u32 addr[4];	 /* backend address at that slot */
};

/*
 * Network policy. Every address has a numeric identity: a pod's stands for its namespace, the
 * namespace's labels, its own labels and the ipBlock prefixes its address falls in, so that
 * pods alike in all of those share one. sluice_ipcache (LPM trie) gives the identity of an
 * address; an address it does not hold is SL_ID_WORLD.
 */
#define SL_ID_ANY     0	  /* sluice_policy keys only: a rule for every peer */
#define SL_ID_HOST    1	  /* the node's own addresses: always allowed (kubelet probes) */
#define SL_ID_WORLD   2	  /* an address sluice_ipcache does not hold */
#define SL_ID_MIN_DYN 256 /* first identity the agent allocates */

/* prefixlen counts the bits after it: 32 (family and padding) plus the address prefix. */
struct sl_ipc_key {
	__u32 prefixlen;
	__u8 family;
	__u8 pad[3];
	__u32 addr[4];
};

struct sl_ipc_val {
	__u32 identity;
	__u32 flags;
};

/* Direction, as the endpoint sees it: also the hook (tc egress of the host veth = ingress). */
#define SL_POL_INGRESS 0
#define SL_POL_EGRESS  1

/*
 * sluice_policy: (context, peer identity, destination port, protocol, direction) -> allow. A
 * context is a set of endpoints whose policy is the same (same identity and named ports). A
 * lookup tries the exact port, then port 0 of the protocol (ranges in the value; none: every
 * port), then protocol 0 (every protocol and port, the only rule a fragment or an unknown L4
 * header can match), first for the peer's identity and then for SL_ID_ANY. A miss denies.
 */
struct sl_pol_key {
	__u32 ctx;
	__u32 identity;
	__u16 dport; /* network byte order; 0: see above */
	__u8 proto;  /* IPPROTO_TCP/UDP/SCTP, 0: every protocol */
	__u8 dir;    /* SL_POL_INGRESS / SL_POL_EGRESS */
};

#define SL_POL_RANGES 6

struct sl_port_range {
	__u16 lo; /* host byte order, inclusive */
	__u16 hi;
};

struct sl_pol_val {
	__u32 policy;	/* agent's index of a NetworkPolicy that allows it, for events */
	__u8 n_ranges;	/* dport 0: ranges that allow; 0 allows every port */
	__u8 flags;
	__u16 pad;
	struct sl_port_range r[SL_POL_RANGES];
};

/*
 * sluice_pol_ct: flows a policy hook let through. An allowed new flow gets a forward entry
 * (its tuple, at the hook that judged it) and a reply entry (the reversed tuple, at the same
 * endpoint's other hook), so later packets and replies pass on one lookup. A pure TCP SYN is
 * judged again; a UDP entry idle for SL_POL_UDP_IDLE_S is judged again.
 */
#define SL_PCT_F_REPLY	    (1u << 0)
#define SL_POL_UDP_IDLE_S   60

struct sl_pct_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 hook; /* SL_POL_INGRESS / SL_POL_EGRESS of the endpoint the entry belongs to */
	__u8 pad;
};

struct sl_pct_val {
	__u64 last_seen; /* sl_now() */
	__u32 policy;
	__u32 flags;	 /* SL_PCT_F_* */
};

/* Why a policy hook passed or dropped a packet: the reason of an event, and of a counter. */
enum sl_pol_reason {
	SL_POL_R_ALLOWED,     /* a rule of a selecting NetworkPolicy allows it */
	SL_POL_R_NO_RULE,     /* isolated, and no rule allows this peer and port */
	SL_POL_R_SPOOFED,     /* source address is not the sending pod's */
	SL_POL_R_FRAGMENT,    /* IP fragment, allowed only by a rule for every protocol */
	SL_POL_R_L4_UNKNOWN,  /* IPv6 extension header or other L4: the same */
	SL_POL_R_MAX,
};

#define SL_VERDICT_ALLOW 0
#define SL_VERDICT_DENY	 1

/* sluice_events (ring buffer): one record per judged new flow, rate-limited per CPU. */
struct sl_pol_event {
	__u64 ts_ns;	 /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 ep_id;	 /* the local endpoint whose policy judged it */
	__u32 peer_id;	 /* identity of the other side */
	__u32 policy;	 /* sl_pol_val.policy of the allowing entry, else 0 */
	__u16 sport;	 /* network byte order */
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 dir;	 /* SL_POL_INGRESS / SL_POL_EGRESS */
	__u8 verdict;	 /* SL_VERDICT_* */
	__u8 reason;	 /* enum sl_pol_reason */
	__u8 pad[3];
};

/*
 * L7 HTTP policy (HTTPPolicy, sluice.dev/v1alpha1). sock_ops puts every server socket a pod
 * accepts on a port that has HTTP rules into sluice_l7_socks. That SOCKHASH's stream parser
 * cuts the received byte stream into request heads, bodies and chunks; its verdict judges each
 * head against the rules of (pod address, port) and passes it to the server, or rewrites it
 * into a 403 sent back on the same socket and drops what belongs to it. Limits: a head (request
 * line and headers) of at most SL_L7_HEAD_MAX bytes, SL_L7_RULES_PER_PORT rules per port, rule
 * paths of at most SL_L7_PATH_MAX bytes and hosts of at most SL_L7_HOST_MAX.
 */
#define SL_MAX_L7_PORTS	     16384  /* sluice_l7_port: (pod address, port) with HTTP rules */
#define SL_MAX_L7_RULES	     262144 /* sluice_l7_rule */
#define SL_MAX_L7_SOCKS	     65536  /* sluice_l7_socks and sluice_l7_conn */
#define SL_L7_RULES_PER_PORT 64
#define SL_L7_PATH_MAX	     128
#define SL_L7_HOST_MAX	     64
#define SL_L7_HEAD_MAX	     8192

struct sl_l7_port_key {
	__u32 addr[4];
	__u16 port; /* network byte order */
	__u8 family;
	__u8 pad;
};

struct sl_l7_port_val {
	__u32 set;     /* rules sl_l7_rule_key {set, 0 .. n_rules - 1} */
	__u16 n_rules; /* at most SL_L7_RULES_PER_PORT */
	__u16 flags;
};

struct sl_l7_rule_key {
	__u32 set;
	__u32 idx;
};

/* HTTP methods as bits of sl_l7_rule.methods; any other token is SL_HTTP_OTHER. */
enum sl_http_method {
	SL_HTTP_GET,
	SL_HTTP_HEAD,
	SL_HTTP_POST,
	SL_HTTP_PUT,
	SL_HTTP_DELETE,
	SL_HTTP_CONNECT,
	SL_HTTP_OPTIONS,
	SL_HTTP_TRACE,
	SL_HTTP_PATCH,
	SL_HTTP_OTHER,
	SL_HTTP_METHOD_MAX,
};

#define SL_L7_PATH_ANY	  0
#define SL_L7_PATH_EXACT  1
#define SL_L7_PATH_PREFIX 2

/*
 * A request matches a rule when its method is one of methods (0: any), its path (the request
 * target up to '?') equals path or starts with it (path_kind), and its Host header, lower case
 * and without the port, equals host (host_len 0: any). A request that would take the
 * connection out of HTTP/1.x (an Upgrade header, or CONNECT) matches only a rule with
 * SL_L7_RULE_F_UPGRADE, and the rest of its connection is then the server's, unjudged.
 */
#define SL_L7_RULE_F_UPGRADE (1u << 0)

struct sl_l7_rule {
	__u32 methods;
	__u32 policy; /* agent's index of the HTTPPolicy, for events */
	__u32 flags;  /* SL_L7_RULE_F_* */
	__u16 path_len;
	__u8 path_kind;
	__u8 host_len;
	char host[SL_L7_HOST_MAX];
	char path[SL_L7_PATH_MAX];
};

enum sl_l7_reason {
	SL_L7_R_ALLOWED,
	SL_L7_R_NO_RULE,
	SL_L7_R_AMBIGUOUS, /* "//", dot segments, %2e %2f %5c or a backslash in the path */
	SL_L7_R_MALFORMED,
	SL_L7_R_TOO_LARGE,
	SL_L7_R_UPGRADE, /* Upgrade or CONNECT, and no matching rule allows it */
	SL_L7_R_MAX,
};

/* What comes next on a connection of sluice_l7_socks (sl_l7_conn.mode). */
#define SL_L7_M_HEAD	  0 /* a request head */
#define SL_L7_M_BODY	  1 /* left bytes of a Content-Length body, or of a chunk and its CRLF */
#define SL_L7_M_CHUNK	  2 /* a chunk-size line */
#define SL_L7_M_TRAILER	  3 /* the trailer section after the last chunk */
#define SL_L7_M_CLOSED	  4 /* nothing more is judged: everything is dropped */
#define SL_L7_M_PASS	  5 /* nothing more is judged: everything passes (an allowed upgrade or
			     * CONNECT, or the port lost its rules while framing was lost) */

#define SL_L7_F_DENY	  (1u << 0) /* the current request was denied: drop its body */
#define SL_L7_F_CHUNKED	  (1u << 1) /* the current body is chunked */
#define SL_L7_F_CLOSE	  (1u << 2) /* the reply to the denied request said Connection: close */

/*
 * sluice_l7_conn: per connection (socket cookie) state of the stream parser and verdict. Pinned
 * so that an agent restart leaves connections in the middle of a body framed; the request
 * fields are what the parser found in the head the verdict judges next.
 */
struct sl_l7_conn {
	__u64 left;
	__u8 mode;
	__u8 flags;
	__u8 reason;	 /* enum sl_l7_reason of the parsed head: not ALLOWED means bad */
	__u8 method;	 /* enum sl_http_method */
	__u8 http_minor; /* HTTP/1.<minor> */
	__u8 close;	 /* HTTP/1.0 or "Connection: close": no more requests after this one */
	__u8 chunked;	 /* Transfer-Encoding: chunked */
	__u8 host_len;
	__u32 head_len; /* bytes of the head the parser framed */
	__u16 path_len; /* the request's whole path length (up to '?'); path holds the first bytes */
	__u8 upgrade;	/* an Upgrade header */
	__u8 pad;
	__u64 clen; /* Content-Length */
	char path[SL_L7_PATH_MAX];
	char host[SL_L7_HOST_MAX];
	/* the parser's working state */
	__u32 pos;
	__u8 st;
	__u8 hdr;	/* header being read */
	__u8 seen;	/* headers seen (bits) */
	__u8 tok;	/* bytes of the current token */
	__u32 cand;	/* header names still matching (bits) */
	__u8 seg_dots;	/* dots in the current path segment; 0xff: other bytes too */
	__u8 pct;	/* percent-escape state */
	__u8 te_ok;	/* Transfer-Encoding value matches "chunked" so far */
	__u8 host_port; /* past the host's ':' */
	char tmp[8];	/* method / version bytes */
};

/*
 * sluice_l7_kill: connections (socket cookie) to reset, because a denied head was too short to
 * be rewritten into a reply, or sluice_l7_socks had no room for one to judge. The agent runs the sluice_l7_reset iterator in the network
 * namespace of the pod that owns addr, which destroys them (the client gets a RST).
 */
struct sl_l7_kill {
	__u32 addr[4]; /* the server pod's address */
	__u8 family;
	__u8 pad[3];
	__u32 pad2;
};

/* sluice_l7_events (ring buffer): one record per judged request, rate-limited per CPU. */
#define SL_L7_EV_PATH 96
#define SL_L7_EV_HOST 48

struct sl_l7_event {
	__u64 ts_ns;
	__u32 saddr[4]; /* the client */
	__u32 daddr[4]; /* the server pod */
	__u32 policy;	/* sl_l7_rule.policy of the allowing rule, else 0 */
	__u16 sport;	/* network byte order */
	__u16 dport;
	__u8 family;
	__u8 verdict; /* SL_VERDICT_* */
	__u8 reason;  /* enum sl_l7_reason */
	__u8 method;  /* enum sl_http_method */
	__u16 status; /* the reply Sluice sent, 0 when it sent none */
	__u16 path_len;
	__u8 host_len;
	__u8 pad[7];
	char host[SL_L7_EV_HOST];
	char path[SL_L7_EV_PATH];
};

/* sluice_stats: per-CPU array indexed by enum sl_stat. */
enum sl_stat {
	SL_STAT_TC_IN_PASS,	 /* host-veth ingress: packets leaving a pod */
	SL_STAT_TC_OUT_PASS,	 /* host-veth egress: packets entering a pod */
	SL_STAT_XDP_IN_PASS,	 /* node uplink: packets arriving at the node */
	SL_STAT_SOCK_ACTIVE_EST, /* connections established by a mesh socket */
	SL_STAT_SOCK_PASSIVE_EST,/* connections accepted by a mesh socket */
	SL_STAT_PARSE_ERROR,	 /* truncated or malformed L2/L3 header, passed unchanged */
	SL_STAT_NON_IP,		 /* ARP and other non-IP frames, passed unchanged */
	SL_STAT_EP_MISS,	 /* tc program on a veth with no sluice_ep_stats entry */
	SL_STAT_SOCK_LB,	 /* socket LB: connect/sendmsg translated to a backend */
	SL_STAT_SOCK_REVNAT,	 /* socket LB: getpeername/recvmsg shown the frontend */
	SL_STAT_NO_BACKEND,	 /* frontend without backends: refused (socket) or dropped */
	SL_STAT_TC_DNAT,	 /* tc fallback: packet translated to a backend */
	SL_STAT_TC_REVNAT,	 /* tc: reply translated back to the frontend */
	SL_STAT_XDP_DNAT,	 /* XDP NodePort/external: packet translated to a backend */
	SL_STAT_UP_REVNAT,	 /* uplink egress: NodePort reply translated back */
	SL_STAT_CT_HIT,		 /* forward packet of a tracked flow */
	SL_STAT_CT_NEW,		 /* new tracked flow */
	SL_STAT_CT_FULL,	 /* conntrack or socket reverse entry could not be stored */
	SL_STAT_FRAGMENT,	 /* IP fragment to a frontend: no L4 header to translate, passed */
	SL_STAT_L4_UNSUPPORTED,	 /* IPv6 extension header or non-TCP/UDP to a frontend, passed */
	SL_STAT_MAGLEV_MISS,	 /* node-facing frontend whose Maglev table is not written yet: random pick */
	SL_STAT_POL_ALLOWED,	 /* new flow a policy rule allows (sl_pol_reason order from here) */
	SL_STAT_POL_NO_RULE,	 /* dropped: isolated, no rule allows it */
	SL_STAT_POL_SPOOFED,	 /* dropped: a pod sent with a source address not its own */
	SL_STAT_POL_FRAGMENT,	 /* dropped: fragment to/from an isolated pod without an all-ports rule */
	SL_STAT_POL_L4_UNKNOWN,	 /* dropped: unknown L4 header, the same */
	SL_STAT_POL_TRACKED,	 /* packet of a flow policy already let through, or its reply */
	SL_STAT_POL_HOST,	 /* new flow from or to the node itself: always allowed */
	SL_STAT_POL_ICMP,	 /* ICMP error or IPv6 neighbour discovery: always allowed */
	SL_STAT_POL_OPEN,	 /* new flow in a direction no policy isolates: tracked, passed */
	SL_STAT_EVENT_SAMPLED,	 /* policy event left out by the per-CPU rate limit */
	SL_STAT_EVENT_LOST,	 /* policy event dropped: ring buffer full */
	SL_STAT_L7_ALLOWED,	 /* HTTP request a rule allows (sl_l7_reason order from here) */
	SL_STAT_L7_NO_RULE,	 /* HTTP request denied: no rule allows it */
	SL_STAT_L7_AMBIGUOUS,	 /* denied: a path a server could resolve elsewhere (dot segments...) */
	SL_STAT_L7_MALFORMED,	 /* denied: not an HTTP/1.x request head the parser can frame */
	SL_STAT_L7_TOO_LARGE,	 /* denied: request head longer than SL_L7_HEAD_MAX */
	SL_STAT_L7_UPGRADE,	 /* denied: Upgrade or CONNECT where the rule does not allow it */
	SL_STAT_L7_SOCK,	 /* server socket put in sluice_l7_socks for HTTP policy */
	SL_STAT_L7_SOCK_FULL,	 /* ... could not be (sluice_l7_socks full): the connection is reset */
	SL_STAT_L7_NO_REPLY,	 /* denied request too short to be rewritten into the reply: dropped */
	SL_STAT_L7_RESET,	 /* ... and its connection reset (sluice_l7_reset, run by the agent) */
	SL_STAT_L4_FLOW_FULL,	 /* L4 telemetry of a connection lost: sluice_l4_flow full */
	SL_STAT_HTTP_REQ,	 /* HTTP request and response pair seen by the telemetry parser */
	SL_STAT_HTTP_LOST,	 /* HTTP connection whose framing the parser lost (gap, upgrade...) */
	SL_STAT_HTTP_FULL,	 /* HTTP telemetry lost: sluice_http_stats full */
	SL_STAT_L4_DROP_FULL,	 /* a drop not counted per flow: sluice_l4_drop full */
	SL_STAT_MAX,
};

/* Slots of the pinned sluice_stats array: room for counters added later without a new map. */
#define SL_STAT_SLOTS 64

struct sl_stat_val {
	__u64 packets;
	__u64 bytes;
};

/* sluice_ep_stats: per-CPU hash, host-veth ifindex -> per-endpoint counters. */
struct sl_ep_stats {
	__u64 from_pod_packets;
	__u64 from_pod_bytes;
	__u64 to_pod_packets;
	__u64 to_pod_bytes;
};

/*
 * sluice_l4_flow: L4 telemetry. sock_ops aggregates the TCP connections of mesh pods per
 * (local pod address, peer address, server port, role, frontend) in a per-CPU hash; the agent
 * sums CPUs, turns addresses into workload labels and exports /metrics. Addresses in network
 * byte order (IPv4 in [0], IPv4-mapped IPv6 keyed as IPv4), ports in host byte order.
 */
#define SL_MAX_L4_FLOWS 16384

enum sl_l4_role {
	SL_L4_CLIENT = 1, /* the mesh pod opened the connection */
	SL_L4_SERVER = 2, /* the mesh pod accepted it */
};

struct sl_l4_key {
	__u32 local[4];	 /* the mesh pod's address */
	__u32 peer[4];	 /* the other end; for a Service connection, the backend it got */
	__u32 svc[4];	 /* a client's connect() the socket LB translated: the frontend; else 0 */
	__u16 port;	 /* the server's port (for a Service connection, the backend's) */
	__u16 svc_port;	 /* the frontend's port; 0 without svc */
	__u8 family;	 /* SL_AF_INET or SL_AF_INET6 */
	__u8 proto;	 /* IPPROTO_TCP */
	__u8 role;	 /* enum sl_l4_role */
	__u8 pad;
};

/* RTT histogram bucket upper bounds in µs; one more bucket above the last. */
#define SL_RTT_BOUNDS_US                                                                      	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,      		1000000
#define SL_RTT_BUCKETS 15

struct sl_l4_val {
	__u64 opened;	 /* connections established */
	__u64 closed;	 /* established connections that ended, however */
	__u64 reset;	 /* ... of which ended by a reset, sent or received */
	__u64 refused;	 /* connect()s answered by a reset */
	__u64 failed;	 /* connect()s that never established otherwise (timeout, unreachable) */
	__u64 bytes_tx;	 /* payload bytes the peer acknowledged (flushed while open, and at close) */
	__u64 bytes_rx;	 /* payload bytes received */
	__u64 segs_tx;	 /* segments sent (with retransmissions and pure ACKs) */
	__u64 segs_rx;	 /* segments received */
	__u64 retrans;	 /* segments retransmitted */
	__u64 rtt_sum_us; /* sum of the closed connections' smoothed RTTs */
	__u64 rtt[SL_RTT_BUCKETS]; /* their smoothed RTTs by SL_RTT_BOUNDS_US bucket */
};

/*
 * sluice_l4_drop: packets of a pod's flows the datapath dropped, per CPU, by (pod, peer,
 * destination port, protocol, direction, reason), with L4 telemetry on. Counted at tc on the
 * pod's veth where the drop happens: a policy denial (enum sl_pol_reason: no rule, fragment,
 * unknown L4 header), a Service without backends (SL_DROP_NO_BACKEND). A spoofed source names
 * no pod of its own: it is counted node-wide only (SL_STAT_POL_SPOOFED). Addresses in network
 * byte order.
 */
#define SL_MAX_L4_DROPS	   4096
#define SL_DROP_NO_BACKEND 16 /* sl_l4_dkey.reason beyond enum sl_pol_reason */

struct sl_l4_dkey {
	__u32 local[4];	 /* the pod */
	__u32 peer[4];
	__u16 port;	 /* the destination port, host byte order; 0 without ports */
	__u8 family;
	__u8 proto;
	__u8 dir;	 /* SL_POL_EGRESS: the pod sent it; SL_POL_INGRESS: it was for the pod */
	__u8 reason;
	__u8 pad[2];
};

struct sl_l4_dval {
	__u64 packets;
	__u64 bytes;
};

/*
 * sluice_l4_sk (socket storage of a mesh connection, created when it is established): its flow
 * key, and how much of its totals is already in sluice_l4_flow. The agent's flush iterator
 * (sluice_l4_flush, on each collection) adds what a live connection moved since; the close
 * adds the rest and sets closed, after which the iterator leaves it alone.
 */
struct sl_l4_sk {
	struct sl_l4_key key;
	__u64 bytes_tx;
	__u64 bytes_rx;
	__u64 segs_tx;
	__u64 segs_rx;
	__u64 retrans;
	__u8 closed;
	__u8 pad[7];
};

/*
 * HTTP/1.x telemetry at tc on the pod's veth (bpf/include/http_tel.h). sluice_http_flow holds
 * the parser of each TCP connection of a pod (LRU, keyed by the pod's and the peer's address
 * and port); sluice_http_stats aggregates finished requests per (pod, peer, server port, role,
 * method, status) in a per-CPU hash. Addresses in network byte order, ports in host order.
 */
#define SL_MAX_HTTP_FLOWS 65536
#define SL_MAX_HTTP_STATS 16384
#define SL_HTTP_PENDING	  8 /* pipelined requests a connection may have awaiting responses */

struct sl_http_fkey {
	__u32 local[4];	 /* the pod's address */
	__u32 peer[4];
	__u16 lport;
	__u16 pport;
	__u8 family;
	__u8 pad[3];
};

/* One direction's parser: requests (client to server) or responses. */
struct sl_http_dir {
	__u32 seq;	 /* the next byte expected (TCP sequence number) */
	__u32 start;	 /* sequence number of the current message's first byte */
	__u64 num;	 /* number being read: Content-Length, chunk size, status */
	__u64 left;	 /* body or chunk bytes to skip */
	__u8 st;	 /* HT_* state */
	__u8 hdr;	 /* header whose value is being read */
	__u8 tok;	 /* bytes into the current name or value */
	__u8 flags;	 /* SL_HT_F_* of the current message */
	__u32 cand;	 /* header names still matching (bits) */
};

#define SL_HT_F_CLEN	(1u << 0) /* Content-Length seen */
#define SL_HT_F_CHUNKED	(1u << 1) /* Transfer-Encoding ends in chunked */
#define SL_HT_F_CLOSE	(1u << 2) /* Connection: close */
#define SL_HT_F_TE_OK	(1u << 3) /* the Transfer-Encoding value matches "chunked" so far */
#define SL_HT_F_CN_OK	(1u << 4) /* the Connection value matches "close" so far */

struct sl_http_req {
	__u64 ts;	 /* when its first byte crossed the veth (bpf_ktime_get_ns) */
	__u32 bytes;	 /* its length, head and body, once framed */
	__u8 method;	 /* enum sl_http_method */
	__u8 done;	 /* framed to its end */
	__u16 cap;	 /* sampled for an event: its slot in sluice_http_cap + 1; 0: not */
};

struct sl_http_flow {
	struct sl_http_dir d[2]; /* [0] requests, [1] responses */
	struct sl_http_req q[SL_HTTP_PENDING]; /* requests awaiting responses, oldest at qh */
	__u64 resp_ts;	 /* the current response's first byte */
	__u64 chunk_ts;	 /* its last chunk's first byte (streaming) */
	__u32 chunks;	 /* chunks of the current response so far */
	__u16 status;
	__u8 qh;	 /* queue head */
	__u8 qn;	 /* requests queued */
	__u8 role;	 /* SL_L4_CLIENT: the pod sends the requests; SL_L4_SERVER: it answers */
	__u8 lost;	 /* framing lost (a gap, an upgrade, a queue overflow): no more parsing */
	__u8 pad[2];
};

/*
 * HTTP request events (sluice_http_events ring, at most sl_config.http_events_per_sec per CPU):
 * a request sampled when its head is read gets a slot in sluice_http_cap (an array, SL_HT_CAP
 * per CPU, reused in turn) holding the raw bytes after its method (the path, cut by userspace
 * at the first space) and of its traceparent value; the slot's tag is the request's start time
 * (sl_http_req.ts), so a slot reused meanwhile is told apart. When the response ends, one
 * struct sl_http_event goes to the ring.
 */
#define SL_HT_EV_PATH	 64
#define SL_HT_EV_TP	 56 /* a W3C traceparent value is 55 characters */
#define SL_HT_CAP	 256
#define SL_HT_CAP_SLOTS	 8192 /* SL_HT_CAP for each of 32 CPUs; more CPUs share */

struct sl_http_cap {
	__u64 tag;
	__u8 path_len;	 /* bytes captured after the method's SP (the line may go on) */
	__u8 tp_len;	 /* bytes of the traceparent value, 0: none */
	__u8 pad[6];
	char path[SL_HT_EV_PATH];
	char tp[SL_HT_EV_TP];
};

struct sl_http_event {
	__u64 ts_ns;	 /* the response's last byte (bpf_ktime_get_ns) */
	__u64 dur_ns;	 /* request's first byte to the response's last */
	__u64 ttfb_ns;	 /* request's first byte to the response's first */
	__u32 local[4];	 /* the pod whose veth saw it */
	__u32 peer[4];
	__u32 req_bytes;
	__u32 resp_bytes;
	__u32 chunks;	 /* chunks of a chunked response */
	__u16 lport;	 /* host byte order */
	__u16 pport;
	__u16 status;
	__u8 family;
	__u8 role;	 /* SL_L4_SERVER: the pod answered; SL_L4_CLIENT: it asked */
	__u8 method;	 /* enum sl_http_method */
	__u8 path_len;	 /* 0 when the slot was reused before the response came */
	__u8 tp_len;
	__u8 pad;
	char path[SL_HT_EV_PATH];
	char tp[SL_HT_EV_TP];
};

/* Duration buckets (upper bounds, µs), OpenTelemetry's HTTP defaults 0.005 ... 10 s. */
#define SL_HTTP_BOUNDS_US                                                                     \
	5000, 10000, 25000, 50000, 75000, 100000, 250000, 500000, 750000, 1000000, 2500000,     \
		5000000, 7500000, 10000000
/* Gaps between the chunks of a streamed response (inter-token latency), µs. */
#define SL_GAP_BOUNDS_US                                                                      \
	1000, 2500, 5000, 10000, 20000, 30000, 50000, 75000, 100000, 250000, 500000, 1000000,   \
		2500000, 10000000
#define SL_HTTP_BUCKETS 15

struct sl_http_skey {
	__u32 local[4];	 /* the pod */
	__u32 peer[4];	 /* the client (role server) or the server it reached (role client) */
	__u16 port;	 /* the server's port */
	__u16 status;	 /* response status code; 0: none (the connection ended first) */
	__u8 family;
	__u8 role;	 /* enum sl_l4_role */
	__u8 method;	 /* enum sl_http_method */
	__u8 pad;
};

struct sl_http_sval {
	__u64 count;
	__u64 req_bytes;
	__u64 resp_bytes;
	__u64 dur_sum_ns;	 /* request's first byte to the response's last */
	__u64 dur[SL_HTTP_BUCKETS];
	__u64 ttfb_sum_ns;	 /* request's first byte to the response's first */
	__u64 ttfb[SL_HTTP_BUCKETS];
	__u64 streams;		 /* chunked responses */
	__u64 ttfc_sum_ns;	 /* request's first byte to the first chunk's */
	__u64 ttfc[SL_HTTP_BUCKETS];
	__u64 gaps;		 /* gaps between consecutive chunks */
	__u64 gap_sum_ns;
	__u64 gap[SL_HTTP_BUCKETS];
};

/* sl_config.flags */
#define SL_CFG_F_L4_TELEMETRY	(1u << 0) /* sock_ops fills sluice_l4_flow */
#define SL_CFG_F_HTTP_TELEMETRY (1u << 1) /* tc parses HTTP/1.x into sluice_http_stats */

/* Load-time configuration in .rodata, written by the agent before load. */
struct sl_config {
	__u32 log_level;
	__u32 flags;
	/*
	 * Nanoseconds per jiffy (10^9 / CONFIG_HZ), or 0: conntrack and affinity timestamps then
	 * come from bpf_ktime_get_ns() instead of bpf_jiffies64(). All programs sharing the maps
	 * must be loaded with the same value.
	 */
	__u32 ns_per_jiffy;
	__u32 pol_events_per_sec; /* per CPU; 0: no policy events */
	__u32 sk_slots_mask;	  /* sluice_sk_slot's max_entries - 1 (a power of two); 0: none */
	__u32 http_events_per_sec; /* per CPU; 0: no HTTP request events */
};

#endif

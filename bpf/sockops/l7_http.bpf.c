// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_l7_parser / sluice_l7_verdict: HTTP/1.x policy on the server sockets of
 * sluice_l7_socks (sock_ops adds them), without a proxy. The kernel's stream parser (strparser)
 * hands the parser the bytes received so far from where the next message starts; the parser
 * says how long that message is, and the verdict decides what happens to it:
 *
 *   head     request line and headers, up to the empty line (at most SL_L7_HEAD_MAX bytes):
 *            judged against the rules of the socket's (local address, port). Allowed: passed
 *            to the server. Denied: rewritten in place into a 403 (400 when the head is not
 *            one the parser can frame) of the same length, padded in its body, and redirected
 *            to the same socket's egress, so the client gets the reply and the server never
 *            sees the request.
 *   body     the Content-Length bytes that follow, in whatever pieces arrive: passed, or
 *            dropped after a denied head.
 *   chunked  chunk-size lines, chunk data and the trailer section, framed the same way.
 *
 * So a request split over segments is judged once it is whole, and pipelined requests each on
 * their own. What the strparser calls a message's offset (where it starts in the skb it is
 * given) is not in __sk_buff: it is read from the skb's control block through
 * bpf_cast_to_kern_ctx and CO-RE, and the loader reports a kernel without them.
 */
#include "common.h"
#include "maps.h"
#include "evrl.h"
#include "http.h"
#include "l7.h"

#include <bpf/bpf_core_read.h>

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

#define SK_DROP_ 0
#define SK_PASS_ 1
#define AF_INET_  2
#define BPF_RB_NO_WAKEUP_ (1ULL << 0)
#define CHUNK_LINE_MAX	  1024

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sluice_l7_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct evrl);
} sluice_l7_evrl SEC(".maps");

static __always_inline struct sk_skb_cb *skb_cb(struct __sk_buff *skb)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);

	return (struct sk_skb_cb *)k->cb;
}

/* Where the strparser's current message starts in skb, and (in the verdict) its length. */
static __always_inline __u32 msg_offset(struct __sk_buff *skb)
{
	return BPF_CORE_READ(skb_cb(skb), strp.strp.offset);
}

static __always_inline __u32 msg_len(struct __sk_buff *skb)
{
	return BPF_CORE_READ(skb_cb(skb), strp.strp.full_len);
}

static __always_inline struct sl_l7_conn *conn_get(__u64 cookie)
{
	struct sl_l7_conn *c = bpf_map_lookup_elem(&sluice_l7_conn, &cookie);
	struct sl_l7_conn zero = {};

	if (c)
		return c;
	head_reset(&zero);
	(void)bpf_map_update_elem(&sluice_l7_conn, &cookie, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sluice_l7_conn, &cookie);
}

/* ---- the parser ---- */

enum { SCAN_HEAD, SCAN_CHUNK, SCAN_TRAILER };

struct scan {
	struct __sk_buff *skb;
	struct sl_l7_conn *c;
	__u32 base; /* skb offset of the first byte to scan */
	__u32 n;    /* bytes to scan */
	__u32 done; /* bytes up to and including the message's last, 0 while incomplete */
	__u32 kind;
	__u8 buf[64];
};

/* One byte of a chunk-size line ("HEX[;ext]CRLF"); size in c->clen. 1 at its end. */
static __always_inline int chunk_step(struct sl_l7_conn *c, __u8 ch)
{
	__u8 v;

	switch (c->st) {
	case 0:
		if (ch >= '0' && ch <= '9')
			v = ch - '0';
		else if (lower(ch) >= 'a' && lower(ch) <= 'f')
			v = lower(ch) - 'a' + 10;
		else if (c->tok && (ch == ';' || ch == ' ' || ch == '\t')) {
			c->st = 1;
			return 0;
		} else if (c->tok && (ch == '\r' || ch == '\n')) {
			c->st = 2;
			return ch == '\n';
		} else {
			bad(c, SL_L7_R_MALFORMED);
			return 1;
		}
		if (c->clen >> 56) {
			bad(c, SL_L7_R_MALFORMED);
			return 1;
		}
		c->clen = (c->clen << 4) | v;
		c->tok++;
		return 0;
	case 1: /* chunk extensions: skipped */
		if (ch == '\r')
			c->st = 2;
		return ch == '\n';
	default:
		if (ch != '\n')
			bad(c, SL_L7_R_MALFORMED);
		return 1;
	}
}

/* One byte of the trailer section: header lines up to an empty line. 1 at its end. */
static __always_inline int trailer_step(struct sl_l7_conn *c, __u8 ch)
{
	/* st: 0 at a line start, 1 inside a line, 2 CR at a line start */
	if (ch == '\n') {
		if (c->st != 1)
			return 1;
		c->st = 0;
		return 0;
	}
	if (ch == '\r' && c->st == 0) {
		c->st = 2;
		return 0;
	}
	c->st = 1;
	return 0;
}

static long scan_cb(__u64 i, void *ctx)
{
	struct scan *s = ctx;
	__u32 k = i & 63, len;
	int end;

	if (k == 0) {
		len = s->n - (__u32)i;
		if (len > sizeof(s->buf))
			len = sizeof(s->buf);
		len = ((len - 1) & 63) + 1; /* 1..64 whatever register clang compared */
		if ( bpf_skb_load_bytes(s->skb, s->base + (__u32)i, s->buf, len))
			return 1;
	}
	if (s->kind == SCAN_HEAD)
		end = head_step(s->c, s->buf[k]);
	else if (s->kind == SCAN_CHUNK)
		end = chunk_step(s->c, s->buf[k]);
	else
		end = trailer_step(s->c, s->buf[k]);
	if (end) {
		s->done = (__u32)i + 1;
		return 1;
	}
	return 0;
}

/*
 * Frames the next head, chunk-size line or trailer section from c->pos on (the bytes before it
 * were scanned by an earlier call for the same message). Returns its length, or 0 for more.
 */
static __always_inline int frame(struct __sk_buff *skb, struct sl_l7_conn *c, __u32 off,
				 __u32 avail, __u32 kind, __u32 max)
{
	struct scan s = { .skb = skb, .c = c, .kind = kind };
	__u32 lim = avail < max ? avail : max, start = c->pos;

	if (start < lim) {
		s.base = off + start;
		s.n = lim - start;
		bpf_loop(s.n, scan_cb, &s, 0);
		if (s.done) {
			c->head_len = start + s.done;
			return c->head_len;
		}
		c->pos = lim;
	}
	if (avail < max)
		return 0;
	/* no end within max bytes: the verdict refuses it, and nothing after it can be framed */
	bad(c, kind == SCAN_HEAD ? SL_L7_R_TOO_LARGE : SL_L7_R_MALFORMED);
	c->head_len = avail;
	return avail;
}

SEC("sk_skb/stream_parser")
int sluice_l7_parser(struct __sk_buff *skb)
{
	struct sl_l7_conn *c = conn_get(bpf_get_socket_cookie(skb));
	__u32 off = msg_offset(skb), avail;

	if (skb->len <= off)
		return 0;
	avail = skb->len - off;
	if (!c)
		return avail; /* the verdict drops what it cannot follow */
	switch (c->mode) {
	case SL_L7_M_BODY:
		return c->left < avail ? (int)c->left : avail;
	case SL_L7_M_CLOSED:
	case SL_L7_M_PASS:
		return avail;
	case SL_L7_M_CHUNK:
		return frame(skb, c, off, avail, SCAN_CHUNK, CHUNK_LINE_MAX);
	case SL_L7_M_TRAILER:
		return frame(skb, c, off, avail, SCAN_TRAILER, SL_L7_HEAD_MAX);
	default:
		return frame(skb, c, off, avail, SCAN_HEAD, SL_L7_HEAD_MAX);
	}
}

/* ---- the verdict ---- */

struct match {
	struct sl_l7_conn *c;
	__u32 set;
	__u32 policy;
	__u32 found;
	__u32 tunnel;  /* the request leaves HTTP/1.x if allowed: Upgrade or CONNECT */
	__u32 blocked; /* a rule matched but does not allow that */
};

static __always_inline bool bytes_eq(const char *a, const char *b, __u32 n, __u32 max)
{
	__u32 i;

	for (i = 0; i < max; i++) {
		if (i >= n)
			break;
		if (a[i] != b[i])
			return false;
	}
	return true;
}

static __always_inline bool path_ok(const struct sl_l7_rule *r, const struct sl_l7_conn *c)
{
	__u32 n = r->path_len;

	if (r->path_kind == SL_L7_PATH_ANY)
		return true;
	if (n >= SL_L7_PATH_MAX)
		return false; /* the agent refuses such rules */
	if (r->path_kind == SL_L7_PATH_EXACT)
		return c->path_len == n && bytes_eq(r->path, c->path, n, SL_L7_PATH_MAX);
	/* a prefix matches whole segments: /api matches /api and /api/x, not /apix */
	if (c->path_len < n || !bytes_eq(r->path, c->path, n, SL_L7_PATH_MAX))
		return false;
	return c->path_len == n || (n && r->path[(n - 1) & (SL_L7_PATH_MAX - 1)] == '/') ||
	       c->path[n & (SL_L7_PATH_MAX - 1)] == '/';
}

static long match_cb(__u64 i, void *ctx)
{
	struct match *m = ctx;
	struct sl_l7_rule_key k = { .set = m->set, .idx = (__u32)i };
	struct sl_l7_conn *c = m->c;
	struct sl_l7_rule *r = bpf_map_lookup_elem(&sluice_l7_rule, &k);

	if (!r)
		return 0;
	if (r->methods && !(r->methods & (1u << (c->method & 31))))
		return 0;
	if (r->host_len && (r->host_len != c->host_len ||
			    !bytes_eq(r->host, c->host, r->host_len, SL_L7_HOST_MAX)))
		return 0;
	if (!path_ok(r, c))
		return 0;
	if (m->tunnel && !(r->flags & SL_L7_RULE_F_UPGRADE)) {
		m->blocked = 1;
		return 0;
	}
	m->found = 1;
	m->policy = r->policy;
	return 1;
}

static __always_inline void l7_event(struct __sk_buff *skb, const struct sl_l7_port_key *pk,
				     const struct sl_l7_conn *c, __u32 policy, __u8 reason,
				     __u16 status)
{
	struct sl_l7_event *e;
	struct evrl *rl;
	__u32 zero = 0;
	__u64 now;

	if (!sl_cfg.pol_events_per_sec)
		return;
	rl = bpf_map_lookup_elem(&sluice_l7_evrl, &zero);
	if (!rl)
		return;
	now = bpf_ktime_get_ns();
	if (!ev_admit(rl, now))
		return;
	e = bpf_ringbuf_reserve(&sluice_l7_events, sizeof(*e), 0);
	if (!e) {
		stat_add(SL_STAT_EVENT_LOST, 0);
		return;
	}
	rl->sent++;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->family = pk->family;
	__builtin_memcpy(e->daddr, pk->addr, sizeof(e->daddr));
	if (skb->family == AF_INET_) {
		e->saddr[0] = skb->remote_ip4;
	} else {
		__u8 fam = SL_AF_INET6;

		e->saddr[0] = skb->remote_ip6[0];
		e->saddr[1] = skb->remote_ip6[1];
		e->saddr[2] = skb->remote_ip6[2];
		e->saddr[3] = skb->remote_ip6[3];
		addr_unmap(e->saddr, &fam);
	}
	e->sport = (__u16)(skb->remote_port >> 16); /* network byte order, in the upper half */
	if (!e->sport)
		e->sport = (__u16)skb->remote_port;
	e->dport = pk->port;
	e->policy = policy;
	e->verdict = reason == SL_L7_R_ALLOWED ? SL_VERDICT_ALLOW : SL_VERDICT_DENY;
	e->reason = reason;
	e->method = c->method;
	e->status = status;
	e->path_len = c->path_len;
	e->host_len = c->host_len;
	__builtin_memcpy(e->host, c->host, sizeof(e->host));
	__builtin_memcpy(e->path, c->path, sizeof(e->path));
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP_);
}

/* ---- the reply to a denied request ---- */

static const volatile char st403[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: ";
static const volatile char st400[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: ";
static const volatile char conn_close_hdr[] = "\r\nConnection: close\r\n\r\n";
static const volatile char body_403[] = "denied by HTTP policy\n";
static const volatile char body_400[] = "bad request\n";

#define REPLY_HDR_MAX 128 /* a power of two: indexes are masked with it */

struct fill {
	struct __sk_buff *skb;
	__u32 from;
	__u32 to;
	char sp[64];
};

static long fill_cb(__u64 i, void *ctx)
{
	struct fill *f = ctx;
	__u32 at = f->from + (__u32)i * 64, n;

	if (at >= f->to)
		return 1;
	n = f->to - at;
	if (n > sizeof(f->sp))
		n = sizeof(f->sp);
	n = ((n - 1) & 63) + 1;
	if (bpf_skb_store_bytes(f->skb, at, f->sp, n, 0))
		return 1;
	return 0;
}

static __always_inline __u32 ndigits(__u32 v)
{
	return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : 5;
}

/*
 * Rewrites the len bytes of the message at off into a reply of exactly len bytes: status line,
 * Content-Length, optionally Connection: close, and a body of spaces ending in a short text.
 * To an HTTP/1.0 request the reply is HTTP/1.0 too, which closes without saying so. Returns 0,
 * or -1 when len is too short for even the headers.
 */
static __always_inline int reply(struct __sk_buff *skb, __u32 off, __u32 len, bool forbidden,
				 bool close, bool http10)
{
	const volatile char *st = forbidden ? st403 : st400;
	__u32 st_len = forbidden ? sizeof(st403) - 1 : sizeof(st400) - 1;
	const volatile char *txt = forbidden ? body_403 : body_400;
	__u32 txt_len = forbidden ? sizeof(body_403) - 1 : sizeof(body_400) - 1;
	__u32 hlen = 0, body = 0, d, v, i, tail;
	struct fill f = { .skb = skb };
	char h[REPLY_HDR_MAX] = {};

	if (http10)
		close = false;
	tail = close ? sizeof(conn_close_hdr) - 1 : 4;
	for (d = 1; d <= 5; d++) {
		hlen = st_len + d + tail;
		if (len < hlen)
			return -1;
		body = len - hlen;
		if (ndigits(body) == d)
			break;
	}
	if (d > 5 || hlen > REPLY_HDR_MAX)
		return -1;
	for (i = 0; i < sizeof(st400) - 1; i++)
		if (i < st_len)
			h[i & (REPLY_HDR_MAX - 1)] = st[i];
	if (http10)
		h[7] = '0';
	v = body;
	for (i = 0; i < 5; i++) {
		if (i >= d)
			break;
		h[(st_len + d - 1 - i) & (REPLY_HDR_MAX - 1)] = '0' + v % 10;
		v /= 10;
	}
	if (close) {
		for (i = 0; i < sizeof(conn_close_hdr) - 1; i++)
			h[(st_len + d + i) & (REPLY_HDR_MAX - 1)] = conn_close_hdr[i];
	} else {
		h[(st_len + d) & (REPLY_HDR_MAX - 1)] = '\r';
		h[(st_len + d + 1) & (REPLY_HDR_MAX - 1)] = '\n';
		h[(st_len + d + 2) & (REPLY_HDR_MAX - 1)] = '\r';
		h[(st_len + d + 3) & (REPLY_HDR_MAX - 1)] = '\n';
	}
	if (hlen < 1 || hlen > REPLY_HDR_MAX)
		return -1;
	if (bpf_skb_store_bytes(skb, off, h, hlen, 0))
		return -1;
	if (!body)
		return 0;
	__builtin_memset(f.sp, ' ', sizeof(f.sp));
	f.from = off + hlen;
	f.to = off + len;
	bpf_loop((body + 63) / 64, fill_cb, &f, 0);
	if (body >= txt_len) {
		for (i = 0; i < sizeof(body_403) - 1; i++)
			if (i < txt_len)
				h[i] = txt[i];
		if (txt_len < 1 || txt_len > sizeof(body_403) - 1)
			return -1;
		if (bpf_skb_store_bytes(skb, off + len - txt_len, h, txt_len, 0))
			return -1;
	} else {
		h[0] = '\n';
		if (bpf_skb_store_bytes(skb, off + len - 1, h, 1, 0))
			return -1;
	}
	return 0;
}

/*
 * After a request's last byte: the next head, or nothing more once a reply of Sluice's said
 * Connection: close (an allowed request's close is the server's to act on).
 */
static __always_inline void next_request(struct sl_l7_conn *c)
{
	bool close = c->flags & SL_L7_F_CLOSE;

	head_reset(c);
	c->flags = 0;
	c->left = 0;
	c->mode = close ? SL_L7_M_CLOSED : SL_L7_M_HEAD;
}

/* After a head: what frames its body (the fields are the head's). */
static __always_inline void body_next(struct sl_l7_conn *c, bool deny)
{
	c->flags = deny ? SL_L7_F_DENY | (c->close ? SL_L7_F_CLOSE : 0) : 0;
	c->pos = 0;
	c->st = 0;
	c->tok = 0;
	if (c->chunked) {
		c->flags |= SL_L7_F_CHUNKED;
		c->clen = 0;
		c->mode = SL_L7_M_CHUNK;
	} else if (c->clen) {
		c->left = c->clen;
		c->mode = SL_L7_M_BODY;
	} else {
		next_request(c);
	}
}

static __always_inline int verdict_body(struct sl_l7_conn *c, __u32 len)
{
	bool deny = c->flags & SL_L7_F_DENY;

	switch (c->mode) {
	case SL_L7_M_BODY:
		c->left = len < c->left ? c->left - len : 0;
		if (!c->left) {
			if (c->flags & SL_L7_F_CHUNKED) {
				c->mode = SL_L7_M_CHUNK;
				c->pos = c->st = c->tok = 0;
				c->clen = 0;
			} else {
				next_request(c);
			}
		}
		break;
	case SL_L7_M_CHUNK:
		if (c->reason != SL_L7_R_ALLOWED) {
			c->mode = SL_L7_M_CLOSED; /* a broken chunk line: the rest cannot be framed */
			return SK_DROP_;
		}
		c->pos = c->st = c->tok = 0;
		if (c->clen) {
			c->left = c->clen + 2; /* the data and its CRLF */
			c->mode = SL_L7_M_BODY;
		} else {
			c->mode = SL_L7_M_TRAILER;
		}
		break;
	case SL_L7_M_TRAILER:
		next_request(c);
		break;
	case SL_L7_M_PASS:
		return SK_PASS_;
	default:
		return SK_DROP_;
	}
	return deny ? SK_DROP_ : SK_PASS_;
}

SEC("sk_skb/stream_verdict")
int sluice_l7_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sl_l7_conn *c = bpf_map_lookup_elem(&sluice_l7_conn, &cookie);
	__u32 off = msg_offset(skb), len = msg_len(skb);
	struct match m = {};
	struct sl_l7_port_key pk;
	struct sl_l7_port_val *pv;
	__u8 reason;
	bool framed;
	int ret;

	if (!c)
		return SK_DROP_;
	if (c->mode != SL_L7_M_HEAD)
		return verdict_body(c, len);
	L7_PORT_KEY(&pk, skb);
	pv = bpf_map_lookup_elem(&sluice_l7_port, &pk);
	reason = c->reason;
	framed = reason != SL_L7_R_MALFORMED && reason != SL_L7_R_TOO_LARGE;
	if (!pv) {
		/* the port's rules are gone: pass, and keep framing while it can */
		if (framed)
			body_next(c, false);
		else
			c->mode = SL_L7_M_PASS;
		return SK_PASS_;
	}
	if (reason == SL_L7_R_ALLOWED) {
		m.c = c;
		m.set = pv->set;
		m.tunnel = c->upgrade || c->method == SL_HTTP_CONNECT;
		bpf_loop(pv->n_rules < SL_L7_RULES_PER_PORT ? pv->n_rules : SL_L7_RULES_PER_PORT,
			 match_cb, &m, 0);
		if (!m.found)
			reason = m.blocked ? SL_L7_R_UPGRADE : SL_L7_R_NO_RULE;
	}
	stat_add(SL_STAT_L7_ALLOWED + reason, len);
	if (reason == SL_L7_R_ALLOWED) {
		l7_event(skb, &pk, c, m.policy, reason, 0);
		if (m.tunnel)
			c->mode = SL_L7_M_PASS; /* what follows is the server's protocol, not HTTP/1.x */
		else
			body_next(c, false);
		return SK_PASS_;
	}
	if (!framed)
		c->close = 1;
	ret = reply(skb, off, len, framed, c->close, c->http_minor == 0 && reason != SL_L7_R_MALFORMED &&
							       reason != SL_L7_R_TOO_LARGE);
	l7_event(skb, &pk, c, 0, reason, ret ? 0 : framed ? 403 : 400);
	if (ret) {
		struct sl_l7_kill kv = { .family = pk.family };

		/* no room for a reply: the agent resets the connection (sluice_l7_reset) */
		__builtin_memcpy(kv.addr, pk.addr, sizeof(kv.addr));
		bpf_map_update_elem(&sluice_l7_kill, &cookie, &kv, BPF_ANY);
		stat_add(SL_STAT_L7_NO_REPLY, len);
		c->close = 1;
	}
	if (framed)
		body_next(c, true);
	else
		c->mode = SL_L7_M_CLOSED;
	if (ret)
		return SK_DROP_;
	return bpf_sk_redirect_hash(skb, &sluice_l7_socks, &cookie, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

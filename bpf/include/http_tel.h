/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x telemetry at tc on a pod's host-side veth, for the pod's TCP connections, both as
 * a client and as a server (RED: rate, errors, duration, without a proxy and without touching
 * the application). Each connection gets a parser (struct sl_http_flow, LRU) on its first
 * payload that starts with a request method: the side that sent it is the client.
 *
 * Each direction is followed by TCP sequence number. Heads, chunk-size lines and trailers are
 * read byte by byte (bpf_loop over up to HT_BUF bytes at a time, all state in the map value,
 * so a head split across segments parses as one); bodies are skipped by arithmetic
 * (Content-Length, chunk sizes), never read. A request's first byte starts its clock; its
 * response's first byte gives the time to first byte, its last byte the duration; chunked
 * responses also give the time to the first chunk and the gaps between chunks (streamed
 * replies such as LLM servers' tokens). Requests wait in a queue of SL_HTTP_PENDING, so
 * pipelined ones pair with their responses in order. A finished pair is added to
 * sluice_http_stats per (pod, peer, server port, role, method, status).
 *
 * What breaks framing stops the connection's parsing for good (SL_STAT_HTTP_LOST): a gap in
 * the sequence (a segment this veth never saw), a 101 Switching Protocols or a CONNECT, a
 * queue overflow, bytes that are not HTTP/1.x. A retransmission of bytes already read is
 * skipped. HTTP/2, TLS and other protocols never get a parser: their connections stay L4.
 */
#ifndef SL_BPF_HTTP_TEL_H
#define SL_BPF_HTTP_TEL_H

#include "common.h"
#include "evrl.h"
#include "http.h"
#include "maps.h"
#include "parse.h"

#define HT_BUF	     256 /* bytes read per bpf_loop */
#define HT_ROUNDS    32	 /* loop rounds per packet: messages, bodies, byte runs */
#define HT_TCP_FIN   0x01
#define HT_TCP_RST   0x04

/* parser states (sl_http_dir.st) */
enum {
	HT_START,	/* a message's first byte is next */
	HT_FIRST,	/* in the request line (method read) or status line */
	HT_SKIPLINE,	/* the rest of the first line */
	HT_LINE,	/* start of a header line, or the empty line */
	HT_NAME,
	HT_VWS,
	HT_VALUE,
	HT_H_LF,	/* a header line's CR */
	HT_END_LF,	/* the empty line's CR */
	HT_BODY,	/* skipping left bytes of a body or chunk */
	HT_CHUNK_SIZE,
	HT_CHUNK_EXT,	/* chunk extensions, up to the LF */
	HT_CHUNK_END,	/* the CRLF after a chunk's data */
	HT_TRAILER,	/* start of a trailer line, or the empty line ending the message */
	HT_TRAILER_LINE,
	HT_TRAILER_LF,
	HT_UNTIL_CLOSE, /* a response without framing: its body ends with the connection */
};

/* headers the framing needs (sl_http_dir.hdr) */
enum {
	HTH_OTHER,
	HTH_CLEN,
	HTH_TE,
	HTH_CONN,
	HTH_TP,		/* traceparent: kept for a sampled request's event */
	HTH_N,
};

static const volatile char ht_names[HTH_N][32] = {
	[HTH_CLEN] = "content-length",
	[HTH_TE] = "transfer-encoding",
	[HTH_CONN] = "connection",
	[HTH_TP] = "traceparent",
};
static const volatile __u8 ht_lens[HTH_N] = { 0, 14, 17, 10, 11 };
static const volatile char ht_http[8] = "HTTP/";
#define HTH_CAND_ALL ((1u << HTH_CLEN) | (1u << HTH_TE) | (1u << HTH_CONN) | (1u << HTH_TP))

/*
 * The state of a packet's loops, in the scratch map value rather than on the stack: the
 * verifier does not follow values in map memory, so each bpf_loop callback is verified once
 * for all positions instead of once for every position it could be called at.
 */
struct ht_run {
	__u64 now;
	__u32 seq0;	/* sequence number of s->buf[0] */
	__u32 used;	/* bytes of s->buf consumed */
	__u32 off;	/* where the packet's unread payload starts */
	__u32 end;	/* where it ends */
	__u32 tseq;	/* sequence number of the payload's first byte */
	__u32 toff;	/* the payload's offset */
	/* the fast path's scan of a head that is whole in s->buf (ht_fast) */
	__u32 fpos;	/* start of the line being looked at */
	__u32 fn;	/* bytes in s->buf */
	__u32 fend;	/* the head's length, once its empty line is found */
	__u32 nl_from;	/* ht_nl's scan */
	__s32 nl;
	__u32 ftp;	/* where the traceparent value starts, 0: none */
	__u64 fclen;	/* Content-Length */
	__u64 num;	/* a number being read */
	__u8 fflags;	/* SL_HT_F_CLEN, SL_HT_F_CHUNKED */
	__u8 fbail;	/* something the fast path does not read: the byte parser takes it */
	__u8 dir;	/* 0: requests, 1: responses */
	__u8 ftp_len;	/* its length */
	__u8 pad2[4];
	__u32 rbytes;	/* a finished response's length, for its event */
	__u32 po;	/* where the path of a request being started begins in s->buf */
};

struct ht_scratch {
	__u8 buf[HT_BUF + 8]; /* + 8: an 8-byte read at any offset below HT_BUF stays inside */
	struct sl_http_sval zero; /* never written: the value new aggregates start from */
	struct sl_http_flow nf;	  /* a new connection's parser, built here */
	struct sl_http_fkey k;	  /* the packet's connection */
	struct sl_http_skey sk;	  /* an aggregate's key */
	struct ht_run r;
	struct evrl rl;		  /* this CPU's HTTP event rate */
	__u32 cursor;		  /* its next sluice_http_cap slot */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ht_scratch);
} sluice_http_scr SEC(".maps");

/* Request events (sl_abi.h): not pinned, like sluice_events (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_HT_CAP_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_http_cap);
} sluice_http_cap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sluice_http_events SEC(".maps");

/* What the loop callbacks get (bpf_loop's context must be on the stack): pointers only. */
struct ht_ctx {
	struct __sk_buff *skb;
	struct sl_http_flow *f;
	struct ht_scratch *s;	/* with the connection's key in s->k and the loops' state in s->r */
};

/* Bucket of a duration; the bounds are constants, so clang unrolls this into compares. */
static __always_inline __u32 ht_bucket(__u64 ns, bool gap)
{
	const __u32 hb[SL_HTTP_BUCKETS - 1] = { SL_HTTP_BOUNDS_US };
	const __u32 gb[SL_HTTP_BUCKETS - 1] = { SL_GAP_BOUNDS_US };
	__u64 us = ns / 1000;
	__u32 i;

#pragma unroll
	for (i = 0; i < SL_HTTP_BUCKETS - 1; i++)
		if (us <= (gap ? gb[i] : hb[i]))
			return i;
	return SL_HTTP_BUCKETS - 1;
}

/* The aggregate of the oldest queued request's (method, status); created on first use. */
static __always_inline struct sl_http_sval *ht_stats(struct ht_ctx *c, __u8 method, __u16 status)
{
	struct sl_http_skey *sk = &c->s->sk;
	struct sl_http_sval *v;

	__builtin_memcpy(sk->local, c->s->k.local, sizeof(sk->local));
	__builtin_memcpy(sk->peer, c->s->k.peer, sizeof(sk->peer));
	sk->family = c->s->k.family;
	sk->role = c->f->role;
	sk->port = c->f->role == SL_L4_SERVER ? c->s->k.lport : c->s->k.pport;
	sk->status = status;
	sk->method = method;
	sk->pad = 0;
	v = bpf_map_lookup_elem(&sluice_http_stats, sk);
	if (v)
		return v;
	bpf_map_update_elem(&sluice_http_stats, sk, &c->s->zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&sluice_http_stats, sk);
	if (!v)
		stat_add(SL_STAT_HTTP_FULL, 0);
	return v;
}

static __always_inline struct sl_http_req *ht_q(struct sl_http_flow *f, __u32 i)
{
	return &f->q[(f->qh + i) & (SL_HTTP_PENDING - 1)];
}

static __always_inline void ht_lose(struct sl_http_flow *f)
{
	if (!f->lost)
		stat_add(SL_STAT_HTTP_LOST, 0);
	f->lost = 1;
}

static __always_inline __u64 ht_w(const __u8 *buf, __u32 off);

/*
 * Samples a request for an event (at most sl_cfg.http_events_per_sec per CPU): takes this
 * CPU's next sluice_http_cap slot, tags it with the request and copies the bytes after the
 * method from s->buf[s->r.po] (the round's bytes end at s->r.fn), and the traceparent value the
 * fast path found (s->r.ftp; the byte parser adds it byte by byte, ht_tp_byte).
 */
static __always_inline void ht_sample(struct ht_ctx *c, struct sl_http_req *r)
{
	__u32 rate = sl_cfg.http_events_per_sec, po = c->s->r.po, idx, i, n;
	struct sl_http_cap *cap;

	if (!rate || !ev_admit_rate(&c->s->rl, c->s->r.now, rate))
		return;
	idx = (bpf_get_smp_processor_id() * SL_HT_CAP + (c->s->cursor++ & (SL_HT_CAP - 1))) &
	      (SL_HT_CAP_SLOTS - 1);
	cap = bpf_map_lookup_elem(&sluice_http_cap, &idx);
	if (!cap)
		return;
	c->s->rl.sent++;
	cap->tag = r->ts;
	for (i = 0; i < SL_HT_EV_PATH / 8; i++)
		*(__u64 *)(cap->path + 8 * i) = ht_w(c->s->buf, po + 8 * i);
	n = c->s->r.fn > po ? c->s->r.fn - po : 0;
	cap->path_len = n < SL_HT_EV_PATH ? n : SL_HT_EV_PATH;
	cap->tp_len = 0;
	if (c->s->r.ftp) {
		for (i = 0; i < SL_HT_EV_TP / 8; i++)
			*(__u64 *)(cap->tp + 8 * i) = ht_w(c->s->buf, c->s->r.ftp + 8 * i);
		cap->tp_len = c->s->r.ftp_len;
	}
	r->cap = (__u16)(idx + 1);
}

/* The slot of a sampled request, if it is still the request's. */
static __always_inline struct sl_http_cap *ht_cap_of(const struct sl_http_req *r)
{
	struct sl_http_cap *cap;
	__u32 idx;

	if (!r->cap)
		return NULL;
	idx = r->cap - 1u;
	cap = bpf_map_lookup_elem(&sluice_http_cap, &idx);
	return cap && cap->tag == r->ts ? cap : NULL;
}

/* A request's head starts: method is known; the path starts at s->buf[s->r.po]. */
static __always_inline void ht_req_start(struct ht_ctx *c, __u8 method)
{
	struct sl_http_flow *f = c->f;
	struct sl_http_req *r;

	if (f->qn >= SL_HTTP_PENDING || method == SL_HTTP_CONNECT) {
		ht_lose(f); /* more in flight than the queue holds; or a tunnel */
		return;
	}
	r = ht_q(f, f->qn);
	r->ts = c->s->r.now;
	r->bytes = 0;
	r->method = method;
	r->done = 0;
	r->cap = 0;
	f->qn++;
	ht_sample(c, r);
}

/* A response ended: the event of its request, if that was sampled. */
static __always_inline void ht_event(struct ht_ctx *c, struct sl_http_req *r)
{
	struct sl_http_cap *cap = ht_cap_of(r);
	struct sl_http_event *e;
	__u32 i;

	e = bpf_ringbuf_reserve(&sluice_http_events, sizeof(*e), 0);
	if (!e) {
		stat_add(SL_STAT_EVENT_LOST, 0);
		return;
	}
	e->ts_ns = c->s->r.now;
	e->dur_ns = c->s->r.now - r->ts;
	e->ttfb_ns = c->f->resp_ts - r->ts;
	__builtin_memcpy(e->local, c->s->k.local, sizeof(e->local));
	__builtin_memcpy(e->peer, c->s->k.peer, sizeof(e->peer));
	e->req_bytes = r->bytes;
	e->resp_bytes = c->s->r.rbytes;
	e->chunks = c->f->chunks;
	e->lport = c->s->k.lport;
	e->pport = c->s->k.pport;
	e->status = c->f->status;
	e->family = c->s->k.family;
	e->role = c->f->role;
	e->method = r->method;
	e->pad = 0;
	if (cap) {
		for (i = 0; i < SL_HT_EV_PATH / 8; i++)
			*(__u64 *)(e->path + 8 * i) = *(__u64 *)(cap->path + 8 * i);
		for (i = 0; i < SL_HT_EV_TP / 8; i++)
			*(__u64 *)(e->tp + 8 * i) = *(__u64 *)(cap->tp + 8 * i);
		e->path_len = cap->path_len;
		e->tp_len = cap->tp_len;
	} else {
		e->path_len = 0;
		e->tp_len = 0;
	}
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP); /* the agent drains on a timer */
}

/* One byte of a request's traceparent value (the byte parser's way), at tok. */
static __always_inline void ht_tp_byte(struct ht_ctx *c, __u32 tok, __u8 b)
{
	struct sl_http_flow *f = c->f;
	struct sl_http_cap *cap;

	if (!f->qn || tok >= SL_HT_EV_TP)
		return;
	cap = ht_cap_of(ht_q(f, f->qn - 1));
	if (!cap)
		return;
	cap->tp[tok] = (char)b;
	cap->tp_len = (__u8)(tok + 1);
}

/* The last byte of the current message of c->s->r.dir was at seq - 1. */
static __always_inline void ht_msg_done(struct ht_ctx *c, __u32 seq)
{
	struct sl_http_flow *f = c->f;
	struct sl_http_dir *d = &f->d[c->s->r.dir & 1];
	struct sl_http_req *r;
	struct sl_http_sval *v;
	__u64 dur, ttfb;
	__u32 b;

	d->st = HT_START;
	if (c->s->r.dir == 0) {
		if (f->qn) {
			r = ht_q(f, f->qn - 1);
			r->bytes = seq - d->start;
			r->done = 1;
		}
		return;
	}
	if (!f->qn)
		return;
	r = ht_q(f, 0);
	v = ht_stats(c, r->method, f->status);
	if (v) {
		dur = c->s->r.now - r->ts;
		ttfb = f->resp_ts - r->ts;
		v->count++;
		v->req_bytes += r->bytes;
		v->resp_bytes += seq - d->start;
		v->dur_sum_ns += dur;
		b = ht_bucket(dur, false);
		if (b < SL_HTTP_BUCKETS)
			v->dur[b]++;
		v->ttfb_sum_ns += ttfb;
		b = ht_bucket(ttfb, false);
		if (b < SL_HTTP_BUCKETS)
			v->ttfb[b]++;
		if (f->chunks)
			v->streams++;
	}
	if (r->cap) {
		c->s->r.rbytes = seq - d->start;
		ht_event(c, r);
	}
	stat_add(SL_STAT_HTTP_REQ, 0);
	f->qh = (f->qh + 1) & (SL_HTTP_PENDING - 1);
	f->qn--;
}

/* A response chunk of data starts (responses only): time to first chunk, or a gap. */
static __always_inline void ht_chunk(struct ht_ctx *c)
{
	struct sl_http_flow *f = c->f;
	struct sl_http_sval *v;
	__u64 t;
	__u32 b;

	if (c->s->r.dir != 1 || !f->qn)
		return;
	v = ht_stats(c, ht_q(f, 0)->method, f->status);
	if (v) {
		if (!f->chunks) {
			t = c->s->r.now - ht_q(f, 0)->ts;
			v->ttfc_sum_ns += t;
			b = ht_bucket(t, false);
			if (b < SL_HTTP_BUCKETS)
				v->ttfc[b]++;
		} else {
			t = c->s->r.now - f->chunk_ts;
			v->gaps++;
			v->gap_sum_ns += t;
			b = ht_bucket(t, true);
			if (b < SL_HTTP_BUCKETS)
				v->gap[b]++;
		}
	}
	f->chunks++;
	f->chunk_ts = c->s->r.now;
}

/* The empty line ended a head at seq (the byte after it). Returns 1: stop the byte loop. */
static __always_inline long ht_head_done(struct ht_ctx *c, struct sl_http_dir *d, __u32 seq)
{
	struct sl_http_flow *f = c->f;
	__u16 st = f->status;
	__u8 m;

	if (c->s->r.dir == 1) {
		if (st == 101) {
			ht_lose(f); /* another protocol from here on */
			return 1;
		}
		if (st >= 100 && st < 200) {
			d->st = HT_START; /* interim: the final response follows */
			return 0;
		}
		m = f->qn ? ht_q(f, 0)->method : SL_HTTP_OTHER;
		if (m == SL_HTTP_HEAD || st == 204 || st == 304) {
			ht_msg_done(c, seq);
			return 0;
		}
	}
	if (d->flags & SL_HT_F_CHUNKED) {
		d->st = HT_CHUNK_SIZE;
		d->num = 0;
		return 0;
	}
	if ((d->flags & SL_HT_F_CLEN) && d->num) {
		d->st = HT_BODY;
		d->left = d->num;
		return 1;
	}
	if (c->s->r.dir == 1 && !(d->flags & SL_HT_F_CLEN)) {
		d->st = HT_UNTIL_CLOSE;
		return 1;
	}
	ht_msg_done(c, seq); /* no body */
	return 0;
}

static __always_inline int ht_hex(__u8 b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b = lower(b);
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	return -1;
}

/* Where the method's byte i goes in sl_http_dir.num so that num's bytes read as the method. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HT_MSHIFT(i) (8 * (i))
#else
#define HT_MSHIFT(i) (56 - 8 * (i))
#endif

/* One byte of a head, chunk-size line or trailer. bpf_loop callback: 1 stops the loop. */
static long ht_byte(__u32 idx, void *ctx)
{
	struct ht_ctx *c = ctx;
	struct sl_http_flow *f = c->f;
	struct sl_http_dir *d = &f->d[c->s->r.dir & 1];
	__u32 seq = c->s->r.seq0 + idx;
	__u8 b = c->s->buf[idx & (HT_BUF - 1)], l;
	int h;

	c->s->r.used = idx + 1;
	switch (d->st) {
	case HT_START:
		if (b == '\r' || b == '\n')
			return 0; /* stray line ends between messages */
		d->flags = 0;
		d->num = 0;
		d->tok = 0;
		d->cand = 0;
		d->start = seq;
		if (c->s->r.dir == 1) {
			if (!f->qn) {
				ht_lose(f); /* a response to nothing */
				return 1;
			}
			f->resp_ts = c->s->r.now;
			f->chunks = 0;
			f->status = 0;
		}
		d->st = HT_FIRST;
		__attribute__((fallthrough));
	case HT_FIRST:
		if (c->s->r.dir == 0) {
			/* the method, up to 8 bytes into num, then SP */
			if (b == ' ') {
				/* num holds the method's bytes in memory order (HT_MSHIFT) */
				c->s->r.po = idx + 1;
				ht_req_start(c, method_of((const char *)&d->num, d->tok));
				d->st = HT_SKIPLINE;
				return f->lost ? 1 : 0;
			}
			if (!tchar(b) || d->tok >= 8) {
				ht_lose(f);
				return 1;
			}
			d->num |= (__u64)b << HT_MSHIFT(d->tok);
			d->tok++;
			return 0;
		}
		/* "HTTP/1.x SSS": the status digits are bytes 9 to 11 */
		if (d->tok < 5 && b != ht_http[d->tok & 7]) {
			ht_lose(f);
			return 1;
		}
		if (d->tok >= 9 && d->tok <= 11) {
			if (b < '0' || b > '9') {
				ht_lose(f);
				return 1;
			}
			f->status = f->status * 10 + (b - '0');
		}
		if (b == '\n') {
			d->st = HT_LINE;
			return 0;
		}
		if (d->tok == 11)
			d->st = HT_SKIPLINE;
		d->tok++;
		return 0;
	case HT_SKIPLINE:
		if (b == '\n')
			d->st = HT_LINE;
		return 0;
	case HT_LINE:
		if (b == '\r') {
			d->st = HT_END_LF;
			return 0;
		}
		if (b == '\n')
			return ht_head_done(c, d, seq + 1);
		d->st = HT_NAME;
		d->tok = 0;
		d->cand = HTH_CAND_ALL;
		d->hdr = HTH_OTHER;
		__attribute__((fallthrough));
	case HT_NAME:
		if (b == ':') {
			d->hdr = HTH_OTHER;
			for (h = 1; h < HTH_N; h++)
				if ((d->cand & (1u << h)) && d->tok == ht_lens[h])
					d->hdr = h;
			d->st = HT_VWS;
			d->tok = 0;
			return 0;
		}
		if (b == '\n') {
			d->st = HT_LINE;
			return 0;
		}
		l = lower(b);
		for (h = 1; h < HTH_N; h++)
			if ((d->cand & (1u << h)) &&
			    (d->tok >= ht_lens[h] || ht_names[h][d->tok & 31] != l))
				d->cand &= ~(1u << h);
		if (d->tok < 255)
			d->tok++;
		return 0;
	case HT_VWS:
		if (b == ' ' || b == '\t')
			return 0;
		if (d->hdr == HTH_CLEN) {
			d->flags |= SL_HT_F_CLEN;
			d->num = 0;
		} else if (d->hdr == HTH_TE) {
			d->flags = (d->flags & ~SL_HT_F_CHUNKED) | SL_HT_F_TE_OK;
		} else if (d->hdr == HTH_CONN) {
			d->flags |= SL_HT_F_CN_OK;
		} else if (d->hdr == HTH_TP && c->s->r.dir != 0) {
			d->hdr = HTH_OTHER; /* only a request's is kept */
		}
		d->st = HT_VALUE;
		__attribute__((fallthrough));
	case HT_VALUE:
		if (b == '\r' || b == '\n') {
			if (d->hdr == HTH_TE && (d->flags & SL_HT_F_TE_OK) && d->tok == 7)
				d->flags |= SL_HT_F_CHUNKED;
			if (d->hdr == HTH_CONN && (d->flags & SL_HT_F_CN_OK) && d->tok == 5)
				d->flags |= SL_HT_F_CLOSE;
			d->flags &= ~(SL_HT_F_TE_OK | SL_HT_F_CN_OK);
			d->st = b == '\r' ? HT_H_LF : HT_LINE;
			return 0;
		}
		l = lower(b);
		if (d->hdr == HTH_CLEN) {
			if (b < '0' || b > '9' || d->num > (1ull << 50)) {
				ht_lose(f);
				return 1;
			}
			d->num = d->num * 10 + (b - '0');
		} else if (d->hdr == HTH_TE) {
			/* the last coding must be chunked: a list restarts the match */
			if (b == ',' || b == ' ' || b == '\t') {
				d->flags |= SL_HT_F_TE_OK;
				d->tok = 0;
				return 0;
			}
			if (d->tok >= 7 || te_chunked[d->tok & 7] != l)
				d->flags &= ~SL_HT_F_TE_OK;
		} else if (d->hdr == HTH_CONN) {
			if (d->tok >= 5 || conn_close[d->tok & 7] != l)
				d->flags &= ~SL_HT_F_CN_OK;
		} else if (d->hdr == HTH_TP) {
			ht_tp_byte(c, d->tok, b);
		}
		if (d->tok < 255)
			d->tok++;
		return 0;
	case HT_H_LF:
		d->st = HT_LINE;
		return 0;
	case HT_END_LF:
		return ht_head_done(c, d, seq + 1);
	case HT_CHUNK_SIZE:
		h = ht_hex(b);
		if (h >= 0) {
			if (d->num > (1ull << 50)) {
				ht_lose(f);
				return 1;
			}
			d->num = d->num * 16 + (__u64)h;
			return 0;
		}
		if (b == ';' || b == ' ' || b == '\t' || b == '\r') {
			d->st = HT_CHUNK_EXT;
			return 0;
		}
		if (b != '\n') {
			ht_lose(f);
			return 1;
		}
		__attribute__((fallthrough));
	case HT_CHUNK_EXT:
		if (b != '\n')
			return 0;
		if (!d->num) {
			d->st = HT_TRAILER;
			return 0;
		}
		ht_chunk(c);
		d->left = d->num;
		d->st = HT_BODY;
		return 1;
	case HT_CHUNK_END:
		if (b == '\n') {
			d->st = HT_CHUNK_SIZE;
			d->num = 0;
		} else if (b != '\r') {
			ht_lose(f);
			return 1;
		}
		return 0;
	case HT_TRAILER:
		if (b == '\r') {
			d->st = HT_TRAILER_LF;
			return 0;
		}
		if (b == '\n') {
			ht_msg_done(c, seq + 1);
			return 0;
		}
		d->st = HT_TRAILER_LINE;
		return 0;
	case HT_TRAILER_LINE:
		if (b == '\n')
			d->st = HT_TRAILER;
		return 0;
	case HT_TRAILER_LF:
		ht_msg_done(c, seq + 1);
		return 0;
	}
	return 1;
}

/*
 * The fast path: a head that is whole in s->buf is read line by line, a word (8 bytes) at a
 * time, looking only at the lines that matter for framing (Content-Length, Transfer-Encoding:
 * chunked). Anything else it is not sure of (a split line, a duplicate Content-Length, a
 * transfer coding other than exactly "chunked", an odd first line) sets fbail, and the byte
 * parser (ht_byte) reads the head from its first byte instead, with the same result.
 */
#define HT_LC	  0x2020202020202020ull /* ASCII letters to lower case; digits, '-' and ':' stay */
#define HT_ONES	  0x0101010101010101ull
#define HT_HIGHS  0x8080808080808080ull
#define HT_W(s)	  ((__u64)(s)[0] | (__u64)(s)[1] << 8 | (__u64)(s)[2] << 16 | (__u64)(s)[3] << 24 | \
		   (__u64)(s)[4] << 32 | (__u64)(s)[5] << 40 | (__u64)(s)[6] << 48 |            \
		   (__u64)(s)[7] << 56)

static __always_inline __u64 ht_w(const __u8 *buf, __u32 off)
{
	return *(const __u64 *)(buf + (off & (HT_BUF - 1)));
}

static __always_inline __u8 ht_b(const __u8 *buf, __u32 off)
{
	return buf[off & (HT_BUF - 1)];
}

#define HT_NL_WORDS 4 /* words one scan step looks at */

/*
 * Step idx of ht_nl's scan: HT_NL_WORDS words from nl_from + idx * 8 * HT_NL_WORDS. Sets
 * s->r.nl and returns 1 at the first '\n' (or the end); 0: go on.
 */
static __always_inline long ht_nl_step(struct ht_ctx *c, __u32 idx)
{
	const __u8 *buf = c->s->buf;
	__u32 fn = c->s->r.fn, o = c->s->r.nl_from + idx * 8 * HT_NL_WORDS, k, i;
	__u64 x, m;

#pragma unroll
	for (i = 0; i < HT_NL_WORDS; i++, o += 8) {
		if (o >= fn)
			return 1;
		x = ht_w(buf, o) ^ (0x0aull * HT_ONES);
		m = (x - HT_ONES) & ~x & HT_HIGHS; /* the lowest set bit marks the first '\n' */
		if (!m)
			continue;
		/* its byte index, without a loop: count the bytes below the lowest set bit */
		k = (__u32)(((((m & -m) >> 7) - 1) & HT_ONES) * HT_ONES >> 56);
		if (o + k < fn)
			c->s->r.nl = (int)(o + k);
		return 1;
	}
	return 0;
}

/* The scan's later steps: bpf_loop callback (verified once, however long the line). */
static long ht_nl_word(__u32 idx, void *ctx)
{
	return ht_nl_step(ctx, idx + 1);
}

/* The offset of the first '\n' in c->s->buf at or after from and below c->s->r.fn, or -1. */
static __always_inline int ht_nl(struct ht_ctx *c, __u32 from)
{
	c->s->r.nl_from = from;
	c->s->r.nl = -1;
	/* most lines end within the first step: it is inline, the rest a loop of calls */
	if (!ht_nl_step(c, 0))
		bpf_loop(HT_BUF / (8 * HT_NL_WORDS), ht_nl_word, c, 0);
	return c->s->r.nl;
}

/* The value of a header line at v (after the colon): spaces skipped, up to the line's end. */
static __always_inline __u32 ht_ws(const __u8 *buf, __u32 v, __u32 nl)
{
	__u32 i;

	for (i = 0; i < 8 && v < nl && (ht_b(buf, v) == ' ' || ht_b(buf, v) == '\t'); i++)
		v++;
	return v;
}

/* One line of a head, at s->r.fpos: 1 ends the scan (head found, or bail). */
static __always_inline long ht_line(struct ht_ctx *c)
{
	static const char cl1[8] = "content-", cl2[8] = "length:", te1[8] = "transfer",
			  te2[8] = "-encodin", ch[8] = "chunked", tp1[8] = "tracepar",
			  tp2[8] = "ent:";
	const __u8 *buf = c->s->buf;
	__u32 pos = c->s->r.fpos, v, i;
	__u64 w;
	__u8 b0, b;
	int nl;

	if (pos >= c->s->r.fn)
		goto bail;
	b0 = ht_b(buf, pos);
	if (b0 == '\r' || b0 == '\n') {
		if (b0 == '\r' && (pos + 1 >= c->s->r.fn || ht_b(buf, pos + 1) != '\n'))
			goto bail;
		c->s->r.fend = pos + (b0 == '\r' ? 2 : 1);
		return 1;
	}
	nl = ht_nl(c, pos);
	if (nl < 0)
		goto bail;
	b0 |= 0x20;
	if (b0 == 'c' && (ht_w(buf, pos) | HT_LC) == HT_W(cl1) &&
	    ((ht_w(buf, pos + 8) | HT_LC) & 0x00ffffffffffffffull) == HT_W(cl2)) {
		if (c->s->r.fflags & SL_HT_F_CLEN)
			goto bail; /* twice: the byte parser says what that means */
		v = ht_ws(buf, pos + 15, (__u32)nl);
		c->s->r.num = 0;
		for (i = 0; i < 19 && v < (__u32)nl; i++, v++) {
			b = ht_b(buf, v);
			if (b == '\r')
				break;
			if (b < '0' || b > '9')
				goto bail;
			c->s->r.num = c->s->r.num * 10 + (b - '0');
		}
		if (i == 0 || (v < (__u32)nl && ht_b(buf, v) != '\r'))
			goto bail;
		c->s->r.fflags |= SL_HT_F_CLEN;
		c->s->r.fclen = c->s->r.num;
	} else if (b0 == 't' && (ht_w(buf, pos) | HT_LC) == HT_W(te1) &&
		   (ht_w(buf, pos + 8) | HT_LC) == HT_W(te2)) {
		w = ht_w(buf, pos + 16) | HT_LC;
		if ((w & 0xffff) != ('g' | ':' << 8))
			goto bail;
		v = ht_ws(buf, pos + 18, (__u32)nl);
		w = ht_w(buf, v) | HT_LC;
		b = ht_b(buf, v + 7);
		if ((w & 0x00ffffffffffffffull) != HT_W(ch) || (b != '\r' && b != '\n') ||
		    v + 7 > (__u32)nl)
			goto bail; /* another coding, or a list: the byte parser reads it */
		c->s->r.fflags |= SL_HT_F_CHUNKED;
	} else if (b0 == 't' && c->s->r.dir == 0 && !c->s->r.ftp &&
		   (ht_w(buf, pos) | HT_LC) == HT_W(tp1) &&
		   ((ht_w(buf, pos + 8) | HT_LC) & 0xffffffffull) == HT_W(tp2)) {
		v = ht_ws(buf, pos + 12, (__u32)nl);
		i = (__u32)nl - v;
		if (i && ht_b(buf, nl - 1) == '\r')
			i--;
		c->s->r.ftp = v;
		c->s->r.ftp_len = i < SL_HT_EV_TP ? i : SL_HT_EV_TP;
	}
	c->s->r.fpos = (__u32)nl + 1;
	return 0;
bail:
	c->s->r.fbail = 1;
	return 1;
}

/* One line of a head: bpf_loop callback, 1 ends the scan. */
static long ht_fast_line(__u32 idx, void *ctx)
{
	return ht_line(ctx);
}

/*
 * A message starts at s->buf[0] (n bytes there): reads its head on the fast path if it can.
 * Returns the head's length once the message is under way (as ht_byte would leave it), or 0:
 * the byte parser must read it.
 */
static __always_inline __u32 ht_fast(struct ht_ctx *c, __u32 n)
{
	static const char h11[8] = "HTTP/1.1", h10[8] = "HTTP/1.0";
	struct sl_http_flow *f = c->f;
	struct sl_http_dir *d = &f->d[c->s->r.dir & 1];
	const __u8 *buf = c->s->buf;
	__u16 status = 0;
	__u8 method = SL_HTTP_OTHER, b;
	__u64 w;
	__u32 i;
	int nl;

	if (n < 16)
		return 0;
	w = ht_w(buf, 0);
	if (c->s->r.dir == 0) {
		/* an upper-case method of up to 7 letters, then SP */
		for (i = 0; i < 8; i++) {
			b = (__u8)(w >> (8 * i));
			if (b == ' ')
				break;
			if (b < 'A' || b > 'Z')
				return 0;
		}
		if (i == 0 || i == 8)
			return 0;
		/* in map memory, not a register: the verifier need not follow each length */
		c->s->r.po = i + 1;
		method = method_of((const char *)buf, i);
		if (method == SL_HTTP_CONNECT)
			return 0;
	} else {
		if (w != HT_W(h11) && w != HT_W(h10))
			return 0;
		if (ht_b(buf, 8) != ' ')
			return 0;
		for (i = 9; i < 12; i++) {
			b = ht_b(buf, i);
			if (b < '0' || b > '9')
				return 0;
			status = status * 10 + (b - '0');
		}
		if (!f->qn)
			return 0; /* a response to nothing: the byte parser says so */
	}
	c->s->r.fn = n;
	nl = ht_nl(c, 0);
	if (nl < 0)
		return 0;
	c->s->r.fpos = (__u32)nl + 1;
	c->s->r.fend = 0;
	c->s->r.fclen = 0;
	c->s->r.fflags = 0;
	c->s->r.fbail = 0;
	bpf_loop(32, ht_fast_line, c, 0);
	if (c->s->r.fbail || !c->s->r.fend)
		return 0;
	/* what ht_byte does at the message's first byte, then at its empty line */
	d->start = c->s->r.seq0;
	d->tok = 0;
	d->cand = 0;
	if (c->s->r.dir == 0) {
		ht_req_start(c, method);
		if (f->lost)
			return c->s->r.fend;
	} else {
		f->resp_ts = c->s->r.now;
		f->chunks = 0;
		f->status = status;
	}
	d->flags = c->s->r.fflags;
	d->num = c->s->r.fclen;
	d->st = HT_FIRST;
	ht_head_done(c, d, c->s->r.seq0 + c->s->r.fend);
	return c->s->r.fend;
}

/* One round over a packet: skip a body, or read up to HT_BUF bytes. bpf_loop callback. */
static long ht_round(__u32 idx, void *ctx)
{
	struct ht_ctx *c = ctx;
	struct sl_http_flow *f = c->f;
	struct sl_http_dir *d = &f->d[c->s->r.dir & 1];
	__u32 n;

	if (c->s->r.off >= c->s->r.end || f->lost)
		return 1;
	if (d->st == HT_BODY) {
		n = c->s->r.end - c->s->r.off;
		if (n > d->left)
			n = (__u32)d->left;
		c->s->r.off += n;
		d->left -= n;
		if (d->left)
			return 0;
		if (d->flags & SL_HT_F_CHUNKED)
			d->st = HT_CHUNK_END;
		else
			ht_msg_done(c, c->s->r.tseq + (c->s->r.off - c->s->r.toff));
		return c->s->r.off >= c->s->r.end; /* no call just to find the end */
	}
	if (d->st == HT_UNTIL_CLOSE) {
		c->s->r.off = c->s->r.end;
		return 1;
	}
	n = c->s->r.end - c->s->r.off;
	if (n > HT_BUF)
		n = HT_BUF;
	/* 1..HT_BUF in a form the verifier can bound, whatever register holds n */
	n = ((n - 1) & (HT_BUF - 1)) + 1;
	if (bpf_skb_load_bytes(c->skb, c->s->r.off, c->s->buf, n) < 0)
		return 1;
	c->s->r.fn = n;
	c->s->r.ftp = 0;
	c->s->r.seq0 = c->s->r.tseq + (c->s->r.off - c->s->r.toff);
	c->s->r.used = 0;
	if (d->st == HT_START && ht_b(c->s->buf, 0) != '\r' && ht_b(c->s->buf, 0) != '\n')
		c->s->r.used = ht_fast(c, n);
	if (!c->s->r.used)
		bpf_loop(n, ht_byte, c, 0);
	c->s->r.off += c->s->r.used;
	return c->s->r.off >= c->s->r.end;
}

/* The TCP header fields the parser needs, and where the payload is. */
struct ht_tcp {
	__u32 seq;
	__u32 off;	/* payload offset in the frame */
	__u32 len;	/* payload bytes */
	__u8 flags;
};

static __always_inline int ht_tcp_read(struct __sk_buff *skb, const struct pkt *p,
				       struct ht_tcp *t)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	const __u8 *dth = data + (p->l4_off & 0xff), *dip = data + (p->l3_off & 0xff);
	__u8 th[14];
	__u16 iplen;
	__u32 l4len;

	/* pkt_parse read these headers in the linear part: read them there again (the NAT's
	 * helpers may have moved it, so the pointers are taken afresh); copy if not */
	if ((void *)(dth + sizeof(th)) <= end && (void *)(dip + 6) <= end) {
		__builtin_memcpy(th, dth, sizeof(th));
		iplen = p->family == SL_AF_INET ? ((__u16)dip[3] << 8 | dip[2])
						: ((__u16)dip[5] << 8 | dip[4]);
	} else if (bpf_skb_load_bytes(skb, p->l4_off, th, sizeof(th)) < 0 ||
		   bpf_skb_load_bytes(skb, p->l3_off + (p->family == SL_AF_INET ? 2 : 4), &iplen,
				      2) < 0) {
		return -1;
	}
	if (p->family == SL_AF_INET)
		l4len = bpf_ntohs(iplen) - (p->l4_off - p->l3_off);
	else
		l4len = bpf_ntohs(iplen);
	t->seq = ((__u32)th[4] << 24) | ((__u32)th[5] << 16) | ((__u32)th[6] << 8) | th[7];
	t->flags = th[13];
	if ((th[12] >> 4) * 4u > l4len)
		return -1;
	t->off = p->l4_off + (th[12] >> 4) * 4u;
	t->len = l4len - (th[12] >> 4) * 4u;
	if (t->off + t->len > skb->len)
		return -1;
	return 0;
}

/* Does the payload start with a request method and a space? */
static __always_inline bool ht_is_request(struct __sk_buff *skb, const struct ht_tcp *t)
{
	char m[8] = {};
	__u32 n;

	if (t->len < 4 || bpf_skb_load_bytes(skb, t->off, m, t->len < 8 ? 4 : 8) < 0)
		return false;
	for (n = 0; n < 8 && m[n] != ' '; n++)
		;
	return n < 8 && method_of(m, n) != SL_HTTP_OTHER;
}

/*
 * One packet on the pod's veth (from_pod: the pod sent it), as the pod's socket sees the
 * connection (after tc's reverse NAT, before its DNAT: the tuples of both directions match).
 */
static __noinline int ht_packet(struct __sk_buff *skb, const struct pkt *p, bool from_pod)
{
	struct sl_http_flow *f, *nf;
	struct sl_http_fkey *k;
	struct sl_http_dir *d;
	struct ht_ctx c = {};
	struct ht_tcp t;
	__u32 zero = 0;
	__u8 dir;

	if (!(sl_cfg.flags & SL_CFG_F_HTTP_TELEMETRY) || p->proto != IPPROTO_TCP || !p->l4 ||
	    p->frag)
		return 0;
	if (ht_tcp_read(skb, p, &t) < 0)
		return 0;
	if (!t.len && !(t.flags & (HT_TCP_FIN | HT_TCP_RST)))
		return 0; /* a bare ACK: nothing for the parser */
	c.s = bpf_map_lookup_elem(&sluice_http_scr, &zero);
	if (!c.s)
		return 0;
	k = &c.s->k;
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	if (from_pod) {
		__builtin_memcpy(k->local, p->saddr, 16);
		__builtin_memcpy(k->peer, p->daddr, 16);
		k->lport = bpf_ntohs(p->sport);
		k->pport = bpf_ntohs(p->dport);
	} else {
		__builtin_memcpy(k->local, p->daddr, 16);
		__builtin_memcpy(k->peer, p->saddr, 16);
		k->lport = bpf_ntohs(p->dport);
		k->pport = bpf_ntohs(p->sport);
	}
	f = bpf_map_lookup_elem(&sluice_http_flow, k);
	if (!f) {
		if ((t.flags & (HT_TCP_FIN | HT_TCP_RST)) || !ht_is_request(skb, &t))
			return 0;
		nf = &c.s->nf;
		__builtin_memset(nf, 0, sizeof(*nf));
		nf->role = from_pod ? SL_L4_CLIENT : SL_L4_SERVER;
		nf->d[0].seq = t.seq;
		nf->d[1].flags = 0xff; /* the response direction's sequence is not known yet */
		if (bpf_map_update_elem(&sluice_http_flow, k, nf, BPF_NOEXIST) < 0)
			return 0;
		f = bpf_map_lookup_elem(&sluice_http_flow, k);
		if (!f)
			return 0;
	}
	if (t.flags & HT_TCP_RST) {
		bpf_map_delete_elem(&sluice_http_flow, k);
		return 0;
	}
	if (f->lost)
		goto fin;
	dir = (from_pod == (f->role == SL_L4_CLIENT)) ? 0 : 1;
	d = &f->d[dir];
	if (dir == 1 && d->flags == 0xff) {
		if (!t.len)
			goto fin;
		d->seq = t.seq; /* the first response byte */
		d->flags = 0;
	}
	if (!t.len)
		goto fin;
	if ((__s32)(t.seq + t.len - d->seq) <= 0)
		goto fin; /* all of it seen before: a retransmission */
	if ((__s32)(t.seq - d->seq) > 0) {
		ht_lose(f); /* a gap: framing cannot be trusted any more */
		goto fin;
	}
	c.skb = skb;
	c.f = f;
	c.s->r.now = bpf_ktime_get_ns();
	c.s->r.dir = dir;
	c.s->r.off = t.off + (d->seq - t.seq);
	c.s->r.end = t.off + t.len;
	c.s->r.tseq = t.seq;
	c.s->r.toff = t.off;
	bpf_loop(HT_ROUNDS, ht_round, &c, 0);
	if (c.s->r.off < c.s->r.end && !f->lost)
		ht_lose(f); /* more messages in one packet than HT_ROUNDS */
	d = &f->d[dir];
	d->seq = t.seq + t.len;
fin:
	if (t.flags & HT_TCP_FIN) {
		/* the server closing ends a response that has no other framing */
		if (!f->lost && f->d[1].st == HT_UNTIL_CLOSE &&
		    (from_pod == (f->role == SL_L4_SERVER))) {
			c.f = f;
			c.s->r.now = bpf_ktime_get_ns();
			c.s->r.dir = 1;
			ht_msg_done(&c, t.seq + t.len);
		}
	}
	return 0;
}

#endif

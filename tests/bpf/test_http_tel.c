// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.x telemetry (bpf/include/http_tel.h) in sluice_tc_in / sluice_tc_out, by
 * BPF_PROG_TEST_RUN over TCP segments of real HTTP exchanges, built here with their sequence
 * numbers. The pod is 10.0.0.1 (its veth is lo, ifindex 1, in this file's fresh netns); as a
 * client it sends requests through sluice_tc_in to 10.0.0.2:80 and gets responses through
 * sluice_tc_out; as a server (port 8080) the other way round. Each case checks what
 * sluice_http_stats aggregated: counts per method and status, bytes, and durations.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/maps/maps.h"
#include "agent/telemetry/reqev.h"
#include "sl_abi.h"
#include "tc_pod.skel.h"
#include "tests/bpf/pktbuild.h"
#include "tests/bpf/testrun.h"

#define POD	"10.0.0.1"
#define PEER	"10.0.0.2"
#define CPORT	40000
#define SPORT	80
#define N_SVAL	(sizeof(struct sl_http_sval) / sizeof(uint64_t))
#define ACK_PSH 0x18
#define FIN_ACK 0x11

struct fix {
	struct tc_pod *skel;
	int stats_fd;
	uint32_t cseq, sseq; /* next sequence number of the pod's side and of the peer's */
	bool pod_is_server;
};

static unsigned int events_rate; /* sl_cfg.http_events_per_sec of the next setup */

static int setup_as(void **state, bool server)
{
	struct fix *f = calloc(1, sizeof(*f));
	const struct tr_ep eps[] = { { POD, 1, 1, 0, 0 } };
	struct maps_result res;
	uint32_t lo = 1;

	if (!f)
		return -1;
	f->skel = tc_pod__open();
	if (!f->skel)
		return -1;
	f->skel->rodata->sl_cfg.flags = SL_CFG_F_HTTP_TELEMETRY;
	f->skel->rodata->sl_cfg.http_events_per_sec = events_rate;
	if (tr_pins_clear(f->skel->obj) < 0 || tc_pod__load(f->skel) < 0)
		return -1;
	tr_ep_seed(bpf_map__fd(f->skel->maps.sluice_ep), eps, 1);
	tr_ep_stats_seed(bpf_map__fd(f->skel->maps.sluice_ep_stats), &lo, 1, &res);
	f->stats_fd = bpf_map__fd(f->skel->maps.sluice_http_stats);
	f->cseq = 1000;
	f->sseq = 0xfffffff0u; /* wraps during the exchange */
	f->pod_is_server = server;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_as(state, false);
}

static int setup_events(void **state)
{
	int r;

	events_rate = events_rate ? events_rate : 1000;
	r = setup(state);
	events_rate = 0;
	return r;
}

static int setup_server(void **state)
{
	return setup_as(state, true);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	tc_pod__destroy(f->skel);
	free(f);
	return 0;
}

/*
 * One segment: from the client (requests) or the server (responses) of the connection, with
 * payload data, at the side's next sequence number (or at seq_back bytes before it: a
 * retransmission; or skipping seq_skip bytes: a gap).
 */
static int setup_off(void **state);
static uint32_t *bench_ns; /* where seg_at puts a run's duration, for the benches */

static void seg_at(struct fix *f, bool from_client, const char *data, size_t len, uint8_t flags,
		   uint32_t seq_back, uint32_t seq_skip)
{
	bool from_pod = from_client != f->pod_is_server;
	uint16_t cport = f->pod_is_server ? CPORT : CPORT, sport = f->pod_is_server ? 8080 : SPORT;
	const char *src = from_pod ? POD : PEER, *dst = from_pod ? PEER : POD;
	uint32_t *seq = from_client ? &f->cseq : &f->sseq, s;
	uint8_t buf[PKT_MAX];
	struct tr_out out;
	int n;

	n = tr_frame(buf, AF_INET, IPPROTO_TCP, src, from_client ? cport : sport, dst,
		     from_client ? sport : cport, len, flags);
	assert_true(n > 0);
	memcpy(buf + 14 + 20 + 20, data, len);
	s = htonl(*seq - seq_back + seq_skip);
	memcpy(buf + 14 + 20 + 4, &s, 4);
	assert_int_equal(tr_run(from_pod ? f->skel->progs.sluice_tc_in : f->skel->progs.sluice_tc_out,
				true, buf, n, 1, &out, bench_ns), 0);
	assert_int_equal(out.retval, 0); /* TC_ACT_OK: telemetry never drops */
	if (!seq_back)
		*seq += (uint32_t)len + seq_skip + ((flags & 1) ? 1 : 0);
}

static void seg(struct fix *f, bool from_client, const char *data)
{
	seg_at(f, from_client, data, strlen(data), ACK_PSH, 0, 0);
}

#define REQ(f, s)  seg(f, true, s)
#define RESP(f, s) seg(f, false, s)

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* The aggregate of (method, status) for this connection, summed over CPUs. */
static struct sl_http_sval stats_of(struct fix *f, uint8_t method, uint16_t status)
{
	struct sl_http_skey k = { .status = status, .family = SL_AF_INET, .method = method };
	uint64_t sum[N_SVAL];
	struct sl_http_sval v;

	tr_abi_addr(POD, k.local);
	tr_abi_addr(PEER, k.peer);
	k.role = f->pod_is_server ? SL_L4_SERVER : SL_L4_CLIENT;
	k.port = f->pod_is_server ? 8080 : SPORT;
	assert_int_equal(pkt_percpu_sum(f->stats_fd, &k, sum, N_SVAL), 0);
	memcpy(&v, sum, sizeof(v));
	return v;
}

static uint64_t total_count(struct fix *f)
{
	struct sl_http_skey k, next;
	uint64_t sum[N_SVAL], n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(f->stats_fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		assert_int_equal(pkt_percpu_sum(f->stats_fd, &k, sum, N_SVAL), 0);
		n += sum[0];
	}
	return n;
}

static uint64_t hist_n(const __u64 *h)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < SL_HTTP_BUCKETS; i++)
		n += h[i];
	return n;
}

static uint64_t stat_of(struct fix *f, uint32_t idx)
{
	return tr_stat_packets(bpf_map__fd(f->skel->maps.sluice_stats), idx);
}

/* --- cases ----------------------------------------------------------------------------------- */

static const char get_a[] = "GET /a HTTP/1.1\r\nHost: web\r\nUser-Agent: t\r\n\r\n";
static const char ok_5[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: t\r\n\r\nhello";

static void get__one_pair_bytes_and_duration(void **state)
{
	struct fix *f = *state;
	struct sl_http_sval v;

	REQ(f, get_a);
	sleep_ms(12);
	RESP(f, ok_5);
	v = stats_of(f, SL_HTTP_GET, 200);
	assert_int_equal(v.count, 1);
	assert_int_equal(v.req_bytes, strlen(get_a));
	assert_int_equal(v.resp_bytes, strlen(ok_5));
	assert_true(v.dur_sum_ns >= 12000000 && v.dur_sum_ns < 1000000000);
	/* 12 ms: above the 0.01 s bound, within 0.025 s */
	assert_int_equal(v.dur[2], 1);
	assert_int_equal(hist_n(v.ttfb), 1);
	assert_int_equal(v.streams, 0);
	assert_int_equal(total_count(f), 1);
	assert_int_equal(stat_of(f, SL_STAT_HTTP_REQ), 1);
}

static void keepalive__methods_statuses_and_bodies(void **state)
{
	static const char post[] = "POST /p HTTP/1.1\r\ncontent-length:  10\r\n\r\n0123456789";
	static const char created[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
	static const char del[] = "DELETE /d HTTP/1.1\r\n\r\n";
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n";
	static const char purge[] = "PURGE /x HTTP/1.1\r\n\r\n";
	static const char err[] = "HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n";
	struct fix *f = *state;

	REQ(f, get_a);
	RESP(f, ok_5);
	REQ(f, post);
	RESP(f, created);
	REQ(f, del);
	RESP(f, nf);
	REQ(f, purge);
	RESP(f, err);
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_POST, 201).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_POST, 201).req_bytes, strlen(post));
	assert_int_equal(stats_of(f, SL_HTTP_DELETE, 404).resp_bytes, strlen(nf));
	assert_int_equal(stats_of(f, SL_HTTP_OTHER, 503).count, 1); /* unknown method: _OTHER */
	assert_int_equal(total_count(f), 4);
}

static void pipelined__pairs_in_order(void **state)
{
	static const char reqs[] = "GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\n"
				   "PUT /3 HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
	/* the HEAD's answer has a Content-Length but no body */
	static const char resps[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
				    "HTTP/1.1 202 OK\r\nContent-Length: 99\r\n\r\n"
				    "HTTP/1.1 204 No Content\r\n\r\n";
	struct fix *f = *state;

	REQ(f, reqs);
	RESP(f, resps);
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_HEAD, 202).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_PUT, 204).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_PUT, 204).req_bytes,
			 strlen("PUT /3 HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"));
	assert_int_equal(total_count(f), 3);
}

static void split__heads_and_bodies_across_segments(void **state)
{
	static const char *const req[] = { "POST /s HT", "TP/1.1\r\nConte", "nt-Len", "gth: 1",
					   "2\r", "\n\r", "\nhello ", "world!" };
	static const char *const resp[] = { "HTTP/1.", "1 30", "2 Found\r\nContent-Length:",
					    " 4\r\n\r", "\nab", "cd" };
	struct fix *f = *state;
	size_t i, nreq = 0, nresp = 0;

	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		REQ(f, req[i]);
		nreq += strlen(req[i]);
	}
	for (i = 0; i < sizeof(resp) / sizeof(resp[0]); i++) {
		assert_int_equal(total_count(f), 0); /* not before the last byte */
		RESP(f, resp[i]);
		nresp += strlen(resp[i]);
	}
	assert_int_equal(stats_of(f, SL_HTTP_POST, 302).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_POST, 302).req_bytes, nreq);
	assert_int_equal(stats_of(f, SL_HTTP_POST, 302).resp_bytes, nresp);
}

static void chunked__stream_time_to_first_chunk_and_gaps(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	struct fix *f = *state;
	struct sl_http_sval v;

	REQ(f, "POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "4\r\nabcd\r\n0\r\n\r\n");
	RESP(f, head);
	sleep_ms(30);
	RESP(f, "e\r\ndata: token1\n\n\r\n");
	sleep_ms(20);
	RESP(f, "E;ext=1\r\ndata: token2\n\n\r\n");
	sleep_ms(20);
	RESP(f, "e\r\ndata: token3\n\n\r\n0\r\nTrailer: x\r\n\r\n");
	v = stats_of(f, SL_HTTP_POST, 200);
	assert_int_equal(v.count, 1);
	assert_int_equal(v.streams, 1);
	assert_int_equal(hist_n(v.ttfc), 1);
	assert_true(v.ttfc_sum_ns >= 30000000);
	assert_int_equal(v.gaps, 2);
	assert_true(v.gap_sum_ns >= 40000000 && v.gap_sum_ns < 1000000000);
	/* 20 ms each: nothing in the buckets up to 10 ms, both within 50 ms */
	assert_int_equal(v.gap[0] + v.gap[1] + v.gap[2] + v.gap[3], 0);
	assert_int_equal(v.gap[4] + v.gap[5] + v.gap[6], 2);
	assert_true(v.dur_sum_ns >= 70000000);
	assert_true(v.ttfb_sum_ns < v.ttfc_sum_ns);
}

/* Heads the word-at-a-time path leaves to the byte parser, and heads it reads itself. */
static void fast_path_and_byte_parser__agree(void **state)
{
	struct fix *f = *state;

	/* a transfer-coding list: the byte parser frames it */
	REQ(f, get_a);
	RESP(f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
	/* lower case, a tab before the value, and the head ending in a bare LF */
	REQ(f, "POST /x HTTP/1.1\ncontent-length:\t4\n\nabcd");
	RESP(f, "HTTP/1.1 201 Created\r\nCONTENT-LENGTH: 2\r\n\r\nok");
	/* a lower-case method is not one the fast path reads; HTTP/1.0 status line */
	REQ(f, "GET /y HTTP/1.1\r\nX: 1\r\nContent-Length: 0\r\n\r\n");
	RESP(f, "HTTP/1.0 404 Nope\r\nContent-Length: 1\r\n\r\nz");
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).streams, 1);
	assert_int_equal(stats_of(f, SL_HTTP_POST, 201).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_POST, 201).req_bytes,
			 strlen("POST /x HTTP/1.1\ncontent-length:\t4\n\nabcd"));
	assert_int_equal(stats_of(f, SL_HTTP_GET, 404).count, 1);
	assert_int_equal(total_count(f), 3);
	assert_int_equal(stat_of(f, SL_STAT_HTTP_LOST), 0);
}

static void interim_100__then_final(void **state)
{
	struct fix *f = *state;

	REQ(f, "PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
	RESP(f, "HTTP/1.1 100 Continue\r\n\r\n");
	REQ(f, "abc");
	RESP(f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(stats_of(f, SL_HTTP_PUT, 200).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_PUT, 100).count, 0);
}

static void retransmission__counted_once_gap__parsing_stops(void **state)
{
	struct fix *f = *state;

	REQ(f, get_a);
	seg_at(f, true, get_a, strlen(get_a), ACK_PSH, (uint32_t)strlen(get_a), 0); /* again */
	RESP(f, ok_5);
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).count, 1);
	/* a segment this veth never saw: framing is lost, nothing more is counted */
	seg_at(f, true, get_a, strlen(get_a), ACK_PSH, 0, 100);
	RESP(f, ok_5);
	REQ(f, get_a);
	RESP(f, ok_5);
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).count, 1);
	assert_int_equal(stat_of(f, SL_STAT_HTTP_LOST), 1);
}

static void http10__close_delimited_response_ends_at_fin(void **state)
{
	struct fix *f = *state;

	REQ(f, "GET /old HTTP/1.0\r\n\r\n");
	RESP(f, "HTTP/1.0 200 OK\r\n\r\nsome body");
	RESP(f, " and more");
	assert_int_equal(total_count(f), 0);
	seg_at(f, false, "", 0, FIN_ACK, 0, 0);
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).resp_bytes,
			 strlen("HTTP/1.0 200 OK\r\n\r\nsome body and more"));
}

static void not_http__no_parser(void **state)
{
	struct fix *f = *state;
	struct sl_http_fkey k, next;

	REQ(f, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");	/* a TLS ClientHello */
	RESP(f, "HTTP/1.1 200 OK\r\n\r\n");		/* not an answer to a request */
	REQ(f, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");	/* HTTP/2's preface */
	assert_int_equal(total_count(f), 0);
	assert_int_not_equal(bpf_map_get_next_key(bpf_map__fd(f->skel->maps.sluice_http_flow),
						  NULL, &next), 0);
	(void)k;
}

static void malformed_response__parsing_stops(void **state)
{
	struct fix *f = *state;

	REQ(f, get_a);
	RESP(f, "HTTP/1.1 2x0 OK\r\n\r\n");
	REQ(f, get_a);
	RESP(f, ok_5);
	assert_int_equal(total_count(f), 0);
	assert_int_equal(stat_of(f, SL_STAT_HTTP_LOST), 1);
}

static void server_side__role_server_and_local_port(void **state)
{
	struct fix *f = *state;

	REQ(f, get_a);
	RESP(f, ok_5);
	REQ(f, "GET /b HTTP/1.1\r\n\r\n");
	RESP(f, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).count, 1);
	assert_int_equal(stats_of(f, SL_HTTP_GET, 500).count, 1);
	assert_int_equal(total_count(f), 2);
}

/* --- request events (sluice_http_events) --------------------------------------------------- */

#define MAX_EV 16

struct evs {
	struct sl_http_event e[MAX_EV];
	int n;
};

static int on_ev(void *ctx, void *data, size_t len)
{
	struct evs *v = ctx;

	assert_int_equal(len, sizeof(struct sl_http_event));
	if (v->n < MAX_EV)
		memcpy(&v->e[v->n], data, sizeof(v->e[0]));
	v->n++;
	return 0;
}

static struct evs drain(struct fix *f)
{
	struct ring_buffer *rb;
	struct evs v = { .n = 0 };

	rb = ring_buffer__new(bpf_map__fd(f->skel->maps.sluice_http_events), on_ev, &v, NULL);
	assert_non_null(rb);
	assert_true(ring_buffer__consume(rb) >= 0);
	ring_buffer__free(rb);
	return v;
}

static const char *path_of(const struct sl_http_event *e, char *buf)
{
	bool trunc;

	reqev_path(e, buf, SL_HT_EV_PATH + 1, &trunc);
	return buf;
}

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void assert_trace(const struct sl_http_event *e)
{
	struct reqev_trace t;
	char hex[33];

	assert_true(reqev_trace(e, &t));
	reqev_hex(t.trace_id, 16, hex);
	assert_string_equal(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
	reqev_hex(t.parent_id, 8, hex);
	assert_string_equal(hex, "00f067aa0ba902b7");
	assert_int_equal(t.flags, 1);
}

/* A head the fast path reads: path, trace id, method, status, sizes and timing. */
static void events__path_traceparent_timing(void **state)
{
	static const char req[] = "GET /api/v1/items?id=7 HTTP/1.1\r\nHost: web\r\n"
				  "TraceParent: " TP "\r\nAccept: */*\r\n\r\n";
	struct fix *f = *state;
	char p[SL_HT_EV_PATH + 1];
	struct evs v;
	char ip[INET_ADDRSTRLEN];

	REQ(f, req);
	sleep_ms(12);
	RESP(f, ok_5);
	v = drain(f);
	assert_int_equal(v.n, 1);
	assert_string_equal(path_of(&v.e[0], p), "/api/v1/items?id=7");
	assert_trace(&v.e[0]);
	assert_int_equal(v.e[0].method, SL_HTTP_GET);
	assert_int_equal(v.e[0].status, 200);
	assert_int_equal(v.e[0].role, SL_L4_CLIENT);
	assert_int_equal(v.e[0].req_bytes, strlen(req));
	assert_int_equal(v.e[0].resp_bytes, strlen(ok_5));
	assert_int_equal(v.e[0].lport, CPORT);
	assert_int_equal(v.e[0].pport, SPORT);
	inet_ntop(AF_INET, v.e[0].peer, ip, sizeof(ip));
	assert_string_equal(ip, PEER);
	assert_true(v.e[0].dur_ns >= 12000000 && v.e[0].dur_ns < 1000000000);
	assert_true(v.e[0].ttfb_ns <= v.e[0].dur_ns);
	/* the aggregate saw the same duration */
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).dur_sum_ns, v.e[0].dur_ns);
}

/* A head split across segments (the byte parser): the traceparent arrives in pieces. */
static void events__split_head_traceparent(void **state)
{
	static const char *const req[] = { "POST /split/path HTTP/1.1\r\ntracepa", "rent: 00-4bf92f",
					   "3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r",
					   "\nContent-Length: 2\r\n\r\nok" };
	struct fix *f = *state;
	char p[SL_HT_EV_PATH + 1];
	struct evs v;
	size_t i;

	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		REQ(f, req[i]);
	RESP(f, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	v = drain(f);
	assert_int_equal(v.n, 1);
	assert_string_equal(path_of(&v.e[0], p), "/split/path");
	assert_trace(&v.e[0]);
	assert_int_equal(v.e[0].method, SL_HTTP_POST);
	assert_int_equal(v.e[0].status, 201);
}

/* Pipelined requests: one event each, in order, each with its own path; no traceparent. */
static void events__pipelined_in_order_no_trace(void **state)
{
	static const char reqs[] = "GET /1 HTTP/1.1\r\n\r\nGET /two HTTP/1.1\r\n\r\n"
				   "DELETE /3/x HTTP/1.1\r\ntraceparent: 00-zz-bad\r\n\r\n";
	static const char resps[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
				    "HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n"
				    "HTTP/1.1 204 No Content\r\n\r\n";
	struct fix *f = *state;
	char p[SL_HT_EV_PATH + 1];
	struct reqev_trace t;
	struct evs v;

	REQ(f, reqs);
	RESP(f, resps);
	v = drain(f);
	assert_int_equal(v.n, 3);
	assert_string_equal(path_of(&v.e[0], p), "/1");
	assert_string_equal(path_of(&v.e[1], p), "/two");
	assert_string_equal(path_of(&v.e[2], p), "/3/x");
	assert_int_equal(v.e[1].status, 404);
	assert_int_equal(v.e[2].method, SL_HTTP_DELETE);
	assert_false(reqev_trace(&v.e[0], &t));
	assert_false(reqev_trace(&v.e[2], &t)); /* malformed: no trace */
}

/* At most http_events_per_sec a second per CPU; the rest counted as sampled out. */
static void events__rate_limited(void **state)
{
	struct fix *f = *state;
	struct evs v;
	int i;

	for (i = 0; i < 5; i++) {
		REQ(f, get_a);
		RESP(f, ok_5);
	}
	v = drain(f);
	assert_int_equal(v.n, 2);
	assert_int_equal(stat_of(f, SL_STAT_EVENT_SAMPLED), 3);
	assert_int_equal(total_count(f), 5); /* the metrics count them all */
}

static int setup_events_2(void **state)
{
	events_rate = 2;
	return setup_events(state);
}

static void switched_off__nothing(void **state)
{
	struct fix *f = *state;

	REQ(f, get_a);
	RESP(f, ok_5);
	assert_int_equal(total_count(f), 0);
}

static int setup_off(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->skel = tc_pod__open();
	if (!f->skel || tr_pins_clear(f->skel->obj) < 0 || tc_pod__load(f->skel) < 0)
		return -1;
	f->stats_fd = bpf_map__fd(f->skel->maps.sluice_http_stats);
	f->cseq = 1;
	f->sseq = 1;
	*state = f;
	return 0;
}

/* --- benches (SL_BENCH=1) ----------------------------------------------------------------- */

#define BENCH_PAIRS 4000

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t median(uint32_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u32);
	return v[n / 2];
}

/*
 * One keep-alive request and response as wrk and nginx exchange them, BENCH_PAIRS times, each
 * segment in a test run of its own (a repeated run would be a retransmission): the median
 * run of each with telemetry on (f) and off (off), and the difference per pair, which is what
 * one veth's parser costs a request.
 */
static void bench__keepalive_request_response(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: 10.96.0.40\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
				   "Date: Fri, 04 Dec 2026 03:00:00 GMT\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n";
	static uint32_t on_q[BENCH_PAIRS], on_r[BENCH_PAIRS], off_q[BENCH_PAIRS], off_r[BENCH_PAIRS];
	struct fix *f = *state, *off;
	uint32_t mq, mr, oq, orr;
	int i;

	assert_int_equal(setup_off((void **)&off), 0);
	for (i = 0; i < BENCH_PAIRS; i++) {
		bench_ns = &on_q[i];
		REQ(f, req);
		bench_ns = &on_r[i];
		RESP(f, resp);
		bench_ns = &off_q[i];
		REQ(off, req);
		bench_ns = &off_r[i];
		RESP(off, resp);
	}
	bench_ns = NULL;
	mq = median(on_q, BENCH_PAIRS);
	mr = median(on_r, BENCH_PAIRS);
	oq = median(off_q, BENCH_PAIRS);
	orr = median(off_r, BENCH_PAIRS);
	tr_bench_print("http_tel_request", mq);
	tr_bench_print("http_tel_request_off", oq);
	tr_bench_print("http_tel_response", mr);
	tr_bench_print("http_tel_response_off", orr);
	tr_bench_print("http_tel_per_request_one_veth", (mq > oq ? mq - oq : 0) + (mr > orr ? mr - orr : 0));
	assert_int_equal(stats_of(f, SL_HTTP_GET, 200).count, BENCH_PAIRS); /* all were parsed */
	teardown((void **)&off);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(get__one_pair_bytes_and_duration),
		T(keepalive__methods_statuses_and_bodies),
		T(pipelined__pairs_in_order),
		T(split__heads_and_bodies_across_segments),
		T(chunked__stream_time_to_first_chunk_and_gaps),
		T(fast_path_and_byte_parser__agree),
		T(interim_100__then_final),
		T(retransmission__counted_once_gap__parsing_stops),
		T(http10__close_delimited_response_ends_at_fin),
		T(not_http__no_parser),
		T(malformed_response__parsing_stops),
		cmocka_unit_test_setup_teardown(server_side__role_server_and_local_port,
						setup_server, teardown),
		cmocka_unit_test_setup_teardown(switched_off__nothing, setup_off, teardown),
		cmocka_unit_test_setup_teardown(events__path_traceparent_timing, setup_events,
						teardown),
		cmocka_unit_test_setup_teardown(events__split_head_traceparent, setup_events,
						teardown),
		cmocka_unit_test_setup_teardown(events__pipelined_in_order_no_trace, setup_events,
						teardown),
		cmocka_unit_test_setup_teardown(events__rate_limited, setup_events_2, teardown),
	};

	int err;

	pkt_require_bpf("test_http_tel");
	err = pkt_netns_fresh();
	if (err < 0) {
		printf("test_http_tel: skipped: cannot enter a fresh network namespace: %s\n",
		       strerror(-err));
		return 77;
	}
	libbpf_set_print(tr_libbpf_quiet);
	if (getenv("SL_BENCH") && !strcmp(getenv("SL_BENCH"), "1")) {
		const struct CMUnitTest benches[] = { T(bench__keepalive_request_response) };

		err = cmocka_run_group_tests_name("http_tel_bench", benches, NULL, NULL);
		if (err)
			return err;
	}
	return cmocka_run_group_tests_name("http_tel", tests, NULL, NULL);
}

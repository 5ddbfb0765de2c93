// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP policy programs (l7_http.bpf.c, and sockops.bpf.c that feeds them) on real TCP
 * connections: BPF_PROG_TEST_RUN cannot run sk_skb stream parsers, so this test attaches
 * sluice_sockops to a cgroup of its own under /sys/fs/cgroup/unified, moves itself into it,
 * listens on 127.0.0.1:8080 in a fresh network namespace, and talks to itself over loopback.
 * What the server socket reads is what a server process would see; what the client reads is
 * what a client would.
 *
 * The agent's part in resets (running the sluice_l7_reset iterator where sluice_l7_kill names
 * connections) is done by reset_run(), in this one namespace.
 *
 * Maps: the skeletons load with unpinned maps (tr_pins_clear); the sockops and l7_reset objects
 * reuse the l7 object's maps, so they share them as the agent's pins make them share.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sl_abi.h"
#include "l7_http.skel.h"
#include "l7_reset.skel.h"
#include "sockops.skel.h"
#include "tests/bpf/pktbuild.h"
#include "tests/bpf/testrun.h"

#define PORT	    8080
#define OPEN_PORT   8081 /* a port with no HTTP rules */
#define SET	    7
#define QUIET_MS    60 /* how long "nothing (more) arrives" is waited for: loopback takes µs */
#define MORE_MS	    10 /* after the bytes wanted, how long excess is waited for */
#define MAX_EV	    32

struct fix {
	struct l7_http *l7;
	struct l7_reset *rs;
	struct sockops *so;
	struct bpf_link *link;
	struct ring_buffer *rb;
	int lfd, lfd_open;
	struct sl_l7_event ev[MAX_EV];
	size_t n_ev;
};

static unsigned int socks_max; /* sluice_l7_socks' size for the next setup; 0: the default */

/* --- the listener ------------------------------------------------------------ */

static int listen_on(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct fix *f = ctx;

	if (len >= sizeof(struct sl_l7_event) && f->n_ev < MAX_EV)
		memcpy(&f->ev[f->n_ev++], data, sizeof(struct sl_l7_event));
	return 0;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	int cg;

	if (!f)
		return -1;
	f->l7 = l7_http__open();
	f->so = sockops__open();
	f->rs = l7_reset__open();
	if (!f->l7 || !f->so || !f->rs)
		return -1;
	f->l7->rodata->sl_cfg.pol_events_per_sec = 1000;
	if (socks_max && bpf_map__set_max_entries(f->l7->maps.sluice_l7_socks, socks_max) < 0)
		return -1;
	if (tr_pins_clear(f->l7->obj) < 0 || tr_pins_clear(f->so->obj) < 0 ||
	    tr_pins_clear(f->rs->obj) < 0 || l7_http__load(f->l7) < 0)
		return -1;
#define REUSE(o, m)                                                                               \
	if (bpf_map__reuse_fd(f->o->maps.m, bpf_map__fd(f->l7->maps.m)) < 0)                      \
		return -1;
	REUSE(so, sluice_l7_port);
	REUSE(so, sluice_l7_socks);
	REUSE(so, sluice_stats);
	REUSE(so, sluice_l7_kill);
	REUSE(rs, sluice_l7_kill);
	REUSE(rs, sluice_stats);
#undef REUSE
	if (sockops__load(f->so) < 0 || l7_reset__load(f->rs) < 0)
		return -1;
	/* the sockhash's programs first: a socket added before them is never parsed */
	if (bpf_prog_attach(bpf_program__fd(f->l7->progs.sluice_l7_parser),
			    bpf_map__fd(f->l7->maps.sluice_l7_socks), BPF_SK_SKB_STREAM_PARSER, 0) ||
	    bpf_prog_attach(bpf_program__fd(f->l7->progs.sluice_l7_verdict),
			    bpf_map__fd(f->l7->maps.sluice_l7_socks), BPF_SK_SKB_STREAM_VERDICT, 0))
		return -1;
	cg = open(tr_cg_path(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		return -1;
	f->link = bpf_program__attach_cgroup(f->so->progs.sluice_sockops, cg);
	close(cg);
	if (!f->link)
		return -1;
	f->rb = ring_buffer__new(bpf_map__fd(f->l7->maps.sluice_l7_events), on_event, f, NULL);
	if (!f->rb)
		return -1;
	f->lfd = listen_on(PORT);
	f->lfd_open = listen_on(OPEN_PORT);
	*state = f;
	return 0;
}

static int setup_one_sock(void **state)
{
	int r;

	socks_max = 1;
	r = setup(state);
	socks_max = 0;
	return r;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	close(f->lfd);
	close(f->lfd_open);
	ring_buffer__free(f->rb);
	bpf_link__destroy(f->link);
	l7_reset__destroy(f->rs);
	sockops__destroy(f->so);
	l7_http__destroy(f->l7);
	free(f);
	return 0;
}

/* --- rules ---------------------------------------------------------------------------------- */

struct rule_def {
	uint32_t methods;
	uint8_t kind;
	const char *path;
	const char *host;
	uint32_t flags;
};

#define M(x) (1u << SL_HTTP_##x)

static void rules_set(struct fix *f, uint16_t port, const struct rule_def *d, size_t n)
{
	struct sl_l7_port_key k = { .port = htons(port), .family = SL_AF_INET };
	struct sl_l7_port_val v = { .set = SET, .n_rules = (uint16_t)n };
	int rfd = bpf_map__fd(f->l7->maps.sluice_l7_rule);
	size_t i;

	k.addr[0] = htonl(INADDR_LOOPBACK);
	for (i = 0; i < n; i++) {
		struct sl_l7_rule_key rk = { .set = SET, .idx = (uint32_t)i };
		struct sl_l7_rule r = { .methods = d[i].methods, .policy = 40 + (uint32_t)i,
					.path_kind = d[i].kind, .flags = d[i].flags };

		if (d[i].path) {
			r.path_len = (uint16_t)strlen(d[i].path);
			memcpy(r.path, d[i].path, r.path_len);
		}
		if (d[i].host) {
			r.host_len = (uint8_t)strlen(d[i].host);
			memcpy(r.host, d[i].host, r.host_len);
		}
		assert_int_equal(bpf_map_update_elem(rfd, &rk, &r, BPF_ANY), 0);
	}
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->l7->maps.sluice_l7_port), &k, &v,
					     BPF_ANY), 0);
}

static void rules_clear(struct fix *f, uint16_t port)
{
	struct sl_l7_port_key k = { .port = htons(port), .family = SL_AF_INET };

	k.addr[0] = htonl(INADDR_LOOPBACK);
	assert_int_equal(bpf_map_delete_elem(bpf_map__fd(f->l7->maps.sluice_l7_port), &k), 0);
}

/* GET and HEAD anywhere under /public, POST to /api exactly, anything with Host: admin.local */
static const struct rule_def std_rules[] = {
	{ M(GET) | M(HEAD), SL_L7_PATH_PREFIX, "/public", NULL, 0 },
	{ M(POST), SL_L7_PATH_EXACT, "/api", NULL, 0 },
	{ 0, SL_L7_PATH_ANY, NULL, "admin.local", 0 },
};

/* --- connections ---------------------------------------------------------------------------- */

struct conn {
	int c; /* client */
	int s; /* accepted server socket */
};

static struct conn conn_open(struct fix *f, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct conn k;
	int one = 1;

	k.c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(k.c >= 0);
	assert_int_equal(setsockopt(k.c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	assert_int_equal(connect(k.c, (struct sockaddr *)&a, sizeof(a)), 0);
	k.s = accept4(port == PORT ? f->lfd : f->lfd_open, NULL, NULL, SOCK_CLOEXEC);
	assert_true(k.s >= 0);
	return k;
}

static void conn_close(struct conn *k)
{
	close(k->c);
	close(k->s);
}

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(send(fd, s, n, 0), (ssize_t)n);
}

/*
 * Reads what arrives on fd until nothing more comes for QUIET_MS, or, once want bytes are in,
 * for MORE_MS (so that more than wanted shows up as such).
 */
static size_t read_for(int fd, char *buf, size_t cap, size_t want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < cap - 1) {
		if (poll(&p, 1, want && got >= want ? MORE_MS : QUIET_MS) <= 0)
			break;
		n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	return got;
}

/* The server reads exactly want (and nothing more arrives). */
static void server_gets(struct conn *k, const char *want)
{
	char buf[4096];

	read_for(k->s, buf, sizeof(buf), strlen(want));
	assert_string_equal(buf, want);
}

/* The client reads a reply of status, exactly len bytes long (the denied request's length). */
static void client_gets_v(struct conn *k, const char *version, int status, size_t len, bool close)
{
	char buf[4096], want[64];

	size_t got = read_for(k->c, buf, sizeof(buf), len);

	if (got != len || strncmp(buf, version, strlen(version)))
		print_message("reply of %zu bytes (want %zu): [%s]\n", got, len, buf);
	assert_int_equal(got, len);
	snprintf(want, sizeof(want), "%s %d ", version, status);
	assert_memory_equal(buf, want, strlen(want));
	assert_true(strstr(buf, "\r\n\r\n") != NULL);
	assert_int_equal(strstr(buf, "\r\nConnection: close\r\n") != NULL, close);
	/* the Content-Length it gives is the body that follows */
	assert_int_equal(strtoul(strstr(buf, "Content-Length: ") + 16, NULL, 10),
			 len - (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf));
}

static void client_gets(struct conn *k, int status, size_t len, bool close)
{
	client_gets_v(k, "HTTP/1.1", status, len, close);
}

static uint64_t counter(struct fix *f, int idx)
{
	return tr_stat_packets(bpf_map__fd(f->l7->maps.sluice_stats), (uint32_t)idx);
}

#define REQ(method, path, extra) method " " path " HTTP/1.1\r\nHost: web\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n" extra "\r\n"

/* --- cases ---------------------------------------------------------------------------------- */

static void allowed__passes_denied__403_and_never_reaches_server(void **state)
{
	struct fix *f = *state;
	const char *ok = REQ("GET", "/public/index.html", ""), *no = REQ("GET", "/admin", "");
	struct conn k;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	send_str(k.c, ok);
	server_gets(&k, ok);
	send_str(k.c, no);
	client_gets(&k, 403, strlen(no), false);
	server_gets(&k, "");
	/* keep-alive: the connection goes on, and the next request is judged on its own */
	send_str(k.c, ok);
	server_gets(&k, ok);
	assert_int_equal(counter(f, SL_STAT_L7_SOCK), 1);
	assert_int_equal(counter(f, SL_STAT_L7_ALLOWED), 2);
	assert_int_equal(counter(f, SL_STAT_L7_NO_RULE), 1);
	conn_close(&k);
}

#define H32  "a234567.b234567.c234567.d234567."
#define H256 H32 H32 H32 H32 H32 H32 H32 H32

static void methods_paths_hosts(void **state)
{
	struct fix *f = *state;
	static const struct {
		const char *req;
		bool ok;
	} cases[] = {
		{ REQ("GET", "/public", ""), true },
		{ REQ("HEAD", "/public/a/b?x=/admin", ""), true },
		{ REQ("GET", "/publicity", ""), false }, /* a prefix matches whole segments */
		{ REQ("DELETE", "/public/a", ""), false },
		{ REQ("POST", "/api", "Content-Length: 0\r\n"), true },
		{ REQ("POST", "/api/x", "Content-Length: 0\r\n"), false },
		{ REQ("GET", "/api", ""), false },
		{ "GET /anything HTTP/1.1\r\nHost: Admin.Local:8080\r\nAccept: */*\r\n\r\n", true },
		{ "GET /anything HTTP/1.1\r\nHost: admin.local.evil\r\nAccept: */*\r\n\r\n", false },
		{ "PURGE /public HTTP/1.1\r\nHost: web\r\nAccept: */*\r\n\r\n", false },
		{ "get /public HTTP/1.1\r\nHost: web\r\nAccept: */*\r\n\r\n", false },
		/* a Host longer than any rule host is no error: it matches no host rule */
		{ "GET /public/x HTTP/1.1\r\nHost: a23456789.b23456789.c23456789.d23456789.e23456789"
		  ".f23456789.g2345\r\nAccept: */*\r\n\r\n", true },
		{ "GET /x HTTP/1.1\r\nHost: admin.local.a23456789.b23456789.c23456789.d23456789"
		  ".e23456789.f2\r\nAccept: */*\r\n\r\n", false },
		/* nor one whose length would wrap a byte count back to a rule host's */
		{ "GET /x HTTP/1.1\r\nHost: " H256 "admin.local\r\nAccept: */*\r\n\r\n", false },
	};
	struct conn k;
	size_t i;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		send_str(k.c, cases[i].req);
		if (cases[i].ok) {
			server_gets(&k, cases[i].req);
		} else {
			client_gets(&k, 403, strlen(cases[i].req), false);
			server_gets(&k, "");
		}
	}
	conn_close(&k);
}

static void ambiguous_paths__denied(void **state)
{
	struct fix *f = *state;
	static const char *const paths[] = {
		"/public/../admin", "/public/./x", "/public//x", "/public/%2e%2e/admin",
		"/public/%2F..", "/public/..;/admin", "/public/a\\..\\b", "/public/..",
	};
	char req[256];
	struct conn k;
	size_t i;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(req, sizeof(req), REQ("GET", "%s", ""), paths[i]);
		send_str(k.c, req);
		client_gets(&k, 403, strlen(req), false);
		server_gets(&k, "");
	}
	assert_int_equal(counter(f, SL_STAT_L7_AMBIGUOUS), sizeof(paths) / sizeof(paths[0]));
	/* dots inside a segment are ordinary */
	send_str(k.c, REQ("GET", "/public/a.b/..c/...", ""));
	server_gets(&k, REQ("GET", "/public/a.b/..c/...", ""));
	conn_close(&k);
}

static void split_across_segments__judged_when_whole(void **state)
{
	struct fix *f = *state;
	const char *ok = REQ("GET", "/public/split", ""), *no = REQ("GET", "/secret", "");
	char buf[64];
	struct conn k;
	size_t i, n;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	/* one byte at a time through the method and path, then the rest in two pieces */
	for (i = 0; i < 14; i++) {
		assert_int_equal(send(k.c, ok + i, 1, 0), 1);
		usleep(2000);
	}
	assert_int_equal(read_for(k.s, buf, sizeof(buf), 0), 0); /* nothing before it is whole */
	n = strlen(ok);
	assert_int_equal(send(k.c, ok + 14, 10, 0), 10);
	usleep(20000);
	assert_int_equal(send(k.c, ok + 24, n - 24, 0), (ssize_t)(n - 24));
	server_gets(&k, ok);
	n = strlen(no);
	assert_int_equal(send(k.c, no, n - 3, 0), (ssize_t)(n - 3));
	usleep(20000);
	assert_int_equal(send(k.c, no + n - 3, 3, 0), 3);
	client_gets(&k, 403, n, false);
	server_gets(&k, "");
	conn_close(&k);
}

static void pipelined__each_request_judged(void **state)
{
	struct fix *f = *state;
	const char *a = REQ("GET", "/public/1", ""), *b = REQ("GET", "/private", ""),
		   *c = REQ("HEAD", "/public/3", "");
	char all[1024], want[1024];
	struct conn k;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	snprintf(all, sizeof(all), "%s%s%s", a, b, c);
	snprintf(want, sizeof(want), "%s%s", a, c);
	send_str(k.c, all);
	server_gets(&k, want);
	client_gets(&k, 403, strlen(b), false);
	conn_close(&k);
}

static void bodies__content_length_and_chunked_framed(void **state)
{
	struct fix *f = *state;
	/* a denied body that looks like a request must not be judged as one */
	const char *smuggle = "GET /public/x HTTP/1.1\r\nHost: web\r\n\r\n";
	char denied[512], allowed[512], chunked[512], dchunked[512];
	const char *next = REQ("GET", "/public/after", "");
	struct conn k;

	snprintf(allowed, sizeof(allowed), REQ("POST", "/api", "Content-Length: %zu\r\n") "%s",
		 strlen(smuggle), smuggle);
	snprintf(denied, sizeof(denied), REQ("POST", "/forbidden", "Content-Length: %zu\r\n") "%s",
		 strlen(smuggle), smuggle);
	snprintf(chunked, sizeof(chunked),
		 REQ("POST", "/api", "Transfer-Encoding: chunked\r\n") "5\r\nhello\r\n%zx;ext=1\r\n%s\r\n0\r\n\r\n",
		 strlen(smuggle), smuggle);
	snprintf(dchunked, sizeof(dchunked),
		 REQ("POST", "/nope", "Transfer-Encoding: chunked\r\n") "%zx\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n",
		 strlen(smuggle), smuggle);
	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	send_str(k.c, allowed);
	server_gets(&k, allowed);
	send_str(k.c, denied);
	client_gets(&k, 403, strlen(denied) - strlen(smuggle), false);
	server_gets(&k, "");
	send_str(k.c, chunked);
	server_gets(&k, chunked);
	send_str(k.c, dchunked);
	client_gets(&k, 403, strlen(REQ("POST", "/nope", "Transfer-Encoding: chunked\r\n")), false);
	server_gets(&k, "");
	send_str(k.c, next);
	server_gets(&k, next);
	/* one request of each, whatever the bodies held */
	assert_int_equal(counter(f, SL_STAT_L7_ALLOWED), 3);
	assert_int_equal(counter(f, SL_STAT_L7_NO_RULE), 2);
	conn_close(&k);
}

static void malformed__400_and_nothing_more(void **state)
{
	struct fix *f = *state;
	const char *both = REQ("POST", "/api", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n");
	const char *dup = REQ("POST", "/api", "Content-Length: 5\r\nContent-Length: 6\r\n");
	const char *after = REQ("GET", "/public/after", "");
	struct conn k;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	send_str(k.c, both);
	client_gets(&k, 400, strlen(both), true);
	send_str(k.c, after); /* nothing after a head that cannot be framed is believed */
	server_gets(&k, "");
	conn_close(&k);
	k = conn_open(f, PORT);
	send_str(k.c, dup);
	client_gets(&k, 400, strlen(dup), true);
	server_gets(&k, "");
	assert_int_equal(counter(f, SL_STAT_L7_MALFORMED), 2);
	conn_close(&k);
}

static void http10_denied__http10_reply_then_nothing(void **state)
{
	struct fix *f = *state;
	const char *no = "GET /admin HTTP/1.0\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n\r\n";
	struct conn k;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	send_str(k.c, no);
	client_gets_v(&k, "HTTP/1.0", 403, strlen(no), false); /* 1.0: closes without saying so */
	server_gets(&k, "");
	send_str(k.c, REQ("GET", "/public/x", "")); /* nothing after it is believed */
	server_gets(&k, "");
	conn_close(&k);
}

/* What the agent does with sluice_l7_kill: runs the reset iterator in the pod's netns. */
static void reset_run(struct fix *f)
{
	struct bpf_link *it = bpf_program__attach_iter(f->rs->progs.sluice_l7_reset, NULL);
	char buf[64];
	int fd;

	assert_non_null(it);
	fd = bpf_iter_create(bpf_link__fd(it));
	assert_true(fd >= 0);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	bpf_link__destroy(it);
}

static void too_short_to_rewrite__dropped_then_reset(void **state)
{
	struct fix *f = *state;
	const char *tiny = "GET /x HTTP/1.1\r\n\r\n";
	struct sl_l7_kill kv;
	char buf[64];
	__u64 cookie;
	socklen_t len = sizeof(cookie);
	struct conn k;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	send_str(k.c, tiny);
	server_gets(&k, "");
	assert_int_equal(read_for(k.c, buf, sizeof(buf), 0), 0);
	assert_int_equal(counter(f, SL_STAT_L7_NO_REPLY), 1);
	/* the connection is marked for a reset, with the server's address */
	assert_int_equal(getsockopt(k.s, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->l7->maps.sluice_l7_kill), &cookie, &kv),
			 0);
	assert_int_equal(kv.family, SL_AF_INET);
	assert_int_equal(kv.addr[0], htonl(INADDR_LOOPBACK));
	reset_run(f);
	assert_int_equal(counter(f, SL_STAT_L7_RESET), 1);
	assert_int_equal(recv(k.c, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_int_not_equal(bpf_map_lookup_elem(bpf_map__fd(f->l7->maps.sluice_l7_kill), &cookie,
						 &kv),
			     0);
	conn_close(&k);
}

static void ports_without_rules__not_in_the_sockhash(void **state)
{
	struct fix *f = *state;
	const char *no = REQ("GET", "/admin", "");
	struct conn k;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, OPEN_PORT);
	send_str(k.c, no);
	server_gets(&k, no);
	assert_int_equal(counter(f, SL_STAT_L7_SOCK), 0);
	conn_close(&k);
	/* rules removed while a connection is open: its requests pass from then on */
	k = conn_open(f, PORT);
	send_str(k.c, no);
	client_gets(&k, 403, strlen(no), false);
	rules_clear(f, PORT);
	send_str(k.c, no);
	server_gets(&k, no);
	conn_close(&k);
}

static void events__one_per_request_with_method_path_host(void **state)
{
	struct fix *f = *state;
	const char *ok = REQ("GET", "/public/e", ""), *no = REQ("PUT", "/x/y", "");
	struct conn k;

	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	send_str(k.c, ok);
	server_gets(&k, ok);
	send_str(k.c, no);
	client_gets(&k, 403, strlen(no), false);
	ring_buffer__consume(f->rb);
	assert_int_equal(f->n_ev, 2);
	assert_int_equal(f->ev[0].verdict, SL_VERDICT_ALLOW);
	assert_int_equal(f->ev[0].reason, SL_L7_R_ALLOWED);
	assert_int_equal(f->ev[0].method, SL_HTTP_GET);
	assert_int_equal(f->ev[0].policy, 40);
	assert_int_equal(f->ev[0].path_len, 9);
	assert_memory_equal(f->ev[0].path, "/public/e", 9);
	assert_int_equal(f->ev[0].host_len, 3);
	assert_memory_equal(f->ev[0].host, "web", 3);
	assert_int_equal(ntohs(f->ev[0].dport), PORT);
	assert_int_equal(f->ev[0].saddr[0], htonl(INADDR_LOOPBACK));
	assert_int_not_equal(f->ev[0].sport, 0);
	assert_int_equal(f->ev[1].verdict, SL_VERDICT_DENY);
	assert_int_equal(f->ev[1].reason, SL_L7_R_NO_RULE);
	assert_int_equal(f->ev[1].method, SL_HTTP_PUT);
	assert_int_equal(f->ev[1].status, 403);
	conn_close(&k);
}

static void upgrade_and_connect__only_where_a_rule_allows_then_unjudged(void **state)
{
	struct fix *f = *state;
	const struct rule_def rules[] = {
		{ M(GET), SL_L7_PATH_PREFIX, "/public", NULL, 0 },
		{ M(GET), SL_L7_PATH_EXACT, "/ws", NULL, SL_L7_RULE_F_UPGRADE },
		{ M(CONNECT), SL_L7_PATH_ANY, NULL, NULL, SL_L7_RULE_F_UPGRADE },
	};
	const char *ws = REQ("GET", "/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n");
	const char *sneak = REQ("GET", "/public/x", "Upgrade: websocket\r\nConnection: Upgrade\r\n");
	const char *frames = "\x81\x85garbage that is no HTTP request\r\n\r\n";
	const char *conn = "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\nUser-Agent: t/1\r\n\r\n";
	struct conn k;

	rules_set(f, PORT, rules, 3);
	k = conn_open(f, PORT);
	/* an Upgrade matched only by a rule that does not allow it: denied */
	send_str(k.c, sneak);
	client_gets(&k, 403, strlen(sneak), false);
	server_gets(&k, "");
	assert_int_equal(counter(f, SL_STAT_L7_UPGRADE), 1);
	/* allowed where the rule says so; what follows is the server's protocol, passed */
	send_str(k.c, ws);
	server_gets(&k, ws);
	send_str(k.c, frames);
	server_gets(&k, frames);
	conn_close(&k);
	/* CONNECT (authority-form target) where a rule allows it: a tunnel, passed */
	k = conn_open(f, PORT);
	send_str(k.c, conn);
	server_gets(&k, conn);
	send_str(k.c, frames);
	server_gets(&k, frames);
	conn_close(&k);
	/* and only there: no rule of the standard set allows a CONNECT */
	rules_set(f, PORT, std_rules, 3);
	k = conn_open(f, PORT);
	send_str(k.c, conn);
	client_gets(&k, 403, strlen(conn), false);
	conn_close(&k);
}

static void sockhash_full__connection_reset_not_let_through(void **state)
{
	struct fix *f = *state;
	const char *no = REQ("GET", "/admin", "");
	struct conn a, b;
	char buf[64];

	rules_set(f, PORT, std_rules, 3);
	a = conn_open(f, PORT);
	b = conn_open(f, PORT); /* sluice_l7_socks holds one */
	assert_int_equal(counter(f, SL_STAT_L7_SOCK), 1);
	assert_int_equal(counter(f, SL_STAT_L7_SOCK_FULL), 1);
	send_str(a.c, no);
	client_gets(&a, 403, strlen(no), false);
	reset_run(f);
	assert_int_equal(counter(f, SL_STAT_L7_RESET), 1);
	assert_int_equal(send(b.c, no, strlen(no), MSG_NOSIGNAL), -1);
	assert_true(errno == ECONNRESET || errno == EPIPE);
	assert_int_equal(read_for(b.s, buf, sizeof(buf), 0), 0); /* the server never saw it */
	conn_close(&a);
	conn_close(&b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(allowed__passes_denied__403_and_never_reaches_server),
		T(methods_paths_hosts),
		T(ambiguous_paths__denied),
		T(split_across_segments__judged_when_whole),
		T(pipelined__each_request_judged),
		T(bodies__content_length_and_chunked_framed),
		T(malformed__400_and_nothing_more),
		T(http10_denied__http10_reply_then_nothing),
		T(too_short_to_rewrite__dropped_then_reset),
		T(ports_without_rules__not_in_the_sockhash),
		T(events__one_per_request_with_method_path_host),
		T(upgrade_and_connect__only_where_a_rule_allows_then_unjudged),
		cmocka_unit_test_setup_teardown(sockhash_full__connection_reset_not_let_through,
						setup_one_sock, teardown),
	};
#undef T
	int err;

	pkt_require_bpf("test_l7_http");
	err = pkt_netns_fresh();
	if (err < 0) {
		printf("test_l7_http: skipped: cannot enter a fresh network namespace: %s\n",
		       strerror(-err));
		return 77;
	}
	err = tr_cg_enter("l7");
	if (err < 0) {
		printf("test_l7_http: skipped: cannot make a cgroup under " TR_CG_ROOT ": %s\n",
		       strerror(-err));
		tr_cg_leave();
		return 77;
	}
	libbpf_set_print(tr_libbpf_quiet);
	err = cmocka_run_group_tests_name("l7_http", tests, NULL, NULL);
	tr_cg_leave();
	return err;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * L4 telemetry (bpf/include/l4tel.h in sluice_sockops) on real TCP connections: sock_ops has
 * no BPF_PROG_TEST_RUN, so this test attaches sluice_sockops to a cgroup of its own under
 * /sys/fs/cgroup/unified, moves itself into it, and talks to itself over loopback in a fresh
 * network namespace. Both ends are in the cgroup, so every connection is seen twice: by the
 * client socket (role client, keyed by the server's port) and by the accepted one (role
 * server). Lost packets come from tests/bpf/drop.bpf.c at ingress of that namespace's lo.
 * The flush iterator (l4_flush.bpf.c) shares the maps and runs in the same namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
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
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sl_abi.h"
#include "drop.skel.h"
#include "l4_flush.skel.h"
#include "sockops.skel.h"
#include "tests/bpf/pktbuild.h"
#include "tests/bpf/testrun.h"

#define PORT	    8090
#define CLOSED_PORT 8091 /* nothing listens here */
#define WAIT_MS	    3000 /* for a close to reach the map: loopback takes µs, a retransmit 200 ms */
#define N_U64	    (sizeof(struct sl_l4_val) / sizeof(uint64_t))

struct fix {
	struct sockops *so;
	struct l4_flush *fl;
	struct bpf_link *link, *fl_link;
	int flow_fd;
	int lfd, lfd6;
};

static bool telemetry_off; /* the next setup loads with SL_CFG_F_L4_TELEMETRY clear */

static int listen_on(int family, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if ((family == AF_INET ? bind(fd, (struct sockaddr *)&a, sizeof(a))
			       : bind(fd, (struct sockaddr *)&a6, sizeof(a6))) < 0 ||
	    listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	int cg;

	if (!f)
		return -1;
	f->so = sockops__open();
	if (!f->so)
		return -1;
	f->so->rodata->sl_cfg.flags = telemetry_off ? 0 : SL_CFG_F_L4_TELEMETRY;
	f->so->rodata->sl_cfg.sk_slots_mask = SL_SK_SLOTS - 1;
	if (tr_pins_clear(f->so->obj) < 0 || sockops__load(f->so) < 0)
		return -1;
	f->flow_fd = bpf_map__fd(f->so->maps.sluice_l4_flow);
	f->fl = l4_flush__open();
	if (!f->fl)
		return -1;
	f->fl->rodata->sl_cfg.flags = f->so->rodata->sl_cfg.flags;
	if (tr_pins_clear(f->fl->obj) < 0 ||
	    bpf_map__reuse_fd(f->fl->maps.sluice_l4_flow, f->flow_fd) < 0 ||
	    bpf_map__reuse_fd(f->fl->maps.sluice_l4_sk, bpf_map__fd(f->so->maps.sluice_l4_sk)) < 0 ||
	    l4_flush__load(f->fl) < 0)
		return -1;
	f->fl_link = bpf_program__attach_iter(f->fl->progs.sluice_l4_flush, NULL);
	if (!f->fl_link)
		return -1;
	cg = open(tr_cg_path(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		return -1;
	f->link = bpf_program__attach_cgroup(f->so->progs.sluice_sockops, cg);
	close(cg);
	if (!f->link)
		return -1;
	f->lfd = listen_on(AF_INET, PORT);
	f->lfd6 = listen_on(AF_INET6, PORT);
	if (f->lfd < 0 || f->lfd6 < 0)
		return -1;
	*state = f;
	return 0;
}

static int setup_off(void **state)
{
	int r;

	telemetry_off = true;
	r = setup(state);
	telemetry_off = false;
	return r;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	close(f->lfd);
	close(f->lfd6);
	bpf_link__destroy(f->link);
	bpf_link__destroy(f->fl_link);
	l4_flush__destroy(f->fl);
	sockops__destroy(f->so);
	free(f);
	return 0;
}

/* --- flows ---------------------------------------------------------------------------------- */

static struct sl_l4_key key_of(int family, uint8_t role, uint16_t port, const char *svc,
			       uint16_t svc_port)
{
	struct sl_l4_key k;

	memset(&k, 0, sizeof(k));
	k.family = family == AF_INET ? SL_AF_INET : SL_AF_INET6;
	k.proto = IPPROTO_TCP;
	k.role = role;
	k.port = port;
	if (family == AF_INET) {
		k.local[0] = k.peer[0] = htonl(INADDR_LOOPBACK);
	} else {
		k.local[3] = k.peer[3] = htonl(1);
	}
	if (svc) {
		tr_abi_addr(svc, k.svc);
		k.svc_port = svc_port;
	}
	return k;
}

/* The flow's counters summed over CPUs (zeros where there is no such flow). */
static struct sl_l4_val flow_get(struct fix *f, const struct sl_l4_key *k)
{
	uint64_t sum[N_U64];
	struct sl_l4_val v;

	assert_int_equal(pkt_percpu_sum(f->flow_fd, k, sum, N_U64), 0);
	memcpy(&v, sum, sizeof(v));
	return v;
}

static size_t flow_count(struct fix *f)
{
	struct sl_l4_key k, next;
	size_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(f->flow_fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void flush(struct fix *f);

/*
 * Waits until the flow's field at offset off reaches want (running the flush iterator before
 * each look, with flushing); returns the flow then.
 */
static struct sl_l4_val flow_wait_as(struct fix *f, const struct sl_l4_key *k, size_t off,
				     uint64_t want, bool flushing)
{
	double end = now_ms() + WAIT_MS;
	struct sl_l4_val v;
	uint64_t got;

	for (;;) {
		if (flushing)
			flush(f);
		v = flow_get(f, k);
		memcpy(&got, (const char *)&v + off, sizeof(got));
		if (got >= want || now_ms() > end)
			break;
		usleep(2000);
	}
	return v;
}

static struct sl_l4_val flow_wait(struct fix *f, const struct sl_l4_key *k, size_t off,
				  uint64_t want)
{
	return flow_wait_as(f, k, off, want, false);
}

static uint64_t rtt_count(const struct sl_l4_val *v)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < SL_RTT_BUCKETS; i++)
		n += v->rtt[i];
	return n;
}

/* --- connections ---------------------------------------------------------------------------- */

struct conn {
	int c, s;
};

static int client_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	return fd;
}

static int connect_to(int fd, int family, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	return family == AF_INET ? connect(fd, (struct sockaddr *)&a, sizeof(a))
				 : connect(fd, (struct sockaddr *)&a6, sizeof(a6));
}

static struct conn conn_open(struct fix *f, int family)
{
	struct conn k;

	k.c = client_socket(family);
	assert_int_equal(connect_to(k.c, family, PORT), 0);
	k.s = accept4(family == AF_INET ? f->lfd : f->lfd6, NULL, NULL, SOCK_CLOEXEC);
	assert_true(k.s >= 0);
	return k;
}

static void send_n(int fd, size_t n)
{
	char buf[4096];
	size_t off = 0;
	ssize_t w;

	memset(buf, 'x', sizeof(buf));
	while (off < n) {
		w = send(fd, buf, n - off < sizeof(buf) ? n - off : sizeof(buf), 0);
		assert_true(w > 0);
		off += (size_t)w;
	}
}

static void recv_n(int fd, size_t n)
{
	char buf[4096];
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = recv(fd, buf, n - got < sizeof(buf) ? n - got : sizeof(buf), 0);
		assert_true(r > 0);
		got += (size_t)r;
	}
}

/* A request of req bytes and a reply of rep bytes, then an orderly close, client first. */
static void exchange(struct fix *f, int family, size_t req, size_t rep)
{
	struct conn k = conn_open(f, family);
	char c;

	send_n(k.c, req);
	recv_n(k.s, req);
	send_n(k.s, rep);
	recv_n(k.c, rep);
	close(k.c);
	assert_int_equal(recv(k.s, &c, 1, 0), 0); /* the client's FIN */
	close(k.s);
}

/* --- tests ---------------------------------------------------------------------------------- */

static void check_exchange(struct fix *f, int family)
{
	struct sl_l4_key ck = key_of(family, SL_L4_CLIENT, PORT, NULL, 0);
	struct sl_l4_key sk = key_of(family, SL_L4_SERVER, PORT, NULL, 0);
	struct sl_l4_val c, s;

	exchange(f, family, 1000, 300);
	exchange(f, family, 20000, 5);
	c = flow_wait(f, &ck, offsetof(struct sl_l4_val, closed), 2);
	s = flow_wait(f, &sk, offsetof(struct sl_l4_val, closed), 2);
	assert_int_equal(c.opened, 2);
	assert_int_equal(c.closed, 2);
	assert_int_equal(s.opened, 2);
	assert_int_equal(s.closed, 2);
	assert_int_equal(c.reset + c.refused + c.failed + s.reset + s.refused + s.failed, 0);
	/* payload only: the SYN's and FIN's sequence numbers are not bytes */
	assert_int_equal(c.bytes_tx, 21000);
	assert_int_equal(c.bytes_rx, 305);
	assert_int_equal(s.bytes_tx, 305);
	assert_int_equal(s.bytes_rx, 21000);
	/* at least SYN (or SYN-ACK), one data segment each way and a FIN: 3 per connection */
	assert_true(c.segs_tx >= 6 && c.segs_rx >= 6 && s.segs_tx >= 6 && s.segs_rx >= 6);
	assert_int_equal(c.retrans + s.retrans, 0);
	assert_int_equal(rtt_count(&c), 2);
	assert_int_equal(rtt_count(&s), 2);
	/* loopback: far below a millisecond */
	assert_true(c.rtt_sum_us < 2 * 1000);
	assert_true(c.rtt[SL_RTT_BUCKETS - 1] == 0);
	assert_int_equal(flow_count(f), 2);
}

static void ipv4__opened_closed_bytes_segments_rtt(void **state)
{
	check_exchange(*state, AF_INET);
}

static void ipv6__the_same(void **state)
{
	check_exchange(*state, AF_INET6);
}

static void refused__connect_to_a_closed_port(void **state)
{
	struct fix *f = *state;
	struct sl_l4_key ck = key_of(AF_INET, SL_L4_CLIENT, CLOSED_PORT, NULL, 0);
	struct sl_l4_val c;
	int fd = client_socket(AF_INET);

	assert_int_equal(connect_to(fd, AF_INET, CLOSED_PORT), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	c = flow_wait(f, &ck, offsetof(struct sl_l4_val, refused), 1);
	assert_int_equal(c.refused, 1);
	assert_int_equal(c.opened + c.closed + c.failed + c.reset, 0);
	assert_int_equal(rtt_count(&c), 0);
	assert_int_equal(flow_count(f), 1); /* no server side: nothing accepted it */
}

static void reset__abort_counts_on_both_sides(void **state)
{
	struct fix *f = *state;
	struct sl_l4_key ck = key_of(AF_INET, SL_L4_CLIENT, PORT, NULL, 0);
	struct sl_l4_key sk = key_of(AF_INET, SL_L4_SERVER, PORT, NULL, 0);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct conn k = conn_open(f, AF_INET);
	struct sl_l4_val c, s;
	char buf[8];

	send_n(k.c, 10);
	recv_n(k.s, 10);
	/* the server aborts: it sends the reset, the client receives it */
	assert_int_equal(setsockopt(k.s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(k.s);
	assert_int_equal(recv(k.c, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, ECONNRESET);
	close(k.c);
	c = flow_wait(f, &ck, offsetof(struct sl_l4_val, closed), 1);
	s = flow_wait(f, &sk, offsetof(struct sl_l4_val, closed), 1);
	assert_int_equal(c.closed, 1);
	assert_int_equal(c.reset, 1);
	assert_int_equal(s.closed, 1);
	assert_int_equal(s.reset, 1);
	assert_int_equal(c.bytes_tx, 10);
	assert_int_equal(s.bytes_rx, 10);
}

/* An orderly close is no reset, however the two sides order their FINs. */
static void server_closes_first__no_reset(void **state)
{
	struct fix *f = *state;
	struct sl_l4_key ck = key_of(AF_INET, SL_L4_CLIENT, PORT, NULL, 0);
	struct sl_l4_key sk = key_of(AF_INET, SL_L4_SERVER, PORT, NULL, 0);
	struct conn k = conn_open(f, AF_INET);
	struct sl_l4_val c, s;
	char ch;

	send_n(k.s, 64);
	close(k.s);
	recv_n(k.c, 64);
	assert_int_equal(recv(k.c, &ch, 1, 0), 0);
	close(k.c);
	c = flow_wait(f, &ck, offsetof(struct sl_l4_val, closed), 1);
	s = flow_wait(f, &sk, offsetof(struct sl_l4_val, closed), 1);
	assert_int_equal(c.closed + s.closed, 2);
	assert_int_equal(c.reset + s.reset, 0);
	assert_int_equal(c.bytes_rx, 64);
	assert_int_equal(s.bytes_tx, 64);
}

static void retransmissions__counted_when_segments_are_lost(void **state)
{
	struct fix *f = *state;
	struct sl_l4_key ck = key_of(AF_INET, SL_L4_CLIENT, PORT, NULL, 0);
	struct sl_l4_key sk = key_of(AF_INET, SL_L4_SERVER, PORT, NULL, 0);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex("lo"),
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	struct drop *d = drop__open();
	struct sl_l4_val c, s;

	assert_non_null(d);
	d->bss->drop_port = PORT;
	d->bss->drop_n = 2;
	assert_int_equal(drop__load(d), 0);
	assert_int_equal(bpf_tc_hook_create(&hook), 0);
	opts.prog_fd = bpf_program__fd(d->progs.drop_data);
	assert_int_equal(bpf_tc_attach(&hook, &opts), 0);
	exchange(f, AF_INET, 3000, 100);
	assert_int_equal(d->bss->dropped, 2);
	hook.attach_point = BPF_TC_EGRESS | BPF_TC_INGRESS;
	bpf_tc_hook_destroy(&hook);
	drop__destroy(d);
	c = flow_wait(f, &ck, offsetof(struct sl_l4_val, closed), 1);
	s = flow_wait(f, &sk, offsetof(struct sl_l4_val, closed), 1);
	/* the two lost segments were the client's, and each was sent again */
	assert_true(c.retrans >= 2);
	assert_int_equal(s.retrans, 0);
	assert_int_equal(c.bytes_tx, 3000);
	assert_int_equal(s.bytes_rx, 3000);
}

/* A connect() the socket LB translated is keyed by its frontend too (sluice_sk_slot). */
static void service_connection__keyed_by_frontend(void **state)
{
	struct fix *f = *state;
	struct sl_l4_key ck = key_of(AF_INET, SL_L4_CLIENT, PORT, "10.96.0.10", 80);
	struct sl_l4_key sk = key_of(AF_INET, SL_L4_SERVER, PORT, NULL, 0);
	struct sl_sk_slot slot = { .be_family = SL_AF_INET, .be_port = htons(PORT) };
	socklen_t len = sizeof(slot.cookie);
	struct sl_l4_val c, s;
	uint32_t idx;
	int fd, sfd;

	fd = client_socket(AF_INET);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &slot.cookie, &len), 0);
	/* what sluice_conn4 writes when it sends a connect() to 10.96.0.10:80 to this backend */
	slot.be_addr[0] = htonl(INADDR_LOOPBACK);
	slot.fe.family = SL_AF_INET;
	slot.fe.port = htons(80);
	slot.fe.svc_id = 1;
	tr_abi_addr("10.96.0.10", slot.fe.addr);
	idx = (uint32_t)slot.cookie & (SL_SK_SLOTS - 1);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->so->maps.sluice_sk_slot), &idx, &slot,
					     BPF_ANY), 0);
	assert_int_equal(connect_to(fd, AF_INET, PORT), 0);
	sfd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(sfd >= 0);
	close(fd);
	close(sfd);
	c = flow_wait(f, &ck, offsetof(struct sl_l4_val, closed), 1);
	s = flow_wait(f, &sk, offsetof(struct sl_l4_val, closed), 1);
	assert_int_equal(c.opened, 1);
	assert_int_equal(c.closed, 1);
	assert_int_equal(s.opened, 1); /* the server does not know the frontend */
	assert_int_equal(flow_count(f), 2);
}

/* What the agent does every second: the iterator over this namespace's TCP sockets. */
static void flush(struct fix *f)
{
	char buf[64];
	int it = bpf_iter_create(bpf_link__fd(f->fl_link));

	assert_true(it >= 0);
	while (read(it, buf, sizeof(buf)) > 0)
		;
	close(it);
}

/*
 * Flushes until the flow's field at off reaches want: bytes count once acknowledged, and an
 * ACK with nothing to ride on may be delayed (40 ms or more).
 */
static struct sl_l4_val flush_until(struct fix *f, const struct sl_l4_key *k, size_t off,
				    uint64_t want)
{
	return flow_wait_as(f, k, off, want, true);
}

/* A long-lived connection's bytes move with each flush, and the close adds only the rest. */
static void flush__live_connection_counted_once(void **state)
{
	struct fix *f = *state;
	struct sl_l4_key ck = key_of(AF_INET, SL_L4_CLIENT, PORT, NULL, 0);
	struct sl_l4_key sk = key_of(AF_INET, SL_L4_SERVER, PORT, NULL, 0);
	struct conn k = conn_open(f, AF_INET);
	struct sl_l4_val c, s;
	char ch;

	flush(f); /* nothing moved yet: nothing added */
	c = flow_get(f, &ck);
	assert_int_equal(c.bytes_tx + c.bytes_rx, 0);
	send_n(k.c, 5000);
	recv_n(k.s, 5000);
	send_n(k.s, 700);
	recv_n(k.c, 700);
	c = flush_until(f, &ck, offsetof(struct sl_l4_val, bytes_tx), 5000);
	s = flush_until(f, &sk, offsetof(struct sl_l4_val, bytes_tx), 700);
	assert_int_equal(c.closed, 0);
	assert_int_equal(c.bytes_tx, 5000);
	assert_int_equal(c.bytes_rx, 700);
	assert_int_equal(s.bytes_tx, 700);
	assert_int_equal(s.bytes_rx, 5000);
	assert_true(c.segs_tx >= 2 && s.segs_rx >= 2);
	flush(f); /* again: nothing new */
	assert_int_equal(flow_get(f, &ck).bytes_tx, 5000);
	send_n(k.c, 3000);
	recv_n(k.s, 3000);
	assert_int_equal(flush_until(f, &ck, offsetof(struct sl_l4_val, bytes_tx), 8000).bytes_tx, 8000);
	assert_int_equal(flow_get(f, &sk).bytes_rx, 8000);
	send_n(k.c, 11);
	recv_n(k.s, 11);
	close(k.c);
	assert_int_equal(recv(k.s, &ch, 1, 0), 0);
	close(k.s);
	c = flow_wait(f, &ck, offsetof(struct sl_l4_val, closed), 1);
	s = flow_wait(f, &sk, offsetof(struct sl_l4_val, closed), 1);
	flush(f); /* a closed connection is not flushed again */
	c = flow_get(f, &ck);
	s = flow_get(f, &sk);
	assert_int_equal(c.closed, 1);
	assert_int_equal(c.bytes_tx, 8011);
	assert_int_equal(c.bytes_rx, 700);
	assert_int_equal(s.bytes_tx, 700);
	assert_int_equal(s.bytes_rx, 8011);
	assert_int_equal(rtt_count(&c), 1);
}

static void switched_off__nothing_counted(void **state)
{
	struct fix *f = *state;

	exchange(f, AF_INET, 100, 100);
	usleep(50 * 1000);
	assert_int_equal(flow_count(f), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(ipv4__opened_closed_bytes_segments_rtt),
		T(ipv6__the_same),
		T(refused__connect_to_a_closed_port),
		T(reset__abort_counts_on_both_sides),
		T(server_closes_first__no_reset),
		T(retransmissions__counted_when_segments_are_lost),
		T(service_connection__keyed_by_frontend),
		T(flush__live_connection_counted_once),
		cmocka_unit_test_setup_teardown(switched_off__nothing_counted, setup_off, teardown),
	};
#undef T
	int err;

	pkt_require_bpf("test_l4_tel");
	err = pkt_netns_fresh();
	if (err < 0) {
		printf("test_l4_tel: skipped: cannot enter a fresh network namespace: %s\n",
		       strerror(-err));
		return 77;
	}
	err = tr_cg_enter("l4");
	if (err < 0) {
		printf("test_l4_tel: skipped: cannot make a cgroup under " TR_CG_ROOT ": %s\n",
		       strerror(-err));
		tr_cg_leave();
		return 77;
	}
	libbpf_set_print(tr_libbpf_quiet);
	err = cmocka_run_group_tests_name("l4_tel", tests, NULL, NULL);
	tr_cg_leave();
	return err;
}

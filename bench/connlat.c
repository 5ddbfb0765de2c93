// SPDX-License-Identifier: Apache-2.0
/*
 * connlat: new-connection latency. For each of N iterations (after W warm-up ones) it creates a
 * TCP socket, connect()s to ADDR:PORT (IPv4 or IPv6), writes one small request, reads the reply
 * until EOF (or until EXPECT bytes), and closes. One connection at a time.
 *
 *   connlat [-n N] [-w W] [-t TIMEOUT_MS] [-d DEADLINE_S] [-e EXPECT] [-q] ADDR PORT [ADDR PORT]...
 *   connlat -P SIZE [-n N] [-w W] [-t TIMEOUT_MS] [-d DEADLINE_S] [-q] ADDR PORT [ADDR PORT]...
 *
 * With several targets, each iteration makes one transaction to every target, in an order that
 * rotates from one iteration to the next, so all targets see the same machine (the same other
 * load, the same cache and frequency state) connection by connection, and a slow phase of the
 * machine cannot land on one target only. It prints one machine-readable line per target:
 *   target=ADDR:PORT connect_p50_us=.. connect_p99_us=.. txn_p50_us=.. txn_p99_us=..
 *   conn_per_s=.. n=.. errors=..
 * connect is the time spent in connect() (SYN out to SYN-ACK in, plus whatever the connect
 * hooks and netfilter add on the way); txn is socket() to close(), the whole transaction;
 * conn_per_s is 1 / the mean txn, the rate of one closed-loop client that talks only to that
 * target. Clock: CLOCK_MONOTONIC. Percentiles are nearest-rank.
 *
 * TIME_WAIT: 60,000 connections in a minute would run through the ephemeral port range and
 * reuse 4-tuples the server still holds in TIME_WAIT, which makes the odd SYN wait out a
 * retransmit and spoils p99. So the server closes first (its FIN reaches us with the reply),
 * we read to EOF and close with SO_LINGER {1, 0}: the RST that sends takes the server's socket
 * out of FIN_WAIT2 at once, and an aborted socket never enters TIME_WAIT. Neither side keeps
 * state after a transaction, so no port runs out and no tuple collides, however many runs.
 *
 * With -P SIZE it measures request/response on established connections instead (ping-pong
 * against an echo server such as `connsrv -E`): one TCP connection per target, opened first, then
 * N rounds (after W warm-up ones) of one round trip per target in the same rotating order: write
 * SIZE bytes, read SIZE bytes back. Round trips to the targets alternate microseconds apart, so a
 * slow phase of the machine lands on all of them alike; sockperf runs, one target at a time, are
 * seconds apart. It prints per target:
 *   target=ADDR:PORT rr_p50_us=.. rr_p99_us=.. n=.. errors=..
 * A target whose connection fails is closed and counts its remaining rounds as errors.
 *
 * Every socket operation times out after TIMEOUT_MS (SO_SNDTIMEO bounds connect() too), and
 * the whole run stops at DEADLINE_S. Exit status: 0, or 1 when more than 1 % of one target's
 * measured transactions failed or the deadline cut the run short, 2 for usage errors. Failures print
 * one line each to stderr (at most MAX_ERR_LINES of them).
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define REQUEST		"GET /connlat\n"
#define MAX_ITER	1000000
#define MAX_ERR_LINES	5
#define READ_BUF	65536
#define MAX_TARGETS	8

struct opts {
	long n;
	long warmup;
	long timeout_ms;
	double deadline_s;
	long expect;
	long pp_size;	/* -P: ping-pong message size, 0 for the new-connection mode */
	bool quiet;
};

/* One ADDR PORT and what was measured against it. */
struct target {
	const char *addr;
	const char *port;
	struct addrinfo *ai;
	double *conn;	/* µs, one per successful measured transaction */
	double *txn;
	double txn_sum_ns;
	long ok;
	long errors;
	int fd;		/* -P: the established connection, -1 once it failed */
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, long n, double p)
{
	long i = (long)ceil(p / 100.0 * (double)n) - 1;

	if (n <= 0)
		return NAN;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/*
 * One transaction. Writes the connect() and whole-transaction times in ns and returns 0, or
 * returns a negative errno with what failed in *ret_what.
 */
static int txn(const struct addrinfo *ai, const struct opts *o, double *ret_conn,
	       double *ret_txn, const char **ret_what)
{
	struct timeval tv = { .tv_sec = o->timeout_ms / 1000,
			      .tv_usec = (o->timeout_ms % 1000) * 1000 };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	static char buf[READ_BUF];
	double t0, t1, t2, t3;
	long got = 0;
	int fd, one = 1, err;
	ssize_t n;

	t0 = now_ns();
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		*ret_what = "socket";
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		err = -errno;
		*ret_what = "setsockopt";
		goto err_close;
	}
	t1 = now_ns();
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		/* EINPROGRESS here means SO_SNDTIMEO expired before the handshake finished */
		err = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		*ret_what = "connect";
		goto err_close;
	}
	t2 = now_ns();
	if (write(fd, REQUEST, sizeof(REQUEST) - 1) != (ssize_t)(sizeof(REQUEST) - 1)) {
		err = errno ? -errno : -EIO;
		*ret_what = "write";
		goto err_close;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			*ret_what = "read";
			goto err_close;
		}
		if (n == 0)
			break;
		got += n;
		if (o->expect > 0 && got >= o->expect)
			break;
	}
	if (got == 0 || (o->expect > 0 && got < o->expect)) {
		err = -ENODATA;
		*ret_what = "read (short reply)";
		goto err_close;
	}
	close(fd);
	t3 = now_ns();
	*ret_conn = t2 - t1;
	*ret_txn = t3 - t0;
	return 0;

err_close:
	close(fd);
	return err;
}


/* -P: opens t's connection, with the same timeouts and options as a transaction's socket. */
static int pp_open(struct target *t, const struct opts *o)
{
	struct timeval tv = { .tv_sec = o->timeout_ms / 1000,
			      .tv_usec = (o->timeout_ms % 1000) * 1000 };
	int fd, one = 1, err;

	fd = socket(t->ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    connect(fd, t->ai->ai_addr, t->ai->ai_addrlen) < 0) {
		err = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		close(fd);
		return err;
	}
	t->fd = fd;
	return 0;
}

/* -P: one round trip on t's connection; with measure, recorded in t->txn (µs). */
static void pp_record(struct target *t, const struct opts *o, const char *msg, char *buf,
		      bool measure)
{
	const char *what = "write";
	long got = 0;
	double t0, t1;
	ssize_t n;
	int err;

	if (t->fd < 0) {
		t->errors += measure;
		return;
	}
	t0 = now_ns();
	n = write(t->fd, msg, (size_t)o->pp_size);
	if (n != o->pp_size) {
		err = n < 0 ? errno : EIO;
		goto fail;
	}
	what = "read";
	while (got < o->pp_size) {
		n = read(t->fd, buf + got, (size_t)(o->pp_size - got));
		if (n <= 0) {
			err = n < 0 ? (errno == EAGAIN ? ETIMEDOUT : errno) : ECONNRESET;
			goto fail;
		}
		got += n;
	}
	t1 = now_ns();
	if (measure)
		t->txn[t->ok++] = (t1 - t0) / 1e3;
	return;

fail:
	if (!o->quiet)
		fprintf(stderr, "connlat: %s %s port %s: %s\n", what, t->addr, t->port,
			strerror(err));
	close(t->fd);
	t->fd = -1;
	t->errors += measure;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: connlat [-n N] [-w W] [-t TIMEOUT_MS] [-d DEADLINE_S] [-e EXPECT] [-q] ADDR PORT [ADDR PORT]...\n"
		"       connlat -P SIZE [-n N] [-w W] [-t TIMEOUT_MS] [-d DEADLINE_S] [-q] ADDR PORT [ADDR PORT]...\n"
		"  -P SIZE        ping-pong: SIZE-byte round trips on one established connection per target\n"
		"  -n N           measured transactions (with -P: round trips) per target (default 2000)\n"
		"  -w W           warm-up transactions per target, not measured (default 200)\n"
		"  -t TIMEOUT_MS  timeout of each connect/read/write (default 1000)\n"
		"  -d DEADLINE_S  stop the whole run after this long (default 60)\n"
		"  -e EXPECT      reply is complete after EXPECT bytes (default: at EOF)\n"
		"  -q             print no per-failure lines\n"
		"Up to %d targets, measured interleaved, one output line each.\n", MAX_TARGETS);
}

static int parse_long(const char *s, long lo, long hi, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* One measured (or, with measure false, warm-up) transaction to t. */
static void txn_record(struct target *t, const struct opts *o, bool measure)
{
	const char *what = "";
	double c_ns = 0, t_ns = 0;
	int r;

	r = txn(t->ai, o, &c_ns, &t_ns, &what);
	if (!measure)
		return; /* warm-up failures show in the measured part */
	if (r < 0) {
		if (!o->quiet && t->errors < MAX_ERR_LINES)
			fprintf(stderr, "connlat: %s %s port %s: %s\n", what, t->addr, t->port,
				strerror(-r));
		t->errors++;
		return;
	}
	t->conn[t->ok] = c_ns / 1e3;
	t->txn[t->ok] = t_ns / 1e3;
	t->txn_sum_ns += t_ns;
	t->ok++;
}

int main(int argc, char **argv)
{
	struct opts o = { .n = 2000, .warmup = 200, .timeout_ms = 1000, .deadline_s = 60 };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct target tg[MAX_TARGETS] = { 0 };
	char *msg = NULL;
	double end_by;
	long i, dl;
	bool cut = false;
	int c, r, k, j, nt, rc = 0;

	while ((c = getopt(argc, argv, "n:w:t:d:e:P:qh")) != -1) {
		switch (c) {
		case 'n':
			r = parse_long(optarg, 1, MAX_ITER, &o.n);
			break;
		case 'w':
			r = parse_long(optarg, 0, MAX_ITER, &o.warmup);
			break;
		case 't':
			r = parse_long(optarg, 1, 600000, &o.timeout_ms);
			break;
		case 'd':
			r = parse_long(optarg, 1, 86400, &dl);
			o.deadline_s = (double)dl;
			break;
		case 'e':
			r = parse_long(optarg, 1, 1 << 30, &o.expect);
			break;
		case 'P':
			r = parse_long(optarg, 1, READ_BUF, &o.pp_size);
			break;
		case 'q':
			o.quiet = true;
			r = 0;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (r < 0) {
			fprintf(stderr, "connlat: -%c: bad value \"%s\"\n", c, optarg);
			return 2;
		}
	}
	nt = (argc - optind) / 2;
	if ((argc - optind) % 2 || nt < 1 || nt > MAX_TARGETS) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (k = 0; k < MAX_TARGETS; k++)
		tg[k].fd = -1;
	for (k = 0; k < nt; k++) {
		tg[k].addr = argv[optind + 2 * k];
		tg[k].port = argv[optind + 2 * k + 1];
		r = getaddrinfo(tg[k].addr, tg[k].port, &hints, &tg[k].ai);
		if (r != 0) {
			fprintf(stderr, "connlat: %s port %s: %s\n", tg[k].addr, tg[k].port,
				gai_strerror(r));
			rc = 2;
			goto out_free;
		}
		tg[k].conn = calloc((size_t)o.n, sizeof(double));
		tg[k].txn = calloc((size_t)o.n, sizeof(double));
		if (!tg[k].conn || !tg[k].txn) {
			fprintf(stderr, "connlat: out of memory\n");
			rc = 1;
			goto out_free;
		}
	}

	if (o.pp_size) {
		msg = calloc(2, (size_t)o.pp_size);
		if (!msg) {
			fprintf(stderr, "connlat: out of memory\n");
			rc = 1;
			goto out_free;
		}
		memset(msg, 'p', (size_t)o.pp_size);
		for (k = 0; k < nt; k++) {
			r = pp_open(&tg[k], &o);
			if (r < 0) {
				fprintf(stderr, "connlat: connect %s port %s: %s\n", tg[k].addr,
					tg[k].port, strerror(-r));
				rc = 1;
				goto out_free;
			}
		}
	}

	/* iteration i visits the targets starting at i % nt: each target takes each place in
	 * the round equally often */
	end_by = now_ns() + o.deadline_s * 1e9;
	for (i = 0; i < o.warmup && now_ns() < end_by; i++)
		for (j = 0; j < nt; j++)
			if (o.pp_size)
				pp_record(&tg[(i + j) % nt], &o, msg, msg + o.pp_size, false);
			else
				txn_record(&tg[(i + j) % nt], &o, false);
	for (i = 0; i < o.n; i++) {
		if (now_ns() >= end_by) {
			cut = true;
			break;
		}
		for (j = 0; j < nt; j++)
			if (o.pp_size)
				pp_record(&tg[(i + j) % nt], &o, msg, msg + o.pp_size, true);
			else
				txn_record(&tg[(i + j) % nt], &o, true);
	}
	for (k = 0; k < nt && o.pp_size; k++) {
		struct target *t = &tg[k];

		qsort(t->txn, (size_t)t->ok, sizeof(double), cmp_double);
		printf("target=%s:%s rr_p50_us=%.1f rr_p99_us=%.1f n=%ld errors=%ld\n", t->addr,
		       t->port, pct(t->txn, t->ok, 50), pct(t->txn, t->ok, 99), t->ok, t->errors);
		if (t->ok == 0 || t->errors * 100 > o.n)
			rc = 1;
	}
	for (k = 0; k < nt && !o.pp_size; k++) {
		struct target *t = &tg[k];

		qsort(t->conn, (size_t)t->ok, sizeof(double), cmp_double);
		qsort(t->txn, (size_t)t->ok, sizeof(double), cmp_double);
		printf("target=%s:%s connect_p50_us=%.1f connect_p99_us=%.1f txn_p50_us=%.1f "
		       "txn_p99_us=%.1f conn_per_s=%.0f n=%ld errors=%ld\n",
		       t->addr, t->port, pct(t->conn, t->ok, 50), pct(t->conn, t->ok, 99),
		       pct(t->txn, t->ok, 50), pct(t->txn, t->ok, 99),
		       t->ok && t->txn_sum_ns > 0 ? (double)t->ok / (t->txn_sum_ns / 1e9) : 0.0,
		       t->ok, t->errors);
		if (t->ok == 0 || t->errors * 100 > o.n)
			rc = 1;
	}
	if (cut) {
		fprintf(stderr, "connlat: deadline of %.0f s reached after %ld rounds\n",
			o.deadline_s, i);
		rc = 1;
	}

out_free:
	free(msg);
	for (k = 0; k < nt; k++) {
		if (tg[k].fd >= 0)
			close(tg[k].fd);
		free(tg[k].conn);
		free(tg[k].txn);
		if (tg[k].ai)
			freeaddrinfo(tg[k].ai);
	}
	return rc;
}

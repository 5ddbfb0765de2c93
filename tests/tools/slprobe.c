// SPDX-License-Identifier: Apache-2.0
/*
 * slprobe: the client side of the Service tests, run inside lab pods and namespaces. curl cannot
 * show what getpeername(2) returns, send an unconnected UDP datagram and report the reply's
 * source, bind a chosen source port, or time a refused connect, so this small tool does.
 *
 *   slprobe tcp  [-n COUNT] [-s SPORT] [-R] ADDR PORT
 *       COUNT times: connect, "GET /" over HTTP/1.1, print "PEER BODY" (PEER from getpeername,
 *       BODY the response body's first line), close (with RST under -R, so the same source port
 *       can be reused at once; -s SPORT binds SPORT, SPORT+1, ... for successive connections).
 *   slprobe hold ADDR PORT SECS
 *       connect, one request, print "PEER BODY", sleep SECS, a second request on the same
 *       connection, print "PEER BODY" again.
 *   slprobe udp  [-c] ADDR PORT MSG
 *       send MSG in one datagram (sendto on an unconnected socket, or connect + send under -c),
 *       print "FROM REPLY" where FROM is the reply's source (recvfrom) or getpeername under -c.
 *   slprobe reach [-t MS] ADDR:PORT...
 *       connects to every target at once (non-blocking, IPv6 as [ADDR]:PORT) and prints
 *       "TARGET ok" or "TARGET fail" for each, in order, once each has answered or MS (default
 *       400) has passed; a connection policy drops times out, a refused one fails at once.
 *       Exits 0 whatever the outcomes: the caller compares them with its truth table.
 *
 * A failed connect prints "error=ENAME connect_ms=N" on stdout and exits 2; other failures
 * print to stderr and exit 1. Addresses are numeric IPv4 or IPv6.
 */
#include <errno.h>
#include <netdb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_S 3

static int die(const char *what)
{
	fprintf(stderr, "slprobe: %s: %s\n", what, strerror(errno));
	return 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int resolve(const char *addr, const char *port, int type, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = type,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	int rc = getaddrinfo(addr, port, &hints, &ai);

	if (rc) {
		fprintf(stderr, "slprobe: %s port %s: %s\n", addr, port, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
		snprintf(buf, len, "%s:%u", ip, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
		snprintf(buf, len, "[%s]:%u", ip, port);
	} else {
		snprintf(buf, len, "?");
	}
}

static int peer_of(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	fmt_addr(&ss, buf, len);
	return 0;
}

static int sock_new(int family, int type)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int bind_port(int fd, int family, unsigned int port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((unsigned short)port);
	return bind(fd, (struct sockaddr *)&ss,
		    family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

/* Connects, or prints the error and the time it took and returns -2. */
static int tcp_connect(const struct sockaddr_storage *ss, socklen_t sl, int sport)
{
	double t0 = now_ms();
	int fd = sock_new(ss->ss_family, SOCK_STREAM), e;

	if (fd < 0)
		return -1;
	if (sport > 0 && bind_port(fd, ss->ss_family, (unsigned int)sport) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)ss, sl) < 0) {
		e = errno;
		printf("error=%s connect_ms=%.1f\n", strerrorname_np(e) ?: "?", now_ms() - t0);
		close(fd);
		return -2;
	}
	return fd;
}

/* One HTTP/1.1 request on fd; the body's first line goes to body. */
static int http_get(int fd, char *body, size_t blen)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: slprobe\r\n\r\n";
	char buf[8192], *hdr_end, *cl;
	size_t got = 0, want;
	ssize_t n;
	long clen;

	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
		return -1;
	for (;;) {
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		hdr_end = strstr(buf, "\r\n\r\n");
		if (!hdr_end)
			continue;
		cl = strcasestr(buf, "\r\nContent-Length:");
		if (!cl || cl > hdr_end)
			return -1;
		clen = strtol(cl + 17, NULL, 10);
		want = (size_t)(hdr_end + 4 - buf) + (size_t)clen;
		if (want >= sizeof(buf))
			return -1;
		if (got >= want)
			break;
	}
	snprintf(body, blen, "%.*s", (int)strcspn(hdr_end + 4, "\r\n"), hdr_end + 4);
	return 0;
}

static void close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int cmd_tcp(int argc, char **argv)
{
	struct sockaddr_storage ss;
	char peer[80], body[256];
	int opt, fd, i, count = 1, sport = 0;
	bool rst = false;
	socklen_t sl;

	while ((opt = getopt(argc, argv, "n:s:R")) != -1) {
		switch (opt) {
		case 'n': count = atoi(optarg); break;
		case 's': sport = atoi(optarg); break;
		case 'R': rst = true; break;
		default: return 1;
		}
	}
	if (argc - optind != 2 || count < 1)
		return fprintf(stderr, "usage: slprobe tcp [-n COUNT] [-s SPORT] [-R] ADDR PORT\n"), 1;
	if (resolve(argv[optind], argv[optind + 1], SOCK_STREAM, &ss, &sl) < 0)
		return 1;
	for (i = 0; i < count; i++) {
		fd = tcp_connect(&ss, sl, sport ? sport + i : 0);
		if (fd == -2)
			return 2;
		if (fd < 0)
			return die("connect");
		if (peer_of(fd, peer, sizeof(peer)) < 0)
			return die("getpeername");
		if (http_get(fd, body, sizeof(body)) < 0)
			return die("request");
		printf("%s %s\n", peer, body);
		if (rst)
			close_rst(fd);
		else
			close(fd);
	}
	return 0;
}

static int cmd_hold(int argc, char **argv)
{
	struct sockaddr_storage ss;
	char peer[80], body[256];
	socklen_t sl;
	int fd, r;

	if (argc != 4)
		return fprintf(stderr, "usage: slprobe hold ADDR PORT SECS\n"), 1;
	if (resolve(argv[1], argv[2], SOCK_STREAM, &ss, &sl) < 0)
		return 1;
	fd = tcp_connect(&ss, sl, 0);
	if (fd == -2)
		return 2;
	if (fd < 0)
		return die("connect");
	for (r = 0; r < 2; r++) {
		if (r)
			sleep((unsigned int)atoi(argv[3]));
		if (peer_of(fd, peer, sizeof(peer)) < 0)
			return die("getpeername");
		if (http_get(fd, body, sizeof(body)) < 0)
			return die(r ? "second request on the held connection" : "request");
		printf("%s %s\n", peer, body);
		fflush(stdout);
	}
	close(fd);
	return 0;
}

static int cmd_udp(int argc, char **argv)
{
	struct sockaddr_storage ss, from;
	socklen_t sl, fl = sizeof(from);
	char peer[80], buf[512];
	bool conn = false;
	const char *msg;
	ssize_t n;
	int fd;

	if (argc > 1 && !strcmp(argv[1], "-c")) {
		conn = true;
		argc--;
		argv++;
	}
	if (argc != 4)
		return fprintf(stderr, "usage: slprobe udp [-c] ADDR PORT MSG\n"), 1;
	msg = argv[3];
	if (resolve(argv[1], argv[2], SOCK_DGRAM, &ss, &sl) < 0)
		return 1;
	fd = sock_new(ss.ss_family, SOCK_DGRAM);
	if (fd < 0)
		return die("socket");
	if (conn) {
		if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
			printf("error=%s connect_ms=0\n", strerrorname_np(errno) ?: "?");
			return 2;
		}
		n = send(fd, msg, strlen(msg), 0);
	} else {
		n = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&ss, sl);
	}
	if (n < 0) {
		printf("error=%s connect_ms=0\n", strerrorname_np(errno) ?: "?");
		return 2;
	}
	n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
	if (n < 0)
		return die("no reply");
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (conn) {
		if (peer_of(fd, peer, sizeof(peer)) < 0)
			return die("getpeername");
	} else {
		fmt_addr(&from, peer, sizeof(peer));
	}
	printf("%s %s\n", peer, buf);
	close(fd);
	return 0;
}

#define REACH_MAX 256

static int cmd_reach(int argc, char **argv)
{
	struct pollfd pfd[REACH_MAX];
	int ok[REACH_MAX], n = 0, i, ms = 400, left, opt;
	double end;

	optind = 1;
	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			return 1;
		ms = atoi(optarg);
	}
	if (optind >= argc || argc - optind > REACH_MAX) {
		fprintf(stderr, "slprobe reach: 1 to %d targets ADDR:PORT\n", REACH_MAX);
		return 1;
	}
	for (i = optind; i < argc; i++, n++) {
		char host[64], *colon = strrchr(argv[i], ':');
		struct sockaddr_storage ss;
		socklen_t sl;
		size_t hl;
		int fd;

		ok[n] = -1;
		pfd[n].fd = -1;
		pfd[n].events = POLLOUT;
		hl = colon ? (size_t)(colon - argv[i]) : 0;
		if (!colon || hl >= sizeof(host))
			return fprintf(stderr, "slprobe reach: bad target %s\n", argv[i]), 1;
		memcpy(host, argv[i], hl);
		host[hl] = '\0';
		if (host[0] == '[') { /* [v6]:port */
			memmove(host, host + 1, hl);
			host[strcspn(host, "]")] = '\0';
		}
		if (resolve(host, colon + 1, SOCK_STREAM, &ss, &sl) < 0)
			return 1;
		fd = sock_new(ss.ss_family, SOCK_STREAM);
		if (fd < 0)
			return die("socket");
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
			ok[n] = 1;
		else if (errno != EINPROGRESS)
			ok[n] = 0;
		pfd[n].fd = fd;
	}
	end = now_ms() + ms;
	for (;;) {
		int pending = 0;

		for (i = 0; i < n; i++) {
			pfd[i].events = ok[i] < 0 ? POLLOUT : 0;
			pending += ok[i] < 0;
		}
		left = (int)(end - now_ms());
		if (!pending || left <= 0)
			break;
		if (poll(pfd, (nfds_t)n, left) < 0)
			return die("poll");
		for (i = 0; i < n; i++) {
			int e = 0;
			socklen_t el = sizeof(e);

			if (ok[i] >= 0 || !(pfd[i].revents & (POLLOUT | POLLERR | POLLHUP)))
				continue;
			getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &e, &el);
			ok[i] = e == 0;
		}
	}
	for (i = 0; i < n; i++) {
		printf("%s %s\n", argv[optind + i], ok[i] == 1 ? "ok" : "fail");
		close_rst(pfd[i].fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "tcp"))
		return cmd_tcp(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "hold"))
		return cmd_hold(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "udp"))
		return cmd_udp(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "reach"))
		return cmd_reach(argc - 1, argv + 1);
	fprintf(stderr, "usage: slprobe tcp|hold|reach|udp ... (see the comment in tests/tools/slprobe.c)\n");
	return 1;
}

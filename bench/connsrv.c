// SPDX-License-Identifier: Apache-2.0
/*
 * connsrv: the server half of the new-connection benchmark. It accepts one connection at a
 * time, reads one request (up to a newline, or REQ_MAX bytes), writes a fixed-size reply and
 * closes first. connlat then reads to EOF and closes with SO_LINGER 0, so the RST it sends
 * also ends this side's FIN_WAIT2: neither side ever holds a TIME_WAIT socket (see connlat.c).
 *
 *   connsrv [-p PORT] [-s REPLY_BYTES] [-b ADDR]
 *   connsrv -E [-p PORT] [-b ADDR]
 *
 * With -E it is an echo server for `connlat -P` instead: it keeps up to MAX_ECHO connections
 * open at once and writes back whatever each one sends, until the client closes.
 *
 * It listens on [::]:PORT with IPV6_V6ONLY off (IPv4 and IPv6), or on 0.0.0.0 where IPv6 is
 * disabled, or on ADDR. A client that stalls is dropped after IO_TIMEOUT_MS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define REQ_MAX		4096
#define REPLY_MAX	65536
#define IO_TIMEOUT_MS	2000
#define BACKLOG		1024
#define MAX_ECHO	64

static int listen_on(const char *addr, unsigned short port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, zero = 0, fd = -1, err;

	if (addr && inet_pton(AF_INET, addr, &a4.sin_addr) == 1) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0)
			goto err_close;
	} else {
		if (addr && inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1)
			return -EINVAL;
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
			if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) < 0)
				goto err_close;
		} else if (!addr) {
			/* no IPv6 in this namespace: plain IPv4 */
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				return -errno;
			a4.sin_addr.s_addr = htonl(INADDR_ANY);
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0)
				goto err_close;
		} else {
			return -errno;
		}
	}
	if (listen(fd, BACKLOG) < 0)
		goto err_close;
	return fd;

err_close:
	err = -errno;
	close(fd);
	return err;
}

/* One transaction: read the request, write the reply, close. Errors just end it. */
static void serve(int fd, const char *reply, size_t reply_len)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000,
			      .tv_usec = (IO_TIMEOUT_MS % 1000) * 1000 };
	char req[REQ_MAX];
	size_t got = 0, off = 0;
	int one = 1;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (got < sizeof(req)) {
		n = read(fd, req + got, sizeof(req) - got);
		if (n <= 0)
			goto out;
		if (memchr(req + got, '\n', (size_t)n)) {
			got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	while (off < reply_len) {
		n = write(fd, reply + off, reply_len - off);
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
out:
	close(fd);
}


/* -E: echo every connection's bytes back, up to MAX_ECHO connections at once, in one thread. */
static int echo_loop(int lfd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000,
			      .tv_usec = (IO_TIMEOUT_MS % 1000) * 1000 };
	struct pollfd pf[MAX_ECHO + 1] = { [0] = { .fd = lfd, .events = POLLIN } };
	static char buf[REPLY_MAX];
	int npf = 1, i, fd, one = 1;
	ssize_t n, off, w;

	for (;;) {
		if (poll(pf, (nfds_t)npf, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "connsrv: poll: %s\n", strerror(errno));
			return 1;
		}
		for (i = npf - 1; i >= 1; i--) {
			if (!pf[i].revents)
				continue;
			n = read(pf[i].fd, buf, sizeof(buf));
			for (off = 0; n > 0 && off < n; off += w) {
				/* blocking with SO_SNDTIMEO: a client that stops reading is dropped */
				w = write(pf[i].fd, buf + off, (size_t)(n - off));
				if (w <= 0)
					n = -1;
			}
			if (n <= 0) {
				close(pf[i].fd);
				pf[i] = pf[--npf];
			}
		}
		if (!(pf[0].revents & POLLIN))
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* EINTR, ECONNABORTED, transient shortages: poll again */
		if (npf > MAX_ECHO) {
			close(fd);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pf[npf++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: connsrv [-p PORT] [-s REPLY_BYTES] [-b ADDR]\n"
		   "       connsrv -E [-p PORT] [-b ADDR]\n"
		   "  answers each connection's one request with REPLY_BYTES (default 64) and closes;\n"
		   "  with -E, echoes what each connection sends until it closes\n");
}

int main(int argc, char **argv)
{
	unsigned long port = 8080, reply_len = 64;
	const char *addr = NULL;
	char *reply, *end;
	int c, lfd, fd;
	bool echo = false;
	size_t i;

	while ((c = getopt(argc, argv, "p:s:b:Eh")) != -1) {
		switch (c) {
		case 'p':
			port = strtoul(optarg, &end, 10);
			if (*end || port == 0 || port > 65535) {
				fprintf(stderr, "connsrv: -p: want 1-65535, got \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 's':
			reply_len = strtoul(optarg, &end, 10);
			if (*end || reply_len == 0 || reply_len > REPLY_MAX) {
				fprintf(stderr, "connsrv: -s: want 1-%d, got \"%s\"\n", REPLY_MAX,
					optarg);
				return 2;
			}
			break;
		case 'b':
			addr = optarg;
			break;
		case 'E':
			echo = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	reply = malloc(reply_len);
	if (!reply)
		return 1;
	for (i = 0; i < reply_len; i++)
		reply[i] = 'a' + (char)(i % 26);
	reply[reply_len - 1] = '\n';
	lfd = listen_on(addr, (unsigned short)port);
	if (lfd < 0) {
		fprintf(stderr, "connsrv: listen on %s port %lu: %s\n", addr ? addr : "any", port,
			strerror(-lfd));
		free(reply);
		return 1;
	}
	if (echo) {
		free(reply);
		return echo_loop(lfd);
	}
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				usleep(1000); /* transient: let the backlog drain */
				continue;
			}
			fprintf(stderr, "connsrv: accept: %s\n", strerror(errno));
			break;
		}
		serve(fd, reply, reply_len);
	}
	close(lfd);
	free(reply);
	return 1;
}

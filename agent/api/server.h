/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd servers on listening sockets the caller made: the local API on a unix socket
 * (docs/api.md) and /metrics on TCP. Each runs in libmicrohttpd's own polling thread and calls
 * the agent core, which takes its lock.
 */
#ifndef SL_AGENT_SERVER_H
#define SL_AGENT_SERVER_H

#include <stddef.h>

struct agent;
struct server;

enum server_kind {
	SERVER_API,
	SERVER_METRICS,
};

/* Unix socket at path, mode 0600, replacing a stale socket file. Returns the fd or -errno. */
int server_listen_unix(const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* TCP on "host:port" (IPv4 or [IPv6]). Returns the fd or -errno. */
int server_listen_tcp(const char *hostport, char *err, size_t errlen)
	__attribute__((warn_unused_result));

int server_start(enum server_kind kind, int listen_fd, struct agent *a, struct server **ret,
		 char *err, size_t errlen) __attribute__((warn_unused_result));
void server_stop(struct server *s);

#endif

// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent/agent.h"
#include "bpfutil.h"
#include "log.h"
#include "server.h"

#define SERVER_MAX_BODY (8u << 20)

struct server {
	enum server_kind kind;
	struct MHD_Daemon *d;
	struct agent *agent;
	int fd;
};

#define TRIM_AFTER_BYTES (256u << 10)

struct req {
	char *buf;
	size_t len;
	size_t cap;
	bool too_big;
};

int server_listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "api socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = bpfutil_mkdirs(dir);
		if (r < 0) {
			snprintf(err, errlen, "create %s: %s", dir, strerror(-r));
			return r;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path); /* stale socket of a killed agent */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "listen on %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

int server_listen_tcp(const char *hostport, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char host[64];
	const char *colon = strrchr(hostport, ':');
	size_t hl;
	long port;
	int fd, one = 1, r;
	char *end;

	if (!colon || (hl = (size_t)(colon - hostport)) >= sizeof(host))
		goto bad;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		goto bad;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	} else {
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sizeof(ss)) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "listen on %s: %s", hostport, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
bad:
	snprintf(err, errlen, "metrics address: want host:port (127.0.0.1:9464), got \"%s\"",
		 hostport);
	return -EINVAL;
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, char *body,
			     const char *ctype)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!body) {
		body = strdup("{\"error\":\"out of memory\"}");
		status = 500;
		if (!body)
			return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	ret = MHD_queue_response(c, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct req *rq = *con_cls;
	char *body;
	int status = 500;

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > SERVER_MAX_BODY) {
			rq->too_big = true;
		} else {
			if (rq->len + *upload_size + 1 > rq->cap) {
				/* doubling: a body arrives in pieces of a few KiB, and growing by
				 * each would copy a 7 MB apply hundreds of times */
				size_t cap = rq->cap ? rq->cap : 65536;
				char *nb;

				while (cap < rq->len + *upload_size + 1)
					cap *= 2;
				nb = realloc(rq->buf, cap);
				if (!nb)
					return MHD_NO;
				rq->buf = nb;
				rq->cap = cap;
			}
			memcpy(rq->buf + rq->len, upload_data, *upload_size);
			rq->len += *upload_size;
			rq->buf[rq->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (s->kind == SERVER_METRICS) {
		if (strcmp(url, "/metrics") != 0)
			return reply(c, 404, strdup("not found\n"), "text/plain");
		return reply(c, 200, agent_metrics(s->agent), "text/plain; version=0.0.4");
	}
	if (rq->too_big) {
		body = strdup("{\"error\":\"request body larger than 8 MiB\"}");
		status = 413;
	} else {
		const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
		char query[64] = "";

		if (since)
			snprintf(query, sizeof(query), "since=%.40s", since);
		body = agent_http(s->agent, method, url, since ? query : NULL, rq->buf, rq->len,
				  &status);
	}
	return reply(c, status, body, "application/json");
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		/* a big apply leaves hundreds of megabytes of freed parse trees and store copies
		 * (and the body): once its response is gone, give the pages back */
		bool big = rq->len > TRIM_AFTER_BYTES;

		free(rq->buf);
		free(rq);
		*con_cls = NULL;
		if (big)
			malloc_trim(0);
	}
}

int server_start(enum server_kind kind, int listen_fd, struct agent *a, struct server **ret,
		 char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->kind = kind;
	s->agent = a;
	s->fd = listen_fd;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, listen_fd,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)256, MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "start %s server failed",
			 kind == SERVER_API ? "API" : "metrics");
		free(s);
		return -EIO;
	}
	*ret = s;
	return 0;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	close(s->fd);
	free(s);
}

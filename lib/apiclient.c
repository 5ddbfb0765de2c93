// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "apiclient.h"
#include "log.h"

#define API_DEFAULT_TIMEOUT_MS 10000L

struct resp_buf {
	char *buf;
	size_t len;
	size_t cap;
	bool too_big;
	bool nomem;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct resp_buf *rb = userdata;
	size_t n = size * nmemb;
	size_t ncap;
	char *nb;

	if (n > API_MAX_RESP_BYTES - rb->len) {
		rb->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (rb->len + n + 1 > rb->cap) {
		ncap = rb->cap ? rb->cap : 4096;
		while (ncap < rb->len + n + 1)
			ncap *= 2;
		nb = realloc(rb->buf, ncap);
		if (!nb) {
			rb->nomem = true;
			return 0;
		}
		rb->buf = nb;
		rb->cap = ncap;
	}
	memcpy(rb->buf + rb->len, ptr, n);
	rb->len += n;
	rb->buf[rb->len] = '\0';
	return n;
}

/* Maps a failed transfer to the errno the header promises, with a one-line reason in err. */
static int map_curl_error(CURL *h, CURLcode rc, const struct resp_buf *rb, const char *sock_path,
			  const char *curl_err, char *err, size_t errlen)
{
	struct stat st;
	long os_errno = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		if (stat(sock_path, &st) < 0 && errno == ENOENT) {
			snprintf(err, errlen, "%s", strerror(ENOENT));
			return -ENOENT;
		}
		(void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
		/* EACCES (root-only socket) and the like are reported as such, not as "refused" */
		snprintf(err, errlen, "%s", strerror(os_errno ? (int)os_errno : ECONNREFUSED));
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "no answer within the timeout: %s", curl_err);
		return -ETIMEDOUT;
	case CURLE_FILESIZE_EXCEEDED:
		snprintf(err, errlen, "response larger than %u MiB", API_MAX_RESP_BYTES >> 20);
		return -E2BIG;
	case CURLE_WRITE_ERROR:
		if (rb->too_big) {
			snprintf(err, errlen, "response larger than %u MiB",
				 API_MAX_RESP_BYTES >> 20);
			return -E2BIG;
		}
		if (rb->nomem) {
			snprintf(err, errlen, "out of memory reading the response");
			return -ENOMEM;
		}
		break;
	case CURLE_OUT_OF_MEMORY:
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	default:
		break;
	}
	snprintf(err, errlen, "%s", curl_err);
	return -EIO;
}

int api_call(const char *sock_path, const char *method, const char *path, const char *body,
	     size_t body_len, long timeout_ms, struct api_resp *ret, char *err, size_t errlen)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	struct resp_buf rb = {};
	struct curl_slist *hdrs = NULL, *nh;
	struct sockaddr_un sa;
	long status = 0;
	char url[1024];
	CURLcode rc;
	CURL *h;
	int r = 0;

	if (!sock_path || !method || !path || path[0] != '/') {
		snprintf(err, errlen, "bad request arguments");
		return -EINVAL;
	}
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path longer than %zu bytes", sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if ((size_t)snprintf(url, sizeof(url), "http://localhost%s", path) >= sizeof(url)) {
		snprintf(err, errlen, "request path too long");
		return -EINVAL;
	}
	if (timeout_ms <= 0)
		timeout_ms = API_DEFAULT_TIMEOUT_MS;

	h = curl_easy_init();
	if (!h) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -ENOMEM;
	}
	/* "Expect: 100-continue" would stall large bodies for a second */
	nh = curl_slist_append(hdrs, "Expect:");
	if (!nh) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_free_handle;
	}
	hdrs = nh;
	if (body) {
		nh = curl_slist_append(hdrs, "Content-Type: application/yaml");
		if (!nh) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out_free_handle;
		}
		hdrs = nh;
	}

	if (curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock_path) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)API_MAX_RESP_BYTES) !=
		CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err) != CURLE_OK) {
		r = -EIO;
		snprintf(err, errlen, "setting curl options failed");
		goto out_free_handle;
	}
	if (body) {
		if (curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
		    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) !=
			CURLE_OK) {
			r = -EIO;
			snprintf(err, errlen, "setting curl options failed");
			goto out_free_handle;
		}
	}
	if (strcmp(method, "GET") != 0 || body) {
		if (curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK) {
			r = -EIO;
			snprintf(err, errlen, "setting curl options failed");
			goto out_free_handle;
		}
	}
	/* a bodyless POST still needs an empty body, not a GET */
	if (!body && strcmp(method, "POST") == 0) {
		if (curl_easy_setopt(h, CURLOPT_POSTFIELDS, "") != CURLE_OK ||
		    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0) != CURLE_OK) {
			r = -EIO;
			snprintf(err, errlen, "setting curl options failed");
			goto out_free_handle;
		}
	}

	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (!curl_err[0])
			snprintf(curl_err, sizeof(curl_err), "%s", curl_easy_strerror(rc));
		r = map_curl_error(h, rc, &rb, sock_path, curl_err, err, errlen);
		log_debug("apiclient", "request failed", "method=%s path=%s sock=%s err=\"%s\"",
			  method, path, sock_path, err);
		goto out_free_handle;
	}
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (!rb.buf) {
		rb.buf = calloc(1, 1);
		if (!rb.buf) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out_free_handle;
		}
	}
	*ret = (struct api_resp){.status = status, .body = rb.buf, .len = rb.len};
	rb.buf = NULL;

out_free_handle:
	free(rb.buf);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return r;
}

void api_resp_free(struct api_resp *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

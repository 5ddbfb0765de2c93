/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x request framing for the L7 policy's stream parser: one byte at a time, all state in
 * the connection's struct sl_l7_conn (a map value), so that the verifier checks the step once
 * and a head split across any number of segments parses the same as one in a single segment.
 *
 * What a head must be (RFC 9112): request-line "METHOD SP target SP HTTP/1.x CRLF", header
 * lines "name: value CRLF", an empty line. Bare LF line ends are accepted where the RFC allows
 * a recipient to (it is what the servers behind do). Framing headers are strict, because a
 * disagreement with the server about where a request ends is how requests get smuggled past a
 * policy: Content-Length must be digits and appear once, Transfer-Encoding must be exactly
 * "chunked", and a request with both is malformed.
 */
#ifndef SL_BPF_HTTP_H
#define SL_BPF_HTTP_H

#include "common.h"

/* parser states (sl_l7_conn.st) */
enum {
	H_LEAD,	    /* before the request line: empty lines are skipped */
	H_METHOD,
	H_TARGET,
	H_QUERY,    /* past '?' in the target */
	H_VERSION,
	H_RL_LF,    /* request line's CR seen */
	H_LINE,	    /* start of a header line, or the empty line */
	H_NAME,
	H_VWS,	    /* whitespace before a value */
	H_VALUE,
	H_H_LF,	    /* header line's CR seen */
	H_END_LF,   /* the empty line's CR seen */
	H_DONE,
};

/* headers the framing or the rules need (sl_l7_conn.hdr, bit in .seen) */
enum {
	HDR_OTHER,
	HDR_HOST,
	HDR_CLEN,
	HDR_TE,
	HDR_CONN,
	HDR_UPGRADE,
	HDR_N,
};

/* volatile: clang must keep these in .rodata (a folded-away static const breaks the BTF) */
static const volatile char hdr_names[HDR_N][32] = {
	[HDR_HOST] = "host",
	[HDR_CLEN] = "content-length",
	[HDR_TE] = "transfer-encoding",
	[HDR_CONN] = "connection",
	[HDR_UPGRADE] = "upgrade",
};
static const volatile __u8 hdr_lens[HDR_N] = { 0, 4, 14, 17, 10, 7 };
static const volatile char te_chunked[8] = "chunked";
static const volatile char conn_close[8] = "close";
#define HDR_CAND_ALL                                                                             \
	((1u << HDR_HOST) | (1u << HDR_CLEN) | (1u << HDR_TE) | (1u << HDR_CONN) |               \
	 (1u << HDR_UPGRADE))

static __always_inline __u8 lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static __always_inline bool tchar(__u8 c)
{
	/* token characters of a method or header name (RFC 9110 5.6.2) */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	}
	return false;
}

static __always_inline __u8 method_of(const char *m, __u32 n)
{
	/* m holds the first 8 bytes of the method, n its length */
	switch (n) {
	case 3:
		if (m[0] == 'G' && m[1] == 'E' && m[2] == 'T')
			return SL_HTTP_GET;
		if (m[0] == 'P' && m[1] == 'U' && m[2] == 'T')
			return SL_HTTP_PUT;
		break;
	case 4:
		if (m[0] == 'H' && m[1] == 'E' && m[2] == 'A' && m[3] == 'D')
			return SL_HTTP_HEAD;
		if (m[0] == 'P' && m[1] == 'O' && m[2] == 'S' && m[3] == 'T')
			return SL_HTTP_POST;
		break;
	case 5:
		if (m[0] == 'T' && m[1] == 'R' && m[2] == 'A' && m[3] == 'C' && m[4] == 'E')
			return SL_HTTP_TRACE;
		if (m[0] == 'P' && m[1] == 'A' && m[2] == 'T' && m[3] == 'C' && m[4] == 'H')
			return SL_HTTP_PATCH;
		break;
	case 6:
		if (m[0] == 'D' && m[1] == 'E' && m[2] == 'L' && m[3] == 'E' && m[4] == 'T' &&
		    m[5] == 'E')
			return SL_HTTP_DELETE;
		break;
	case 7:
		if (m[0] == 'O' && m[1] == 'P' && m[2] == 'T' && m[3] == 'I' && m[4] == 'O' &&
		    m[5] == 'N' && m[6] == 'S')
			return SL_HTTP_OPTIONS;
		if (m[0] == 'C' && m[1] == 'O' && m[2] == 'N' && m[3] == 'N' && m[4] == 'E' &&
		    m[5] == 'C' && m[6] == 'T')
			return SL_HTTP_CONNECT;
		break;
	}
	return SL_HTTP_OTHER;
}

static __always_inline void head_reset(struct sl_l7_conn *c)
{
	c->reason = SL_L7_R_ALLOWED;
	c->method = SL_HTTP_OTHER;
	c->http_minor = 0;
	c->close = 0;
	c->chunked = 0;
	c->host_len = 0;
	c->upgrade = 0;
	c->head_len = 0;
	c->path_len = 0;
	c->clen = 0;
	c->pos = 0;
	c->st = H_LEAD;
	c->hdr = HDR_OTHER;
	c->seen = 0;
	c->tok = 0;
	c->cand = 0;
	c->seg_dots = 0;
	c->pct = 0;
	c->te_ok = 0;
	c->host_port = 0;
}

static __always_inline void bad(struct sl_l7_conn *c, __u8 reason)
{
	if (c->reason == SL_L7_R_ALLOWED)
		c->reason = reason;
}

/* The end of a path segment (at '/', ';', '?' or the end of the target). */
static __always_inline void seg_end(struct sl_l7_conn *c, __u8 ch)
{
	/* "." and ".." segments, and empty ones ("//"), resolve differently on different servers */
	if (c->seg_dots == 1 || c->seg_dots == 2)
		bad(c, SL_L7_R_AMBIGUOUS);
	else if (c->seg_dots == 0 && ch == '/' && c->path_len > 1)
		bad(c, SL_L7_R_AMBIGUOUS);
	c->seg_dots = 0;
}

static __always_inline void path_byte(struct sl_l7_conn *c, __u8 ch)
{
	__u16 n = c->path_len;

	/* absolute-form is for proxies only; authority-form ("host:port") for CONNECT only */
	if (n == 0 && ch != '/' && ch != '*' && c->method != SL_HTTP_CONNECT)
		bad(c, SL_L7_R_MALFORMED);
	if (n < SL_L7_PATH_MAX)
		c->path[n & (SL_L7_PATH_MAX - 1)] = (char)ch;
	if (n < 0xffff)
		c->path_len = n + 1;
	/* percent escapes of '.', '/' and '\\' hide dot segments and separators */
	if (c->pct == 1) {
		c->pct = ch == '2' ? 2 : ch == '5' ? 3 : 0;
	} else if (c->pct) {
		__u8 l = lower(ch);

		if ((c->pct == 2 && (l == 'e' || l == 'f')) || (c->pct == 3 && l == 'c'))
			bad(c, SL_L7_R_AMBIGUOUS);
		c->pct = 0;
	} else if (ch == '%') {
		c->pct = 1;
	}
	if (ch == '\\')
		bad(c, SL_L7_R_AMBIGUOUS);
	if (ch == '/' || ch == ';') {
		if (n > 0)
			seg_end(c, ch);
		c->seg_dots = 0;
	} else if (ch == '.' && c->seg_dots != 0xff) {
		c->seg_dots++;
	} else {
		c->seg_dots = 0xff;
	}
}

static __always_inline void value_byte(struct sl_l7_conn *c, __u8 ch)
{
	__u8 l = lower(ch);
	__u32 t = c->tok;

	switch (c->hdr) {
	case HDR_HOST:
		if (c->host_port)
			break;
		if (ch == ':' && (!t || c->host[0] != '[' || c->host[(t - 1) & (SL_L7_HOST_MAX - 1)] == ']')) {
			c->host_port = 1;
			break;
		}
		/* past SL_L7_HOST_MAX only counted: header_end makes it match no rule host */
		if (t < SL_L7_HOST_MAX)
			c->host[t & (SL_L7_HOST_MAX - 1)] = (char)l;
		c->tok = t < 255 ? t + 1 : t; /* saturates: tok is a byte */
		break;
	case HDR_CLEN:
		if (ch < '0' || ch > '9' || c->clen > (1ULL << 50)) {
			bad(c, SL_L7_R_MALFORMED);
			break;
		}
		c->clen = c->clen * 10 + (ch - '0');
		c->tok = t < 255 ? t + 1 : t; /* saturates: tok is a byte */
		break;
	case HDR_TE:
		if (t >= 7 || l != te_chunked[t & 7])
			c->te_ok = 0;
		c->tok = t < 255 ? t + 1 : t; /* saturates: tok is a byte */
		break;
	case HDR_CONN:
		/* "close" alone; a list with close in it is rare and only loses keep-alive */
		if (t >= 5 || l != conn_close[t & 7])
			c->te_ok = 0;
		c->tok = t < 255 ? t + 1 : t; /* saturates: tok is a byte */
		break;
	}
}

static __always_inline void header_end(struct sl_l7_conn *c)
{
	__u8 bit = 1u << c->hdr;

	if (c->hdr == HDR_OTHER)
		return;
	if (c->seen & bit) {
		/* a second Host or Content-Length could be read either way by the server */
		if (c->hdr != HDR_CONN && c->hdr != HDR_UPGRADE)
			bad(c, SL_L7_R_MALFORMED);
		return;
	}
	c->seen |= bit;
	switch (c->hdr) {
	case HDR_HOST:
		c->host_len = c->tok > SL_L7_HOST_MAX ? 0xff : c->tok; /* 0xff: no rule's */
		break;
	case HDR_CLEN:
		if (!c->tok)
			bad(c, SL_L7_R_MALFORMED);
		break;
	case HDR_TE:
		if (c->te_ok && c->tok == 7)
			c->chunked = 1;
		else
			bad(c, SL_L7_R_MALFORMED); /* only chunked frames a request the parser can follow */
		break;
	case HDR_CONN:
		if (c->te_ok && c->tok == 5)
			c->close = 1;
		break;
	case HDR_UPGRADE:
		c->upgrade = 1;
		break;
	}
}

static __always_inline void name_byte(struct sl_l7_conn *c, __u8 ch)
{
	__u8 l = lower(ch);
	__u32 t = c->tok, cand = c->cand;
	int h;

	if (!tchar(ch)) {
		bad(c, SL_L7_R_MALFORMED);
		return;
	}
	for (h = HDR_HOST; h < HDR_N; h++)
		if ((cand & (1u << h)) && (t >= hdr_lens[h] || hdr_names[h][t & 31] != l))
			cand &= ~(1u << h);
	c->cand = cand;
	c->tok = t + 1;
}

static __always_inline void name_end(struct sl_l7_conn *c)
{
	int h;

	c->hdr = HDR_OTHER;
	for (h = HDR_HOST; h < HDR_N; h++)
		if ((c->cand & (1u << h)) && c->tok == hdr_lens[h])
			c->hdr = h;
	c->tok = 0;
	c->te_ok = 1;
	c->host_port = 0;
}

static __always_inline void version_end(struct sl_l7_conn *c)
{
	const char *v = c->tmp;

	if (c->tok != 8 || v[0] != 'H' || v[1] != 'T' || v[2] != 'T' || v[3] != 'P' ||
	    v[4] != '/' || v[5] != '1' || v[6] != '.' || (v[7] != '0' && v[7] != '1')) {
		bad(c, SL_L7_R_MALFORMED); /* HTTP/2's preface lands here too: not parsed */
		return;
	}
	c->http_minor = v[7] - '0';
	if (!c->http_minor)
		c->close = 1;
}

/*
 * One byte of a head. Returns 1 once the head is complete (the byte was its last), else 0.
 */
static __always_inline int head_step(struct sl_l7_conn *c, __u8 ch)
{
	__u32 t = c->tok;

	switch (c->st) {
	case H_LEAD:
		if (ch == '\r' || ch == '\n')
			return 0;
		c->st = H_METHOD;
		__attribute__((fallthrough));
	case H_METHOD:
		if (ch == ' ') {
			if (!t)
				bad(c, SL_L7_R_MALFORMED);
			c->method = method_of(c->tmp, t);
			c->tok = 0;
			c->st = H_TARGET;
		} else if (!tchar(ch)) {
			bad(c, SL_L7_R_MALFORMED);
		} else {
			if (t < sizeof(c->tmp))
				c->tmp[t & 7] = (char)ch;
			c->tok = t < 255 ? t + 1 : t;
		}
		return 0;
	case H_TARGET:
	case H_QUERY:
		if (ch == ' ') {
			if (!c->path_len)
				bad(c, SL_L7_R_MALFORMED);
			else if (c->st == H_TARGET)
				seg_end(c, ' ');
			c->tok = 0;
			c->st = H_VERSION;
		} else if (ch <= ' ' || ch == 0x7f) {
			bad(c, SL_L7_R_MALFORMED);
		} else if (c->st == H_TARGET && (ch == '?' || ch == '#')) {
			if (c->path_len)
				seg_end(c, ch);
			else
				bad(c, SL_L7_R_MALFORMED);
			c->st = H_QUERY;
		} else if (c->st == H_TARGET) {
			path_byte(c, ch);
		}
		return 0;
	case H_VERSION:
		if (ch == '\r' || ch == '\n') {
			version_end(c);
			c->st = ch == '\r' ? H_RL_LF : H_LINE;
		} else {
			if (t < sizeof(c->tmp))
				c->tmp[t & 7] = (char)ch;
			c->tok = t < 255 ? t + 1 : t;
		}
		return 0;
	case H_RL_LF:
	case H_H_LF:
		if (ch != '\n')
			bad(c, SL_L7_R_MALFORMED);
		c->st = H_LINE;
		return 0;
	case H_LINE:
		if (ch == '\r') {
			c->st = H_END_LF;
			return 0;
		}
		if (ch == '\n')
			goto done;
		if (ch == ' ' || ch == '\t')
			bad(c, SL_L7_R_MALFORMED); /* obsolete line folding */
		c->tok = 0;
		c->cand = HDR_CAND_ALL;
		c->st = H_NAME;
		name_byte(c, ch);
		return 0;
	case H_NAME:
		if (ch == ':') {
			name_end(c);
			c->st = H_VWS;
		} else {
			name_byte(c, ch); /* also whitespace before ':': malformed (RFC 9112 5.1) */
		}
		return 0;
	case H_VWS:
		if (ch == ' ' || ch == '\t')
			return 0;
		c->st = H_VALUE;
		__attribute__((fallthrough));
	case H_VALUE:
		if (ch == '\r' || ch == '\n') {
			header_end(c);
			c->st = ch == '\r' ? H_H_LF : H_LINE;
		} else if (ch == ' ' || ch == '\t') {
			/* trailing whitespace ends a framing value; inside one it is malformed, and
			 * only then: the next non-space byte says which */
			if (c->hdr == HDR_CLEN || c->hdr == HDR_TE || c->hdr == HDR_CONN ||
			    c->hdr == HDR_HOST)
				c->te_ok |= 0x80;
		} else {
			if ((c->te_ok & 0x80) && c->hdr != HDR_OTHER) {
				if (c->hdr == HDR_CONN)
					c->te_ok = 0;
				else
					bad(c, SL_L7_R_MALFORMED);
			}
			value_byte(c, ch);
		}
		return 0;
	case H_END_LF:
		if (ch != '\n')
			bad(c, SL_L7_R_MALFORMED);
		goto done;
	}
	return 0;
done:
	c->st = H_DONE;
	if (c->chunked && (c->seen & (1u << HDR_CLEN)))
		bad(c, SL_L7_R_MALFORMED);
	return 1;
}

#endif

// SPDX-License-Identifier: Apache-2.0
#include "agent/telemetry/reqev.h"

#include <string.h>

size_t reqev_path(const struct sl_http_event *e, char *out, size_t len, bool *truncated)
{
	size_t n = e->path_len < SL_HT_EV_PATH ? e->path_len : SL_HT_EV_PATH, i;

	if (!len)
		return 0;
	*truncated = false;
	for (i = 0; i < n && i + 1 < len; i++) {
		unsigned char c = (unsigned char)e->path[i];

		if (c == ' ' || c == '\r' || c == '\n')
			break;
		if (c < 0x21 || c > 0x7e) /* not in a request-target */
			break;
		out[i] = (char)c;
	}
	if (i == n)
		*truncated = true; /* no SP within what was captured: the line goes on */
	out[i] = '\0';
	return i;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is invalid in traceparent */
}

static bool hex_field(const char *s, size_t n, uint8_t *out)
{
	bool nonzero = false;
	size_t i;

	for (i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
		nonzero |= out[i] != 0;
	}
	return nonzero;
}

bool reqev_trace(const struct sl_http_event *e, struct reqev_trace *t)
{
	const char *s = e->tp;
	size_t n = e->tp_len < SL_HT_EV_TP ? e->tp_len : SL_HT_EV_TP;
	uint8_t ver;

	if (n < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return false;
	if (hexval(s[0]) < 0 || hexval(s[1]) < 0)
		return false;
	ver = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
	if (ver == 0xff)
		return false;
	/* version 00 is exactly 55 characters; a later one may go on after a '-' */
	if (n > 55 && (ver == 0 || s[55] != '-'))
		return false;
	if (!hex_field(s + 3, 16, t->trace_id) || !hex_field(s + 36, 8, t->parent_id))
		return false;
	if (hexval(s[53]) < 0 || hexval(s[54]) < 0)
		return false;
	t->flags = (uint8_t)(hexval(s[53]) << 4 | hexval(s[54]));
	return true;
}

void reqev_hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

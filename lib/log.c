// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static enum log_level cur_level = LOG_LVL_INFO;

static const char *const level_names[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

int log_level_parse(const char *s, enum log_level *ret_lvl)
{
	unsigned int i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (s && strcmp(s, level_names[i]) == 0) {
			*ret_lvl = i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_msg(enum log_level lvl, const char *mod, const char *msg, const char *kvfmt, ...)
{
	char kv[1024] = "";
	va_list ap;

	if (lvl > cur_level)
		return;
	if (kvfmt && *kvfmt) {
		va_start(ap, kvfmt);
		vsnprintf(kv, sizeof(kv), kvfmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "level=%s mod=%s msg=\"%s\"%s%s\n", level_names[lvl], mod, msg,
		kv[0] ? " " : "", kv);
}

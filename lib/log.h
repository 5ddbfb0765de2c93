/* SPDX-License-Identifier: Apache-2.0 */
/* Levelled key=value logging to stderr: level=... mod=... msg="..." k=v ... */
#ifndef SL_LIB_LOG_H
#define SL_LIB_LOG_H

enum log_level {
	LOG_LVL_ERR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -EINVAL on anything else. */
int log_level_parse(const char *s, enum log_level *ret_lvl);

/*
 * mod names the module; fmt is the message followed, if wanted, by " key=value" pairs
 * written by the caller after the closing quote, e.g.
 *   log_info("maps", "update failed", "map=%s err=\"%s\"", name, strerror(-err));
 */
void log_msg(enum log_level lvl, const char *mod, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_err(mod, msg, ...)   log_msg(LOG_LVL_ERR, mod, msg, "" __VA_ARGS__)
#define log_warn(mod, msg, ...)  log_msg(LOG_LVL_WARN, mod, msg, "" __VA_ARGS__)
#define log_info(mod, msg, ...)  log_msg(LOG_LVL_INFO, mod, msg, "" __VA_ARGS__)
#define log_debug(mod, msg, ...) log_msg(LOG_LVL_DEBUG, mod, msg, "" __VA_ARGS__)

#endif

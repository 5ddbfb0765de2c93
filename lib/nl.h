/* SPDX-License-Identifier: Apache-2.0 */
/* rtnetlink queries (libmnl), in the calling thread's network namespace. */
#ifndef SL_LIB_NL_H
#define SL_LIB_NL_H

#include <stddef.h>

/* Looks a link up by name: its ifindex and IFLA_INFO_KIND ("veth", "bridge", "" if none). */
int nl_link_by_name(const char *ifname, int *ret_ifindex, char *kind, size_t kind_len)
	__attribute__((warn_unused_result));

#endif

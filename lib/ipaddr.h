/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SL_LIB_IPADDR_H
#define SL_LIB_IPADDR_H

#include <stdint.h>

struct ip_addr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t a[16];	  /* network byte order; IPv4 in the first 4 bytes */
};

/* Parses a textual IPv4 or IPv6 address (no prefix length). 0 or -EINVAL. */
int ip_parse(const char *s, struct ip_addr *ret_addr) __attribute__((warn_unused_result));

#endif

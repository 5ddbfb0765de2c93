// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "ipaddr.h"

int ip_parse(const char *s, struct ip_addr *ret_addr)
{
	struct ip_addr a = {};

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, a.a) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.a) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*ret_addr = a;
	return 0;
}

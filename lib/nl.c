// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "nl.h"

struct link_q {
	int ifindex;
	char *kind;
	size_t kind_len;
};

static int linkinfo_cb(const struct nlattr *attr, void *data)
{
	struct link_q *q = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(q->kind, q->kind_len, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == IFLA_LINKINFO)
		mnl_attr_parse_nested(attr, linkinfo_cb, data);
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct link_q *q = data;

	q->ifindex = ifm->ifi_index;
	mnl_attr_parse(nlh, sizeof(*ifm), attr_cb, data);
	return MNL_CB_OK;
}

int nl_link_by_name(const char *ifname, int *ret_ifindex, char *kind, size_t kind_len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct link_q q = { .kind = kind, .kind_len = kind_len };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	unsigned int seq = (unsigned int)time(NULL), portid;
	int r;

	if (kind_len)
		kind[0] = '\0';
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	r = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (r < 0) {
		r = -errno;
		goto out;
	}
	r = mnl_cb_run(buf, (size_t)r, seq, portid, link_cb, &q);
	if (r < 0) {
		r = -errno;
		goto out;
	}
	*ret_ifindex = q.ifindex;
	r = 0;
out:
	mnl_socket_close(nl);
	return r;
}

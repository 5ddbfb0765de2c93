/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Owns the skeletons: opens them with maps pinned under <root>/maps (reusing pins left by an
 * earlier agent), writes the load-time config, loads, pins programs under <root>/progs, swaps
 * every pinned link over to the new programs in place, and attaches the agent's own links
 * (sock_ops on the mesh cgroup, XDP on the node uplink). Nothing here detaches on exit.
 */
#ifndef SL_AGENT_LOADER_H
#define SL_AGENT_LOADER_H

#include <stddef.h>

/* max_entries of the pinned maps (0: the default from bpf/include/sl_abi.h). */
struct loader_map_sizes {
	unsigned int endpoints;
	unsigned int services;
	unsigned int backends;
	unsigned int conntrack;
	unsigned int affinity;
	unsigned int sock_rev;
	unsigned int maglev_services;
	unsigned int ipcache;
	unsigned int policy;
	unsigned int pol_ct;
	unsigned int l7_ports;
	unsigned int l7_rules;
	unsigned int l7_socks; /* sluice_l7_socks and sluice_l7_conn */
	unsigned int l4_flows; /* sluice_l4_flow */
	unsigned int l4_drops; /* sluice_l4_drop */
	unsigned int http_flows; /* sluice_http_flow */
	unsigned int http_stats; /* sluice_http_stats */
};

struct loader_opts {
	const char *bpffs_root;
	struct loader_map_sizes sizes;
	const char *cgroup_path;   /* mesh cgroup subtree for sock_ops; NULL: not attached */
	const char *uplink_ifname; /* node uplink for XDP; NULL: not attached */
	unsigned int log_level;
	unsigned int pol_events_per_sec; /* per CPU; 0: no policy events */
	unsigned int http_events_per_sec; /* per CPU; 0: no HTTP request events */
	int http_policy; /* load the HTTPPolicy programs (l7_http.bpf.c) */
	int l4_telemetry; /* sock_ops fills sluice_l4_flow (SL_CFG_F_L4_TELEMETRY) */
	int http_telemetry; /* tc fills sluice_http_stats (SL_CFG_F_HTTP_TELEMETRY) */
};

struct loader;

int loader_new(const struct loader_opts *opts, struct loader **ret_loader, char *err,
	       size_t errlen) __attribute__((warn_unused_result));
void loader_free(struct loader *l);

/* fd of a pinned map by name ("sluice_ep"), or -ENOENT. Owned by the loader. */
int loader_map_fd(const struct loader *l, const char *name);

/* Programs: names and the number of live links each has (for status and /metrics). */
size_t loader_prog_count(const struct loader *l);
const char *loader_prog_name(const struct loader *l, size_t i);
int loader_prog_links(const struct loader *l, size_t i);

/* Links re-pointed at the new programs during loader_new (an upgrade in place). */
int loader_links_updated(const struct loader *l);

/* max_entries of a map by name, or 0. */
unsigned int loader_map_capacity(const struct loader *l, const char *name);

/* How XDP is attached on the uplink: "link", "dispatcher", "native", "skb", or "" (none). */
const char *loader_xdp_mode(const struct loader *l);

/*
 * Whether HTTPPolicy is enforced: its programs loaded and attached to sluice_l7_socks. When not,
 * why (switched off in the config, or what the kernel lacks) is in loader_l7_error.
 */
int loader_l7_ready(const struct loader *l);
const char *loader_l7_error(const struct loader *l);
/* The sluice_l4_flush iterator's link (for bpf_iter_create), or -1 where it did not load. */
int loader_l4_flush_link(const struct loader *l);
/* The sluice_l7_reset iterator's link (for bpf_iter_create), or -1 where it did not load. */
int loader_l7_reset_link(const struct loader *l);

/*
 * Removes every pin under root: links detach, maps go; and detaches sluice_xdp_in from
 * uplink_ifname (may be NULL) where it was attached without a link. Used by --teardown.
 */
int loader_teardown(const char *bpffs_root, const char *uplink_ifname, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif

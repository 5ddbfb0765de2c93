/* SPDX-License-Identifier: Apache-2.0 */
/* bpffs layout and link helpers shared by the agent (loader) and the CNI plugin. */
#ifndef SL_LIB_BPFUTIL_H
#define SL_LIB_BPFUTIL_H

#include <stddef.h>

#define SL_BPFFS_DEFAULT "/sys/fs/bpf/sluice"

/*
 * Layout under the root:
 *   <root>/maps/<map>            pinned maps (libbpf pin-by-name)
 *   <root>/progs/<prog>          pinned programs, so the CNI plugin can attach them
 *   <root>/links/<dir>/<prog>    pinned links; <dir> is an interface name with '.' -> '-',
 *                                or "cgroup" for the mesh cgroup's links
 */
int bpfutil_path(char *buf, size_t len, const char *root, const char *kind, const char *dir,
		 const char *name) __attribute__((warn_unused_result));

/* mkdir -p; returns 0 or -errno. */
int bpfutil_mkdirs(const char *path) __attribute__((warn_unused_result));

/* Ensures the parent of root is on a bpffs, mounting one at /sys/fs/bpf when nothing is there. */
int bpfutil_ensure_bpffs(const char *root, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Removes a pin tree depth-first (unpinning links detaches them). Missing root is fine. */
int bpfutil_rmtree(const char *path) __attribute__((warn_unused_result));

enum tcx_dir {
	TCX_DIR_INGRESS,
	TCX_DIR_EGRESS,
};

/*
 * Attaches the pinned program <root>/progs/<prog> to ifindex (current netns) as a tcx link and
 * pins the link at <root>/links/<ifname>/<prog>. If such a link pin exists and is live, it is
 * updated to the pinned program instead (idempotent). Kernels without tcx (< 6.6) get -EOPNOTSUPP
 * and a message naming the feature.
 */
int bpfutil_tcx_attach(const char *root, const char *ifname, int ifindex, enum tcx_dir dir,
		       const char *prog, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Whether <root>/links/<ifname>/<prog> is a live link attached to an interface. */
int bpfutil_link_live(const char *root, const char *ifname, const char *prog);

/* Counts the link pins of prog under <root>/links/\*\/. */
int bpfutil_count_links(const char *root, const char *prog);

#endif

// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "agent/loader/kclock.h"
#include "bpfutil.h"
#include "log.h"
#include "loader.h"
#include "sl_abi.h"
#include "sock_lb.skel.h"
#include "l7_http.skel.h"
#include "l4_flush.skel.h"
#include "l7_reset.skel.h"
#include "sockops.skel.h"
#include "tc_pod.skel.h"
#include "xdp_node.skel.h"

#define LOADER_MAX_PROGS 32

struct loader {
	char root[PATH_MAX];
	struct tc_pod *tc;
	struct xdp_node *xdp;
	struct sockops *sockops;
	struct sock_lb *sock_lb;
	struct l7_http *l7; /* NULL: HTTPPolicy not enforced, l7_err says why */
	char l7_err[256];
	struct l7_reset *l7r;	       /* NULL: connections without room for a 403 are not reset */
	struct bpf_link *l7r_link;     /* its iterator, for bpf_iter_create */
	struct l4_flush *l4f;	       /* NULL: live connections' L4 counters move at close only */
	struct bpf_link *l4f_link;
	struct bpf_program *progs[LOADER_MAX_PROGS];
	char xdp_mode[16];
	size_t n_progs;
	int links_updated;
};

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	/* libbpf's output goes one level below ours: only shown at debug. */
	if (log_get_level() < LOG_LVL_DEBUG && level != LIBBPF_WARN)
		return 0;
	if (log_get_level() < LOG_LVL_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("libbpf", "libbpf", "text=\"%s\"", buf);
	return 0;
}

static int prog_pin(const struct loader *l, struct bpf_program *p, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int r;

	r = bpfutil_path(path, sizeof(path), l->root, "progs", NULL, bpf_program__name(p));
	if (r < 0)
		goto fail;
	snprintf(tmp, sizeof(tmp), "%s-new", path); /* bpffs rejects dots in names */
	(void)unlink(tmp);
	r = bpf_program__pin(p, tmp);
	if (r < 0)
		goto fail;
	/* rename over the old pin: the CNI plugin never sees the path missing */
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "pin program %s under %s/progs: %s", bpf_program__name(p), l->root,
		 strerror(-r));
	return r;
}

static struct bpf_program *prog_by_name(const struct loader *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n_progs; i++)
		if (!strcmp(bpf_program__name(l->progs[i]), name))
			return l->progs[i];
	return NULL;
}

/* Points every live pinned link at the newly loaded program of the same name. */
static int links_update(struct loader *l)
{
	char dir[PATH_MAX], sub[PATH_MAX + NAME_MAX + 2], path[PATH_MAX * 2 + NAME_MAX];
	struct bpf_program *p;
	struct dirent *de, *fe;
	DIR *d, *sd;
	int fd, r, n = 0;

	if (bpfutil_path(dir, sizeof(dir), l->root, "links", NULL, NULL) < 0)
		return 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		sd = opendir(sub);
		if (!sd)
			continue;
		while ((fe = readdir(sd))) {
			p = prog_by_name(l, fe->d_name);
			if (!p)
				continue;
			snprintf(path, sizeof(path), "%s/%s", sub, fe->d_name);
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;
			r = bpf_link_update(fd, bpf_program__fd(p), NULL);
			if (r < 0)
				log_warn("loader", "link update failed, leaving old program",
					 "link=%s err=\"%s\"", path, strerror(-r));
			else
				n++;
			close(fd);
		}
		closedir(sd);
	}
	closedir(d);
	return n;
}

static int attach_pinned(struct loader *l, const char *dir, struct bpf_program *p,
			 int target_fd_or_ifindex, bool is_xdp, char *err, size_t errlen)
{
	char ldir[PATH_MAX], lpath[PATH_MAX];
	struct bpf_link *link;
	int fd, r;

	r = bpfutil_path(ldir, sizeof(ldir), l->root, "links", dir, NULL);
	if (r == 0)
		r = bpfutil_path(lpath, sizeof(lpath), l->root, "links", dir, bpf_program__name(p));
	if (r < 0) {
		snprintf(err, errlen, "link path too long under %s", l->root);
		return r;
	}
	if (bpfutil_link_live(l->root, dir, bpf_program__name(p)))
		return 0; /* already attached (and updated by links_update) */
	fd = bpf_obj_get(lpath);
	if (fd >= 0) {
		close(fd);
		(void)unlink(lpath);
	}
	if (is_xdp)
		link = bpf_program__attach_xdp(p, target_fd_or_ifindex);
	else
		link = bpf_program__attach_cgroup(p, target_fd_or_ifindex);
	if (!link) {
		r = -errno;
		snprintf(err, errlen, "attach %s to %s: %s", bpf_program__name(p), dir,
			 strerror(-r));
		return r;
	}
	r = bpfutil_mkdirs(ldir);
	if (r == 0)
		r = bpf_link__pin(link, lpath);
	if (r < 0) {
		snprintf(err, errlen, "pin link %s: %s", lpath, strerror(-r));
		bpf_link__destroy(link);
		return r;
	}
	bpf_link__disconnect(link); /* the pin keeps it attached after we exit */
	bpf_link__destroy(link);
	return 0;
}

static int attach_cgroup(struct loader *l, const char *cg, char *err, size_t errlen)
{
	char type_path[PATH_MAX];
	struct bpf_program *p;
	int fd, r;

	/* The root cgroup has no cgroup.type: never attach there. */
	snprintf(type_path, sizeof(type_path), "%s/cgroup.type", cg);
	if (access(type_path, F_OK) < 0) {
		snprintf(err, errlen,
			 "cgroup %s is a cgroup2 root or not a cgroup; refusing to attach sock_ops there",
			 cg);
		return -EINVAL;
	}
	fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "open cgroup %s: %s", cg, strerror(-r));
		return r;
	}
	r = attach_pinned(l, "cgroup", l->sockops->progs.sluice_sockops, fd, false, err, errlen);
	bpf_object__for_each_program(p, l->sock_lb->obj) {
		if (r < 0)
			break;
		r = attach_pinned(l, "cgroup", p, fd, false, err, errlen);
	}
	close(fd);
	return r;
}

static void sizes_apply(struct bpf_object *obj, const struct loader_map_sizes *sz)
{
	static const struct {
		const char *map;
		size_t off;
	} tab[] = {
#define S(m, f) { m, offsetof(struct loader_map_sizes, f) }
		S("sluice_ep", endpoints), S("sluice_ep_stats", endpoints),
		S("sluice_svc", services), S("sluice_backend", backends),
		S("sluice_ct", conntrack), S("sluice_affinity", affinity),
		S("sluice_sk_rev", sock_rev), S("sluice_maglev", maglev_services),
		S("sluice_ipcache", ipcache), S("sluice_policy", policy),
		S("sluice_pol_ct", pol_ct),
		S("sluice_l7_port", l7_ports), S("sluice_l7_rule", l7_rules),
		S("sluice_l7_socks", l7_socks), S("sluice_l7_conn", l7_socks),
		S("sluice_l4_flow", l4_flows), S("sluice_l4_drop", l4_drops),
		S("sluice_http_flow", http_flows),
		S("sluice_http_stats", http_stats),
#undef S
	};
	struct bpf_map *m;
	unsigned int v;
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		memcpy(&v, (const char *)sz + tab[i].off, sizeof(v));
		m = bpf_object__find_map_by_name(obj, tab[i].map);
		if (m && v)
			(void)bpf_map__set_max_entries(m, v); /* only fails after load */
	}
}

/* The program named sluice_xdp_in attached to ifindex, as libxdp sees it, or NULL. */
static struct xdp_program *xdp_find_ours(struct xdp_multiprog *mp)
{
	struct xdp_program *xp;

	if (!mp || libxdp_get_error(mp))
		return NULL;
	if (xdp_multiprog__is_legacy(mp)) {
		xp = xdp_multiprog__main_prog(mp);
		return xp && !strcmp(xdp_program__name(xp), "sluice_xdp_in") ? xp : NULL;
	}
	for (xp = xdp_multiprog__next_prog(NULL, mp); xp; xp = xdp_multiprog__next_prog(xp, mp))
		if (!strcmp(xdp_program__name(xp), "sluice_xdp_in"))
			return xp;
	return NULL;
}

/*
 * XDP on the uplink through libxdp, so other XDP users share the interface through its
 * dispatcher; native mode where the driver has it, generic (skb) otherwise. Kernels that refuse
 * the dispatcher (it needs freplace programs) get the program attached alone, said once in the
 * log. An agent restart replaces its own program atomically. A link pinned by an older agent
 * keeps being used (links_update already switched it to the new program).
 */
static int attach_xdp(struct loader *l, const char *ifname, int ifindex, char *err,
		      size_t errlen)
{
	int fd = bpf_program__fd(l->xdp->progs.sluice_xdp_in), r;
	enum xdp_attach_mode mode = XDP_MODE_NATIVE;
	struct xdp_multiprog *mp;
	struct xdp_program *xp = NULL, *old;

	if (bpfutil_link_live(l->root, ifname, "sluice_xdp_in")) {
		snprintf(l->xdp_mode, sizeof(l->xdp_mode), "link");
		return 0;
	}
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	old = xdp_find_ours(mp);
	if (old && xdp_multiprog__is_legacy(mp)) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, xo, .old_prog_fd = xdp_program__fd(old));
		__u32 flags = XDP_FLAGS_REPLACE |
			      (xdp_multiprog__attach_mode(mp) == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE
									: XDP_FLAGS_DRV_MODE);

		r = bpf_xdp_attach(ifindex, fd, flags, &xo);
		snprintf(l->xdp_mode, sizeof(l->xdp_mode), "%s",
			 xdp_multiprog__attach_mode(mp) == XDP_MODE_SKB ? "skb" : "native");
		xdp_multiprog__close(mp);
		if (r < 0)
			goto fail;
		return 0;
	}
	if (old) {
		mode = xdp_multiprog__attach_mode(mp);
		r = xdp_program__detach(old, ifindex, mode, 0);
		if (r < 0) {
			xdp_multiprog__close(mp);
			goto fail;
		}
	}
	if (mp && !libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	xp = xdp_program__from_fd(fd);
	r = libxdp_get_error(xp);
	if (r) {
		xp = NULL;
		goto fail;
	}
	(void)xdp_program__set_chain_call_enabled(xp, XDP_PASS, true);
	r = xdp_program__attach(xp, ifindex, XDP_MODE_NATIVE, 0);
	if (r < 0) {
		mode = XDP_MODE_SKB;
		log_warn("loader", "native XDP refused, trying generic (skb) mode", "ifname=%s err=\"%s\"",
			 ifname, strerror(-r));
		r = xdp_program__attach(xp, ifindex, XDP_MODE_SKB, 0);
	}
	if (r < 0)
		goto fail;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (mp && !libxdp_get_error(mp) && xdp_multiprog__is_legacy(mp)) {
		snprintf(l->xdp_mode, sizeof(l->xdp_mode), "%s",
			 mode == XDP_MODE_SKB ? "skb" : "native");
		log_warn("loader",
			 "XDP dispatcher unavailable (the kernel refused its freplace program): "
			 "sluice_xdp_in attached alone, other XDP programs cannot share the interface",
			 "ifname=%s mode=%s", ifname, l->xdp_mode);
	} else {
		snprintf(l->xdp_mode, sizeof(l->xdp_mode), "dispatcher");
	}
	if (mp && !libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	xdp_program__close(xp);
	return 0;
fail:
	xdp_program__close(xp);
	snprintf(err, errlen, "attach sluice_xdp_in to %s: %s", ifname, strerror(-r));
	return r;
}

/*
 * The HTTPPolicy programs: loaded, pinned with the rest, and attached to sluice_l7_socks before
 * sock_ops can add a socket to it (a socket added before its map has programs is never parsed).
 * A kernel without what they need (sk_skb stream parsers, bpf_cast_to_kern_ctx, the BTF of
 * struct sk_skb_cb) leaves HTTPPolicy unenforced with the reason logged; everything else runs.
 */
/*
 * The L4 flush iterator (l4_flush.bpf.c), with L4 telemetry on. A tracing program: a kernel
 * may refuse it, and then a connection's bytes are added when it closes, as said in the log.
 */
static void l4_flush_load(struct loader *l, const struct loader_opts *opts, const char *maps_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps_dir);
	int r;

	if (!opts->l4_telemetry)
		return;
	l->l4f = l4_flush__open_opts(&oo);
	r = l->l4f ? 0 : -errno;
	if (!r) {
		l->l4f->rodata->sl_cfg.flags = SL_CFG_F_L4_TELEMETRY;
		l->l4f->rodata->sl_cfg.sk_slots_mask = SL_SK_SLOTS - 1;
		sizes_apply(l->l4f->obj, &opts->sizes);
		r = l4_flush__load(l->l4f);
	}
	if (!r) {
		l->l4f_link = bpf_program__attach_iter(l->l4f->progs.sluice_l4_flush, NULL);
		r = l->l4f_link ? 0 : -errno;
	}
	if (r < 0) {
		log_warn("loader",
			 "L4 counters of live connections not flushed: bytes, segments and "
			 "retransmissions are added when a connection closes",
			 "err=\"%s\"", strerror(-r));
		l4_flush__destroy(l->l4f);
		l->l4f = NULL;
	}
}

int loader_l4_flush_link(const struct loader *l)
{
	return l->l4f_link ? bpf_link__fd(l->l4f_link) : -1;
}

static void l7_load(struct loader *l, const struct loader_opts *opts, unsigned int hz,
		    const char *maps_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps_dir);
	struct bpf_program *p;
	int r, fd;

	if (!opts->http_policy) {
		snprintf(l->l7_err, sizeof(l->l7_err), "switched off (http_policy: 0 in the config)");
		return;
	}
	l->l7 = l7_http__open_opts(&oo);
	if (!l->l7) {
		snprintf(l->l7_err, sizeof(l->l7_err), "open BPF object l7_http: %s",
			 strerror(errno));
		return;
	}
	l->l7->rodata->sl_cfg.log_level = opts->log_level;
	l->l7->rodata->sl_cfg.ns_per_jiffy = kclock_ns_per_jiffy(hz);
	l->l7->rodata->sl_cfg.pol_events_per_sec = opts->pol_events_per_sec;
	l->l7->rodata->sl_cfg.sk_slots_mask = SL_SK_SLOTS - 1;
	sizes_apply(l->l7->obj, &opts->sizes);
	r = l7_http__load(l->l7);
	if (r < 0) {
		snprintf(l->l7_err, sizeof(l->l7_err),
			 "load BPF object l7_http: %s (this kernel needs sk_skb stream parsers, the "
			 "bpf_cast_to_kern_ctx kfunc (6.3+) and struct sk_skb_cb in its BTF)",
			 strerror(-r));
		goto fail;
	}
	fd = bpf_map__fd(l->l7->maps.sluice_l7_socks);
	if (bpf_prog_attach(bpf_program__fd(l->l7->progs.sluice_l7_parser), fd,
			    BPF_SK_SKB_STREAM_PARSER, 0) < 0 ||
	    bpf_prog_attach(bpf_program__fd(l->l7->progs.sluice_l7_verdict), fd,
			    BPF_SK_SKB_STREAM_VERDICT, 0) < 0) {
		snprintf(l->l7_err, sizeof(l->l7_err),
			 "attach the HTTPPolicy stream parser and verdict to sluice_l7_socks: %s",
			 strerror(errno));
		goto fail;
	}
	bpf_object__for_each_program(p, l->l7->obj)
		if (l->n_progs < LOADER_MAX_PROGS)
			l->progs[l->n_progs++] = p;
	/* the reset iterator is a tracing program: a kernel may refuse it and run the rest */
	l->l7r = l7_reset__open_opts(&oo);
	r = l->l7r ? 0 : -errno;
	if (!r) {
		sizes_apply(l->l7r->obj, &opts->sizes);
		r = l7_reset__load(l->l7r);
	}
	if (!r) {
		l->l7r_link = bpf_program__attach_iter(l->l7r->progs.sluice_l7_reset, NULL);
		r = l->l7r_link ? 0 : -errno;
	}
	if (r < 0) {
		log_warn("loader",
			 "HTTPPolicy cannot reset connections: a denied request too short for a 403 "
			 "is dropped and its connection left open",
			 "err=\"%s\"", strerror(-r));
		l7_reset__destroy(l->l7r);
		l->l7r = NULL;
	}
	return;
fail:
	l7_http__destroy(l->l7);
	l->l7 = NULL;
}

int loader_l7_reset_link(const struct loader *l)
{
	return l->l7r_link ? bpf_link__fd(l->l7r_link) : -1;
}

int loader_l7_ready(const struct loader *l)
{
	return l->l7 != NULL;
}

const char *loader_l7_error(const struct loader *l)
{
	return l->l7 ? NULL : l->l7_err;
}

int loader_new(const struct loader_opts *opts, struct loader **ret_loader, char *err,
	       size_t errlen)
{
	char maps_dir[PATH_MAX], progs_dir[PATH_MAX];
	struct loader *l;
	struct bpf_program *p;
	unsigned int ifindex, hz;
	int r;

	libbpf_set_print(libbpf_print_fn);
	hz = kclock_hz();
	if (hz)
		log_info("loader", "datapath clock: jiffies", "hz=%u", hz);
	else
		log_warn("loader",
			 "CONFIG_HZ unknown (no /boot/config-<release> or /proc/config.gz): "
			 "conntrack clock falls back to bpf_ktime_get_ns, about 40 ns a packet dearer",
			 "clock=%s", "ktime");
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->root, sizeof(l->root), "%s", opts->bpffs_root);
	r = bpfutil_ensure_bpffs(l->root, err, errlen);
	if (r < 0)
		goto err_free;
	if (bpfutil_path(maps_dir, sizeof(maps_dir), l->root, "maps", NULL, NULL) < 0 ||
	    bpfutil_path(progs_dir, sizeof(progs_dir), l->root, "progs", NULL, NULL) < 0) {
		snprintf(err, errlen, "bpffs root path too long: %s", l->root);
		r = -ENAMETOOLONG;
		goto err_free;
	}
	if ((r = bpfutil_mkdirs(maps_dir)) < 0 || (r = bpfutil_mkdirs(progs_dir)) < 0) {
		snprintf(err, errlen, "create %s: %s", maps_dir, strerror(-r));
		goto err_free;
	}

	{
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps_dir);

#define OPEN_LOAD(field, skel)                                                               \
	do {                                                                                  \
		l->field = skel##__open_opts(&oo);                                            \
		if (!l->field) {                                                              \
			r = -errno;                                                           \
			snprintf(err, errlen, "open BPF object %s: %s", #skel, strerror(-r)); \
			goto err_free;                                                        \
		}                                                                             \
		l->field->rodata->sl_cfg.log_level = opts->log_level;                         \
		l->field->rodata->sl_cfg.ns_per_jiffy = kclock_ns_per_jiffy(hz);               \
		l->field->rodata->sl_cfg.pol_events_per_sec = opts->pol_events_per_sec;        \
		l->field->rodata->sl_cfg.http_events_per_sec = opts->http_events_per_sec;      \
		l->field->rodata->sl_cfg.sk_slots_mask = SL_SK_SLOTS - 1;                      \
		l->field->rodata->sl_cfg.flags = (opts->l4_telemetry ? SL_CFG_F_L4_TELEMETRY : 0) | \
						 (opts->http_telemetry ? SL_CFG_F_HTTP_TELEMETRY : 0); \
		sizes_apply(l->field->obj, &opts->sizes);                                     \
		r = skel##__load(l->field);                                                   \
		if (r < 0) {                                                                  \
			snprintf(err, errlen,                                                 \
				 "load BPF object %s: %s (incompatible pinned map under %s?)", \
				 #skel, strerror(-r), maps_dir);                              \
			goto err_free;                                                        \
		}                                                                             \
		bpf_object__for_each_program(p, l->field->obj)                               \
			if (l->n_progs < LOADER_MAX_PROGS)                                    \
				l->progs[l->n_progs++] = p;                                   \
	} while (0)

		OPEN_LOAD(tc, tc_pod);
		OPEN_LOAD(xdp, xdp_node);
		OPEN_LOAD(sockops, sockops);
		OPEN_LOAD(sock_lb, sock_lb);
#undef OPEN_LOAD
	}
	l4_flush_load(l, opts, maps_dir);
	l7_load(l, opts, hz, maps_dir);
	if (!l->l7 && opts->http_policy)
		log_warn("loader", "HTTPPolicy not enforced", "err=\"%s\"", l->l7_err);

	for (size_t i = 0; i < l->n_progs; i++) {
		r = prog_pin(l, l->progs[i], err, errlen);
		if (r < 0)
			goto err_free;
	}
	l->links_updated = links_update(l);

	if (opts->cgroup_path) {
		r = attach_cgroup(l, opts->cgroup_path, err, errlen);
		if (r < 0)
			goto err_free;
	}
	if (opts->uplink_ifname) {
		ifindex = if_nametoindex(opts->uplink_ifname);
		if (!ifindex) {
			r = -errno;
			snprintf(err, errlen, "uplink %s: %s", opts->uplink_ifname, strerror(-r));
			goto err_free;
		}
		r = attach_xdp(l, opts->uplink_ifname, (int)ifindex, err, errlen);
		if (r < 0)
			goto err_free;
		r = bpfutil_tcx_attach(l->root, opts->uplink_ifname, (int)ifindex, TCX_DIR_EGRESS,
				       "sluice_tc_up", err, errlen);
		if (r < 0)
			goto err_free;
	}
	*ret_loader = l;
	return 0;

err_free:
	loader_free(l);
	return r;
}

void loader_free(struct loader *l)
{
	if (!l)
		return;
	tc_pod__destroy(l->tc);
	xdp_node__destroy(l->xdp);
	sockops__destroy(l->sockops);
	sock_lb__destroy(l->sock_lb);
	bpf_link__destroy(l->l7r_link);
	l7_reset__destroy(l->l7r);
	bpf_link__destroy(l->l4f_link);
	l4_flush__destroy(l->l4f);
	l7_http__destroy(l->l7);
	free(l);
}

int loader_map_fd(const struct loader *l, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(l->tc->obj, name);

	if (!m && l->l7) /* its own maps: sluice_l7_events */
		m = bpf_object__find_map_by_name(l->l7->obj, name);
	return m ? bpf_map__fd(m) : -ENOENT;
}

size_t loader_prog_count(const struct loader *l)
{
	return l->n_progs;
}

const char *loader_prog_name(const struct loader *l, size_t i)
{
	return i < l->n_progs ? bpf_program__name(l->progs[i]) : NULL;
}

int loader_prog_links(const struct loader *l, size_t i)
{
	int n;

	if (i >= l->n_progs)
		return 0;
	n = bpfutil_count_links(l->root, bpf_program__name(l->progs[i]));
	/* XDP through libxdp (dispatcher or netlink) has no link pin: count the attachment */
	if (l->xdp_mode[0] && strcmp(l->xdp_mode, "link") &&
	    !strcmp(bpf_program__name(l->progs[i]), "sluice_xdp_in"))
		n++;
	return n;
}

int loader_links_updated(const struct loader *l)
{
	return l->links_updated;
}

unsigned int loader_map_capacity(const struct loader *l, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(l->tc->obj, name);

	return m ? bpf_map__max_entries(m) : 0;
}

const char *loader_xdp_mode(const struct loader *l)
{
	return l->xdp_mode;
}

int loader_teardown(const char *bpffs_root, const char *uplink_ifname, char *err, size_t errlen)
{
	unsigned int ifindex = uplink_ifname ? if_nametoindex(uplink_ifname) : 0;
	struct xdp_multiprog *mp;
	struct xdp_program *xp;
	int r;

	if (ifindex) {
		mp = xdp_multiprog__get_from_ifindex((int)ifindex);
		xp = xdp_find_ours(mp);
		if (xp) {
			r = xdp_program__detach(xp, (int)ifindex, xdp_multiprog__attach_mode(mp), 0);
			if (r < 0)
				log_warn("loader", "XDP detach failed, continuing", "ifname=%s err=\"%s\"",
					 uplink_ifname, strerror(-r));
		}
		if (mp && !libxdp_get_error(mp))
			xdp_multiprog__close(mp);
	}
	r = bpfutil_rmtree(bpffs_root);
	if (r < 0)
		snprintf(err, errlen, "remove %s: %s", bpffs_root, strerror(-r));
	return r;
}

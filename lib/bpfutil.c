// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfutil.h"

/* Debian 12's UAPI headers predate tcx (Linux 6.6); the kernel ABI values are fixed. */
#define SL_BPF_TCX_INGRESS 46
#define SL_BPF_TCX_EGRESS  47
#define SL_BPF_LINK_TYPE_TCX 11

int bpfutil_path(char *buf, size_t len, const char *root, const char *kind, const char *dir,
		 const char *name)
{
	char d[NAME_MAX + 1] = "";
	int n;
	size_t i;

	if (dir) {
		snprintf(d, sizeof(d), "%s", dir);
		for (i = 0; d[i]; i++)
			if (d[i] == '.')
				d[i] = '-';
	}
	if (dir && name)
		n = snprintf(buf, len, "%s/%s/%s/%s", root, kind, d, name);
	else if (dir)
		n = snprintf(buf, len, "%s/%s/%s", root, kind, d);
	else if (name)
		n = snprintf(buf, len, "%s/%s/%s", root, kind, name);
	else
		n = snprintf(buf, len, "%s/%s", root, kind);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int bpfutil_mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	char *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int is_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st) < 0)
		return -errno;
	return st.f_type == BPF_FS_MAGIC;
}

int bpfutil_ensure_bpffs(const char *root, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	char *slash;
	int r;

	snprintf(parent, sizeof(parent), "%s", root);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	r = is_bpffs(parent);
	if (r == 1)
		return bpfutil_mkdirs(root);
	if (strcmp(parent, "/sys/fs/bpf") != 0) {
		snprintf(err, errlen, "%s is not on a bpf filesystem (mount -t bpf bpf %s)", root,
			 parent);
		return -ENOTDIR;
	}
	if (mount("bpf", parent, "bpf", 0, "mode=0700") < 0) {
		r = -errno;
		snprintf(err, errlen, "mount bpffs at %s: %s", parent, strerror(-r));
		return r;
	}
	return bpfutil_mkdirs(root);
}

int bpfutil_rmtree(const char *path)
{
	char child[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int err = 0, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		r = bpfutil_rmtree(child);
		if (r < 0 && !err)
			err = r;
	}
	closedir(d);
	if (rmdir(path) < 0 && !err)
		err = -errno;
	return err;
}

static int link_is_live(int fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return 0;
	/* A link whose interface went away stays pinned but detached (ifindex 0). */
	if (info.type == SL_BPF_LINK_TYPE_TCX || info.type == BPF_LINK_TYPE_XDP) {
		/* tcx and xdp info both start with ifindex */
		return info.xdp.ifindex != 0;
	}
	return 1;
}

int bpfutil_link_live(const char *root, const char *ifname, const char *prog)
{
	char path[PATH_MAX];
	int fd, live;

	if (bpfutil_path(path, sizeof(path), root, "links", ifname, prog) < 0)
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	live = link_is_live(fd);
	close(fd);
	return live;
}

int bpfutil_tcx_attach(const char *root, const char *ifname, int ifindex, enum tcx_dir dir,
		       const char *prog, char *err, size_t errlen)
{
	char prog_path[PATH_MAX], link_dir[PATH_MAX], link_path[PATH_MAX];
	int prog_fd, link_fd, r;

	r = bpfutil_path(prog_path, sizeof(prog_path), root, "progs", NULL, prog);
	if (r < 0)
		goto err_path;
	r = bpfutil_path(link_dir, sizeof(link_dir), root, "links", ifname, NULL);
	if (r < 0)
		goto err_path;
	r = bpfutil_path(link_path, sizeof(link_path), root, "links", ifname, prog);
	if (r < 0)
		goto err_path;

	prog_fd = bpf_obj_get(prog_path);
	if (prog_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "open pinned program %s: %s (is sluice-agent running?)",
			 prog_path, strerror(-r));
		return r;
	}

	link_fd = bpf_obj_get(link_path);
	if (link_fd >= 0) {
		if (link_is_live(link_fd)) {
			r = bpf_link_update(link_fd, prog_fd, NULL);
			if (r < 0)
				snprintf(err, errlen, "update link %s: %s", link_path, strerror(-r));
			goto out_close;
		}
		close(link_fd);
		(void)unlink(link_path); /* stale pin of a deleted interface */
	}

	link_fd = bpf_link_create(prog_fd, ifindex,
				  dir == TCX_DIR_INGRESS ? SL_BPF_TCX_INGRESS : SL_BPF_TCX_EGRESS,
				  NULL);
	if (link_fd < 0) {
		r = link_fd;
		if (r == -EINVAL || r == -EOPNOTSUPP) {
			snprintf(err, errlen,
				 "attach %s to %s: tcx links not supported by this kernel (need Linux 6.6+): %s",
				 prog, ifname, strerror(-r));
			r = -EOPNOTSUPP;
		} else {
			snprintf(err, errlen, "attach %s to %s (ifindex %d): %s", prog, ifname,
				 ifindex, strerror(-r));
		}
		close(prog_fd);
		return r;
	}
	r = bpfutil_mkdirs(link_dir);
	if (r == 0 && bpf_obj_pin(link_fd, link_path) < 0)
		r = -errno;
	if (r < 0)
		snprintf(err, errlen, "pin link %s: %s", link_path, strerror(-r));
out_close:
	close(link_fd);
	close(prog_fd);
	return r;

err_path:
	snprintf(err, errlen, "bpffs path too long under %s", root);
	return r;
}

int bpfutil_count_links(const char *root, const char *prog)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	int n = 0, fd;
	DIR *d;

	if (bpfutil_path(dir, sizeof(dir), root, "links", NULL, NULL) < 0)
		return 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/%s", dir, de->d_name, prog) >=
		    (int)sizeof(path))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		n += link_is_live(fd);
		close(fd);
	}
	closedir(d);
	return n;
}

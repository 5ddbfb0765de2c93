// SPDX-License-Identifier: Apache-2.0
/*
 * bpfstats: what the BPF programs named sluice_* cost while a command runs, from the kernel's
 * own run-time statistics (what `bpftool prog` shows as run_time_ns and run_cnt).
 *
 *   bpfstats CMD [ARG]...
 *
 * Statistics are switched on with BPF_ENABLE_STATS for as long as this process holds the fd,
 * so they never stay on after it exits (kernel.bpf_stats_enabled is left alone). It snapshots
 * every program's counters, runs CMD (its output goes where this process's goes), snapshots
 * again and prints one line per program name on stderr:
 *   bpfstats prog=NAME run_time_ns=.. run_cnt=..
 * (the increase during CMD, summed over programs of that name), then exits with CMD's status.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#define MAX_PROGS 256

struct snap {
	__u32 id;
	char name[BPF_OBJ_NAME_LEN];
	__u64 ns, cnt;
};

static size_t snapshot(struct snap *s)
{
	struct bpf_prog_info info;
	__u32 id = 0, len;
	size_t n = 0;
	int fd;

	while (n < MAX_PROGS && bpf_prog_get_next_id(id, &id) == 0) {
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    !strncmp(info.name, "sluice_", 7)) {
			s[n].id = id;
			memcpy(s[n].name, info.name, sizeof(s[n].name));
			s[n].ns = info.run_time_ns;
			s[n].cnt = info.run_cnt;
			n++;
		}
		close(fd);
	}
	return n;
}

int main(int argc, char **argv)
{
	static struct snap a[MAX_PROGS], b[MAX_PROGS];
	size_t na, nb, i, j, k;
	int sfd, st = 0;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: bpfstats CMD [ARG]...\n");
		return 2;
	}
	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (sfd < 0) {
		fprintf(stderr, "bpfstats: BPF_ENABLE_STATS: %s\n", strerror(errno));
		return 1;
	}
	na = snapshot(a);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(sfd);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "bpfstats: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	nb = snapshot(b);
	close(sfd);
	/* per name: the increase of every program alive both times */
	for (i = 0; i < nb; i++) {
		__u64 ns = 0, cnt = 0;
		bool seen = false;

		for (k = 0; k < i; k++)
			if (!strcmp(b[k].name, b[i].name))
				seen = true;
		if (seen)
			continue;
		for (k = i; k < nb; k++) {
			if (strcmp(b[k].name, b[i].name))
				continue;
			for (j = 0; j < na; j++)
				if (a[j].id == b[k].id) {
					ns += b[k].ns - a[j].ns;
					cnt += b[k].cnt - a[j].cnt;
				}
		}
		fprintf(stderr, "bpfstats prog=%s run_time_ns=%llu run_cnt=%llu\n", b[i].name,
			(unsigned long long)ns, (unsigned long long)cnt);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

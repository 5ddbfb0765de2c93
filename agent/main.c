// SPDX-License-Identifier: Apache-2.0
/* sluice-agent: loads and pins the datapath, turns desired state into map writes. */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "agent/api/server.h"
#include "agent/loader/loader.h"
#include "apiclient.h"
#include "bpfutil.h"
#include "fileio.h"
#include "log.h"
#include "manifest.h"
#include "sl_abi.h"

#define ERRLEN 1024
#define CONFIG_MAX (1u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-agent [OPTIONS]\n"
		"Loads Sluice's BPF programs, pins them under a bpffs root, and keeps the maps\n"
		"in step with the desired state (sluice apply, sluice lab, the CNI plugin).\n\n"
		"  -c, --config FILE         YAML config (keys as the long options, '-' as '_')\n"
		"      --bpffs-root DIR      pin root (default %s)\n"
		"      --api-socket PATH     local API socket (default %s)\n"
		"      --metrics-address A   /metrics listen address, host:port or \"off\"\n"
		"                            (default 127.0.0.1:9464)\n"
		"      --state-file PATH     desired state kept across restarts\n"
		"                            (default /var/lib/sluice/state.json)\n"
		"      --cgroup PATH         mesh cgroup subtree for sock_ops (never the root)\n"
		"      --uplink IFNAME       node uplink for XDP\n"
		"      --netns PATH          enter this network namespace after opening listeners\n"
		"      --log-level LEVEL     error, warn, info (default) or debug\n"
		"      --reconcile-interval S  seconds between drift repairs (default 10)\n"
		"      --teardown            remove every pin (detaches the datapath) and exit\n"
		"  -h, --help                this text\n"
		"  -V, --version             print the version\n",
		SL_BPFFS_DEFAULT, API_DEFAULT_SOCK);
}

static int set_str(char *dst, size_t len, const char *v, const char *what)
{
	if (strlen(v) >= len) {
		log_err("agent", "value too long", "option=%s max=%zu", what, len - 1);
		return -EINVAL;
	}
	snprintf(dst, len, "%s", v);
	return 0;
}

#define CFG_SET(cfg, field, v, what) set_str((cfg)->field, sizeof((cfg)->field), v, what)

static bool is_prime(unsigned long n)
{
	unsigned long d;

	if (n < 2)
		return false;
	for (d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

/*
 * Numeric keys: map sizes and the Maglev table size. Returns 1 when it was one of them, 0 when
 * not, -EINVAL with a logged error naming key and value when it was but the value is bad.
 */
static int config_number(const char *path, const cJSON *it, struct agent_config *cfg)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned long min, max;
	} keys[] = {
#define N(k, f, lo, hi) { k, offsetof(struct agent_config, f), lo, hi }
		N("map_size_endpoints", sizes.endpoints, 16, 1u << 24),
		N("map_size_services", sizes.services, 16, 1u << 24),
		N("map_size_backends", sizes.backends, 16, 1u << 26),
		N("map_size_conntrack", sizes.conntrack, 1024, 1u << 26),
		N("map_size_affinity", sizes.affinity, 16, 1u << 24),
		N("map_size_sock_rev", sizes.sock_rev, 1024, 1u << 26),
		N("map_size_maglev_services", sizes.maglev_services, 1, 1u << 16),
		N("map_size_ipcache", sizes.ipcache, 16, 1u << 24),
		N("map_size_policy", sizes.policy, 16, 1u << 26),
		N("map_size_policy_conntrack", sizes.pol_ct, 1024, 1u << 26),
		N("map_size_http_policy_ports", sizes.l7_ports, 16, 1u << 24),
		N("map_size_http_policy_rules", sizes.l7_rules, 64, 1u << 26),
		N("map_size_http_policy_sockets", sizes.l7_socks, 16, 1u << 24),
		N("policy_events_per_sec", policy_events_per_sec, 0, 1000000),
		N("policy_track_flows", policy_track_flows, 0, 1),
		N("http_policy", http_policy, 0, 1),
		N("map_size_l4_flows", sizes.l4_flows, 16, 1u << 24),
		N("map_size_l4_drops", sizes.l4_drops, 16, 1u << 24),
		N("l4_telemetry", l4_telemetry, 0, 1),
		N("http_telemetry", http_telemetry, 0, 1),
		N("http_events_per_sec", http_events_per_sec, 0, 1000000),
		N("map_size_http_flows", sizes.http_flows, 16, 1u << 24),
		N("map_size_http_stats", sizes.http_stats, 16, 1u << 24),
		N("telemetry_series_limit", telemetry_series_limit, 1, 1000000),
		N("otlp_interval_ms", otlp_interval_ms, 100, 3600000),
		N("otlp_timeout_ms", otlp_timeout_ms, 100, 60000),
		N("otlp_queue", otlp_queue, 1, 1024),
		/* a table must be larger than a service's backends: the first prime above 1024 */
		N("maglev_table_size", maglev_table_size, 1031, SL_MAGLEV_MAX),
#undef N
	};
	unsigned long v;
	char *end;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(it->string, keys[i].key))
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return 0;
	if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble == (double)(unsigned long)it->valuedouble) {
		v = (unsigned long)it->valuedouble;
	} else if (cJSON_IsString(it)) {
		errno = 0;
		v = strtoul(it->valuestring, &end, 10);
		if (errno || end == it->valuestring || *end)
			v = 0;
	} else {
		v = 0;
	}
	if (v < keys[i].min || v > keys[i].max) {
		log_err("agent", "bad config value", "file=%s key=%s want=\"integer %lu..%lu\"", path,
			it->string, keys[i].min, keys[i].max);
		return -EINVAL;
	}
	if (!strcmp(it->string, "maglev_table_size") && !is_prime(v)) {
		log_err("agent", "bad config value", "file=%s key=%s value=%lu want=prime", path,
			it->string, v);
		return -EINVAL;
	}
	*(unsigned int *)((char *)cfg + keys[i].off) = (unsigned int)v;
	return 1;
}

static int config_load(const char *path, struct agent_config *cfg)
{
	static const struct {
		const char *key;
		size_t off, len;
	} keys[] = {
#define K(k, f) { k, offsetof(struct agent_config, f), sizeof(((struct agent_config *)0)->f) }
		K("bpffs_root", bpffs_root), K("api_socket", api_socket),
		K("metrics_address", metrics_addr), K("state_file", state_file),
		K("cgroup", cgroup), K("uplink", uplink), K("netns", netns),
		K("log_level", log_level), K("telemetry_labels", telemetry_labels),
		K("otlp_endpoint", otlp_endpoint),
#undef K
	};
	char err[ERRLEN], *buf = NULL;
	cJSON *docs = NULL, *doc, *it;
	size_t i, n;
	int r = 0;

	buf = fileio_read_path(path, CONFIG_MAX, &n);
	if (!buf) {
		r = -errno;
		log_err("agent", "cannot read config", "file=%s err=\"%s\"", path, strerror(-r));
		return r;
	}
	r = manifest_parse(buf, n, path, &docs, err, sizeof(err));
	free(buf);
	if (r < 0) {
		log_err("agent", "bad config", "err=\"%s\"", err);
		return r;
	}
	doc = cJSON_GetArrayItem(docs, 0);
	cJSON_ArrayForEach(it, doc) {
		r = config_number(path, it, cfg);
		if (r < 0)
			break;
		if (r > 0) {
			r = 0;
			continue;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(it->string, keys[i].key))
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			log_err("agent", "unknown config key", "file=%s key=%s", path, it->string);
			r = -EINVAL;
			break;
		}
		if (!cJSON_IsString(it)) {
			log_err("agent", "config value must be a string", "file=%s key=%s", path,
				it->string);
			r = -EINVAL;
			break;
		}
		r = set_str((char *)cfg + keys[i].off, keys[i].len, it->valuestring, it->string);
		if (r < 0)
			break;
	}
	cJSON_Delete(docs);
	return r;
}

static int enter_netns(const char *path)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_err("agent", "cannot open netns", "netns=%s err=\"%s\"", path, strerror(-r));
		return r;
	}
	r = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		log_err("agent", "cannot enter netns", "netns=%s err=\"%s\"", path, strerror(-r));
	return r;
}

static int run_loop(struct agent *a, int interval)
{
	struct itimerspec its = { .it_interval = { .tv_sec = interval },
				  .it_value = { .tv_sec = interval } };
	struct epoll_event ev = { .events = EPOLLIN }, got;
	struct signalfd_siginfo si;
	sigset_t mask;
	int sfd, tfd, ep, r = 0;
	uint64_t ticks;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) {
		r = -errno;
		goto out;
	}
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	for (;;) {
		if (epoll_wait(ep, &got, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (got.data.fd == tfd) {
			if (read(tfd, &ticks, sizeof(ticks)) < 0)
				continue;
			agent_reconcile(a, "timer"); /* logged inside; retried next tick */
			continue;
		}
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			agent_reconcile(a, "sighup");
			continue;
		}
		log_info("agent", "exiting, datapath stays attached", "signal=%u", si.ssi_signo);
		break;
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (ep >= 0)
		close(ep);
	return r;
}

int main(int argc, char **argv)
{
	enum { O_BPFFS = 256, O_SOCK, O_METRICS, O_STATE, O_CGROUP, O_UPLINK, O_NETNS, O_LOG,
	       O_TEARDOWN, O_INTERVAL };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "bpffs-root", required_argument, NULL, O_BPFFS },
		{ "api-socket", required_argument, NULL, O_SOCK },
		{ "metrics-address", required_argument, NULL, O_METRICS },
		{ "state-file", required_argument, NULL, O_STATE },
		{ "cgroup", required_argument, NULL, O_CGROUP },
		{ "uplink", required_argument, NULL, O_UPLINK },
		{ "netns", required_argument, NULL, O_NETNS },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "reconcile-interval", required_argument, NULL, O_INTERVAL },
		{ "teardown", no_argument, NULL, O_TEARDOWN },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	struct agent_config cfg = {}, flags = {};
	struct server *api = NULL, *metrics = NULL;
	struct agent *a = NULL;
	char err[ERRLEN] = "", state_dir[256], *slash;
	const char *config = NULL;
	bool teardown = false;
	int c, r, api_fd = -1, met_fd = -1, interval = 10;
	enum log_level lvl;
	sigset_t mask;

	/*
	 * One malloc arena: the API thread builds and frees hundreds of megabytes of parse trees
	 * on a big apply, and a per-thread arena keeps their pages resident after malloc_trim. The
	 * agent's threads take one lock for all state anyway, so they gain nothing from more.
	 */
	mallopt(M_ARENA_MAX, 1);
	/*
	 * No fastbins: a big apply frees a million small cJSON nodes at once, and with fastbins
	 * glibc merges all of them in one malloc_consolidate on the next large request (about a
	 * tenth of an apply of 10,000 Services, bench/README.md). Without them each free merges as
	 * it goes, which costs less in all; tcache still serves the small sizes.
	 */
	mallopt(M_MXFAST, 0);

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case O_BPFFS: r = CFG_SET(&flags, bpffs_root, optarg, "--bpffs-root"); goto chk;
		case O_SOCK: r = CFG_SET(&flags, api_socket, optarg, "--api-socket"); goto chk;
		case O_METRICS: r = CFG_SET(&flags, metrics_addr, optarg, "--metrics-address"); goto chk;
		case O_STATE: r = CFG_SET(&flags, state_file, optarg, "--state-file"); goto chk;
		case O_CGROUP: r = CFG_SET(&flags, cgroup, optarg, "--cgroup"); goto chk;
		case O_UPLINK: r = CFG_SET(&flags, uplink, optarg, "--uplink"); goto chk;
		case O_NETNS: r = CFG_SET(&flags, netns, optarg, "--netns"); goto chk;
		case O_LOG: r = CFG_SET(&flags, log_level, optarg, "--log-level"); goto chk;
		case O_INTERVAL:
			interval = atoi(optarg);
			if (interval < 1) {
				fprintf(stderr, "sluice-agent: --reconcile-interval: want seconds >= 1, got \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case O_TEARDOWN: teardown = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sluice-agent %s\n", SLUICE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
		continue;
chk:
		if (r < 0)
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-agent: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	snprintf(cfg.bpffs_root, sizeof(cfg.bpffs_root), "%s", SL_BPFFS_DEFAULT);
	snprintf(cfg.api_socket, sizeof(cfg.api_socket), "%s", API_DEFAULT_SOCK);
	snprintf(cfg.metrics_addr, sizeof(cfg.metrics_addr), "127.0.0.1:9464");
	cfg.policy_events_per_sec = 1000;
	cfg.policy_track_flows = 1;
	cfg.http_policy = 1;
	cfg.l4_telemetry = 1;
	cfg.http_telemetry = 1;
	cfg.http_events_per_sec = 1000;
	cfg.otlp_interval_ms = 10000;
	cfg.otlp_timeout_ms = 2000;
	cfg.otlp_queue = 8;
	snprintf(cfg.state_file, sizeof(cfg.state_file), "/var/lib/sluice/state.json");
	snprintf(cfg.log_level, sizeof(cfg.log_level), "info");
	if (config && config_load(config, &cfg) < 0)
		return 2;
#define OVERRIDE(f) if (flags.f[0]) memcpy(cfg.f, flags.f, sizeof(cfg.f))
	OVERRIDE(bpffs_root); OVERRIDE(api_socket); OVERRIDE(metrics_addr); OVERRIDE(state_file);
	OVERRIDE(cgroup); OVERRIDE(uplink); OVERRIDE(netns); OVERRIDE(log_level);
#undef OVERRIDE
	if (log_level_parse(cfg.log_level, &lvl) < 0) {
		fprintf(stderr, "sluice-agent: log level: want error|warn|info|debug, got \"%s\"\n",
			cfg.log_level);
		return 2;
	}
	log_set_level(lvl);

	if (teardown) {
		/* the uplink lives in --netns: enter it so XDP can be detached there */
		if (cfg.netns[0] && enter_netns(cfg.netns) < 0)
			return 1;
		r = loader_teardown(cfg.bpffs_root, cfg.uplink[0] ? cfg.uplink : NULL, err,
				    sizeof(err));
		(void)unlink(cfg.state_file);
		(void)unlink(cfg.api_socket);
		if (r < 0) {
			log_err("agent", "teardown failed", "err=\"%s\"", err);
			return 1;
		}
		log_info("agent", "datapath removed", "bpffs=%s", cfg.bpffs_root);
		return 0;
	}

	snprintf(state_dir, sizeof(state_dir), "%s", cfg.state_file);
	slash = strrchr(state_dir, '/');
	if (slash && slash != state_dir) {
		*slash = '\0';
		if (bpfutil_mkdirs(state_dir) < 0)
			log_warn("agent", "cannot create state directory, state will not persist",
				 "dir=%s", state_dir);
	}

	/* Block the signals before any thread starts, so they all go to the signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Listeners first, in the caller's namespace: /metrics stays on the host's loopback. */
	if (cfg.metrics_addr[0] && strcmp(cfg.metrics_addr, "off") != 0) {
		met_fd = server_listen_tcp(cfg.metrics_addr, err, sizeof(err));
		if (met_fd < 0)
			goto fail;
	}
	api_fd = server_listen_unix(cfg.api_socket, err, sizeof(err));
	if (api_fd < 0)
		goto fail;
	if (cfg.netns[0] && enter_netns(cfg.netns) < 0)
		goto fail_quiet;

	r = agent_new(&cfg, &a, err, sizeof(err));
	if (r < 0)
		goto fail;
	agent_reconcile(a, "startup");
	r = server_start(SERVER_API, api_fd, a, &api, err, sizeof(err));
	if (r < 0)
		goto fail;
	api_fd = -1;
	if (met_fd >= 0) {
		r = server_start(SERVER_METRICS, met_fd, a, &metrics, err, sizeof(err));
		if (r < 0)
			goto fail;
		met_fd = -1;
	}
	log_info("agent", "ready", "version=%s api=%s metrics=%s", SLUICE_VERSION,
		 cfg.api_socket, cfg.metrics_addr[0] ? cfg.metrics_addr : "off");
	r = run_loop(a, interval);
	server_stop(api);
	server_stop(metrics);
	agent_free(a);
	return r < 0 ? 1 : 0;

fail:
	log_err("agent", "start failed", "err=\"%s\"", err);
fail_quiet:
	server_stop(api);
	server_stop(metrics);
	agent_free(a);
	if (api_fd >= 0)
		close(api_fd);
	if (met_fd >= 0)
		close(met_fd);
	return 1;
}

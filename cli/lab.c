// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice lab`: Kubernetes-less pods on one machine. The lab's node is a network namespace
 * holding a bridge (made by the containernetworking bridge plugin), the pods' host-side veths
 * and an uplink veth to an "outside" namespace. Each Pod is a network namespace wired by the
 * real CNI plugins (loopback, then bridge with host-local IPAM, then sluice-cni chained, called
 * the way a runtime calls them) and its command runs as an ordinary process in its own cgroup.
 * Nothing here touches the machine's own interfaces, root cgroup or iptables.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "apiclient.h"
#include "bpfutil.h"
#include "cli/lab.h"
#include "fileio.h"
#include "manifest.h"

#define LAB_RUN_DIR	"/run/sluice/lab"
#define LAB_POD_CIDR	"10.244.0.0/24"
#define LAB_UPLINK	"sl-up"
#define LAB_NODE_UP_IP	"198.18.0.1/30" /* RFC 2544 benchmarking range: never routed */
#define LAB_OUT_IP	"198.18.0.2/30"
#define LAB_POD_CIDR6	"fd00:10:244::/64" /* ULA: pods are dual-stack */
#define LAB_NODE_UP_IP6	"fd00:198:18::1/64"
#define LAB_OUT_IP6	"fd00:198:18::2/64"
#define LAB_BRIDGE	"slbr0"
#define LAB_MAX_FILE	(8u << 20)

struct lab {
	char name[32];
	char dir[256];
	char bpffs[256];
	char sock[320];
	char metrics[64];
	char agent_config[256]; /* sluice-agent --config, or "" */
	char cgroup[256];
	char node_ns[64];
	char out_ns[64];
	char bindir[256];
	char workdir[256]; /* pods start here: the manifest's directory */
	cJSON *state; /* lab.json */
};

static int lab_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int lab_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 1;
}

/* --- small process helpers ----------------------------------------------------------------- */

static int netns_enter(const char *name)
{
	char path[PATH_MAX];
	int fd, r;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Runs argv (PATH lookup), optionally inside netns, and waits. Quiet unless it fails. */
static int run(const char *netns, const char *const argv[])
{
	int st, pfd[2];
	char out[4096];
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		if (netns && netns_enter(netns) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		int i;

		fprintf(stderr, "lab: command failed:");
		for (i = 0; argv[i]; i++)
			fprintf(stderr, " %s", argv[i]);
		fprintf(stderr, "\n%s", out);
		return -EIO;
	}
	return 0;
}

#define RUN(ns, ...) run(ns, (const char *const[]){ __VA_ARGS__, NULL })

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* In a forked child: stdout and stderr append to log, stdin reads /dev/null. */
static void stdio_to(const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		dup2(fd, 0);
}

/* --- state file ---------------------------------------------------------------------------- */

static void lab_paths(struct lab *l, const char *name, const char *bpffs, const char *sock,
		      const char *metrics)
{
	bool dflt = !strcmp(name, "default");

	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->dir, sizeof(l->dir), "%s/%s", LAB_RUN_DIR, name);
	if (bpffs)
		snprintf(l->bpffs, sizeof(l->bpffs), "%s", bpffs);
	else if (dflt)
		snprintf(l->bpffs, sizeof(l->bpffs), "%s", SL_BPFFS_DEFAULT);
	else
		snprintf(l->bpffs, sizeof(l->bpffs), "%s-%s", SL_BPFFS_DEFAULT, name);
	if (sock)
		snprintf(l->sock, sizeof(l->sock), "%s", sock);
	else if (dflt)
		snprintf(l->sock, sizeof(l->sock), "%s", API_DEFAULT_SOCK);
	else
		snprintf(l->sock, sizeof(l->sock), "%s/agent.sock", l->dir);
	snprintf(l->metrics, sizeof(l->metrics), "%s",
		 metrics ? metrics : dflt ? "127.0.0.1:9464" : "off");
	snprintf(l->node_ns, sizeof(l->node_ns), "sl-%s-node", name);
	snprintf(l->out_ns, sizeof(l->out_ns), "sl-%s-out", name);
}

static const char *cgroup2_root(void)
{
	static const char *const cands[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	char p[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(p, sizeof(p), "%s/cgroup.subtree_control", cands[i]);
		if (access(p, F_OK) == 0)
			return cands[i];
	}
	return NULL;
}

static int state_save(const struct lab *l)
{
	char path[PATH_MAX], tmp[PATH_MAX + 4];
	char *s = cJSON_Print(l->state);
	FILE *f;
	int r = 0;

	if (!s)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/lab.json", l->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		free(s);
		return -errno;
	}
	fputs(s, f);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		r = -errno;
	free(s);
	return r;
}

static int state_load(struct lab *l, const char *name)
{
	char path[PATH_MAX];
	const cJSON *v;
	size_t len;
	char *s;

	snprintf(path, sizeof(path), "%s/%s/lab.json", LAB_RUN_DIR, name);
	s = fileio_read_path(path, LAB_MAX_FILE, &len);
	if (!s)
		return -ENOENT;
	l->state = cJSON_Parse(s);
	free(s);
	if (!cJSON_IsObject(l->state))
		return -EINVAL;
#define LOAD(field, key)                                                              \
	v = cJSON_GetObjectItemCaseSensitive(l->state, key);                         \
	snprintf(l->field, sizeof(l->field), "%s", cJSON_IsString(v) ? v->valuestring : "")
	LOAD(name, "name");
	LOAD(dir, "dir");
	LOAD(bpffs, "bpffsRoot");
	LOAD(sock, "agentSocket");
	LOAD(metrics, "metricsAddress");
	LOAD(agent_config, "agentConfig");
	LOAD(cgroup, "cgroup");
	LOAD(node_ns, "nodeNetns");
	LOAD(out_ns, "outsideNetns");
	LOAD(bindir, "bindir");
#undef LOAD
	return 0;
}

static void state_init(struct lab *l)
{
	l->state = cJSON_CreateObject();
	cJSON_AddStringToObject(l->state, "name", l->name);
	cJSON_AddStringToObject(l->state, "dir", l->dir);
	cJSON_AddStringToObject(l->state, "bpffsRoot", l->bpffs);
	cJSON_AddStringToObject(l->state, "agentSocket", l->sock);
	cJSON_AddStringToObject(l->state, "metricsAddress", l->metrics);
	cJSON_AddStringToObject(l->state, "agentConfig", l->agent_config);
	cJSON_AddStringToObject(l->state, "cgroup", l->cgroup);
	cJSON_AddStringToObject(l->state, "nodeNetns", l->node_ns);
	cJSON_AddStringToObject(l->state, "outsideNetns", l->out_ns);
	cJSON_AddStringToObject(l->state, "bindir", l->bindir);
	cJSON_AddArrayToObject(l->state, "pods");
}

/* --- agent ------------------------------------------------------------------------------------ */

static bool agent_alive(const struct lab *l)
{
	struct api_resp resp = {};
	char err[256];
	bool ok;

	ok = api_call(l->sock, "GET", "/healthz", NULL, 0, 1000, &resp, err, sizeof(err)) == 0 &&
	     resp.status == 200;
	api_resp_free(&resp);
	return ok;
}

static int agent_start(struct lab *l)
{
	char bin[PATH_MAX], log[PATH_MAX], state[PATH_MAX], netns[PATH_MAX];
	struct timespec ts = { .tv_nsec = 50 * 1000 * 1000 };
	cJSON *pid_item;
	pid_t pid;
	int i;

	snprintf(bin, sizeof(bin), "%s/sluice-agent", l->bindir);
	snprintf(log, sizeof(log), "%s/agent.log", l->dir);
	snprintf(state, sizeof(state), "%s/state.json", l->dir);
	snprintf(netns, sizeof(netns), "/run/netns/%s", l->node_ns);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		setsid();
		stdio_to(log);
		if (l->agent_config[0])
			execl(bin, bin, "--config", l->agent_config, "--bpffs-root", l->bpffs,
			      "--api-socket", l->sock, "--state-file", state, "--cgroup", l->cgroup,
			      "--uplink", LAB_UPLINK, "--netns", netns, "--metrics-address",
			      l->metrics, (char *)NULL);
		else
			execl(bin, bin, "--bpffs-root", l->bpffs, "--api-socket", l->sock,
			      "--state-file", state, "--cgroup", l->cgroup, "--uplink", LAB_UPLINK,
			      "--netns", netns, "--metrics-address", l->metrics, (char *)NULL);
		_exit(127);
	}
	pid_item = cJSON_GetObjectItemCaseSensitive(l->state, "agentPid");
	if (pid_item)
		cJSON_SetNumberValue(pid_item, pid);
	else
		cJSON_AddNumberToObject(l->state, "agentPid", pid);
	(void)state_save(l);
	for (i = 0; i < 200; i++) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			size_t n;
			char *txt = fileio_read_path(log, 1 << 20, &n);

			lab_err("sluice-agent exited at start:\n%s", txt ? txt : "(no log)");
			free(txt);
			return -EIO;
		}
		if (agent_alive(l))
			return 0;
		nanosleep(&ts, NULL);
	}
	lab_err("sluice-agent did not answer on %s within 10 s; see %s", l->sock, log);
	return -ETIMEDOUT;
}

static int agent_post(const struct lab *l, const char *path, const char *body, size_t len,
		      cJSON **ret)
{
	struct api_resp resp = {};
	char err[1024];
	const cJSON *e;
	cJSON *j;
	int r;

	r = api_call(l->sock, "POST", path, body, len, 30000, &resp, err, sizeof(err));
	if (r < 0) {
		lab_err("cannot reach sluice-agent at %s: %s", l->sock, err);
		return r;
	}
	j = cJSON_Parse(resp.body ? resp.body : "");
	if (resp.status >= 300) {
		e = cJSON_GetObjectItemCaseSensitive(j, "error");
		lab_err("%s", cJSON_IsString(e) ? e->valuestring : "agent error");
		cJSON_Delete(j);
		api_resp_free(&resp);
		return -EINVAL;
	}
	api_resp_free(&resp);
	if (ret)
		*ret = j;
	else
		cJSON_Delete(j);
	return 0;
}

/* --- CNI, the way a runtime calls it -------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *lab_conflist(const struct lab *l)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"sluice-lab-%s\",\"plugins\":["
		 "{\"type\":\"bridge\",\"bridge\":\"" LAB_BRIDGE "\",\"isGateway\":true,"
		 "\"ipMasq\":false,\"hairpinMode\":true,\"ipam\":{\"type\":\"host-local\","
		 "\"ranges\":[[{\"subnet\":\"" LAB_POD_CIDR "\"}],[{\"subnet\":\"" LAB_POD_CIDR6
		 "\"}]],\"dataDir\":\"%s/ipam\","
		 "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"::/0\"}]}},"
		 "{\"type\":\"sluice-cni\",\"bpffsRoot\":\"%s\",\"agentSocket\":\"%s\"}]}",
		 l->name, l->dir, l->bpffs, l->sock);
	return cJSON_Parse(buf);
}

/*
 * Executes one plugin: CNI_* in the environment, the config on stdin, inside the node netns.
 * *ret_out gets the parsed stdout (result or error object).
 */
static int cni_exec(const struct lab *l, const char *cmd, const cJSON *conf, const char *cid,
		    const char *netns_path, const char *ifname, const char *args, cJSON **ret_out)
{
	char plugin[PATH_MAX], cni_path[PATH_MAX * 2], out[65536];
	char env_cmd[64], env_cid[256], env_ns[PATH_MAX + 16], env_if[64], env_args[1024],
		env_path[PATH_MAX * 2 + 16];
	const char *type = jstr(conf, "type");
	char *const envp[] = { env_cmd, env_cid, env_ns, env_if, env_args, env_path, NULL };
	char *in = cJSON_PrintUnformatted(conf);
	int inp[2], outp[2], st;
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	const char *dirs[] = { l->bindir, "/usr/lib/cni", "/opt/cni/bin" };
	size_t i;

	if (!in || !type)
		return -EINVAL;
	plugin[0] = '\0';
	for (i = 0; i < 3; i++) {
		snprintf(plugin, sizeof(plugin), "%s/%s", dirs[i], type);
		if (access(plugin, X_OK) == 0)
			break;
		plugin[0] = '\0';
	}
	if (!plugin[0]) {
		free(in);
		lab_err("CNI plugin \"%s\" not found in %s, /usr/lib/cni, /opt/cni/bin", type,
			l->bindir);
		return -ENOENT;
	}
	snprintf(cni_path, sizeof(cni_path), "%s:/usr/lib/cni:/opt/cni/bin", l->bindir);
	snprintf(env_cmd, sizeof(env_cmd), "CNI_COMMAND=%s", cmd);
	snprintf(env_cid, sizeof(env_cid), "CNI_CONTAINERID=%s", cid);
	snprintf(env_ns, sizeof(env_ns), "CNI_NETNS=%s", netns_path);
	snprintf(env_if, sizeof(env_if), "CNI_IFNAME=%s", ifname);
	snprintf(env_args, sizeof(env_args), "CNI_ARGS=%s", args);
	snprintf(env_path, sizeof(env_path), "CNI_PATH=%s", cni_path);
	if (pipe(inp) < 0 || pipe(outp) < 0) {
		free(in);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		dup2(inp[0], 0);
		dup2(outp[1], 1);
		close(inp[1]);
		close(outp[0]);
		if (netns_enter(l->node_ns) < 0)
			_exit(126);
		execve(plugin, (char *const[]){ plugin, NULL }, envp);
		_exit(127);
	}
	close(inp[0]);
	close(outp[1]);
	if (write(inp[1], in, strlen(in)) < 0)
		(void)0; /* the plugin's exit status tells */
	close(inp[1]);
	free(in);
	while ((n = read(outp[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(outp[0]);
	waitpid(pid, &st, 0);
	if (ret_out)
		*ret_out = cJSON_Parse(out);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		cJSON *e = cJSON_Parse(out);

		lab_err("CNI %s %s failed for %s: %s%s%s", type, cmd, cid,
			jstr(e, "msg") ? jstr(e, "msg") : out, jstr(e, "details") ? ": " : "",
			jstr(e, "details") ? jstr(e, "details") : "");
		cJSON_Delete(e);
		if (ret_out) {
			cJSON_Delete(*ret_out);
			*ret_out = NULL;
		}
		return -EIO;
	}
	return 0;
}

/* Runs the conflist: ADD in order passing prevResult, DEL in reverse with the cached result. */
static int cni_run_list(const struct lab *l, const char *cmd, const char *cid,
			const char *netns_path, const char *args, const cJSON *cached,
			cJSON **ret_result)
{
	cJSON *list = lab_conflist(l), *plugins, *p, *conf, *prev = NULL, *out = NULL;
	bool add = !strcmp(cmd, "ADD");
	int n, i, r = 0, first_err = 0;

	if (!list)
		return -ENOMEM;
	plugins = cJSON_GetObjectItemCaseSensitive(list, "plugins");
	n = cJSON_GetArraySize(plugins);
	for (i = add ? 0 : n - 1; add ? i < n : i >= 0; i += add ? 1 : -1) {
		p = cJSON_GetArrayItem(plugins, i);
		conf = cJSON_Duplicate(p, true);
		cJSON_AddStringToObject(conf, "cniVersion", jstr(list, "cniVersion"));
		cJSON_AddStringToObject(conf, "name", jstr(list, "name"));
		if (add && prev)
			cJSON_AddItemToObject(conf, "prevResult", cJSON_Duplicate(prev, true));
		else if (!add && cached)
			cJSON_AddItemToObject(conf, "prevResult", cJSON_Duplicate(cached, true));
		r = cni_exec(l, cmd, conf, cid, netns_path, "eth0", args, add ? &out : NULL);
		cJSON_Delete(conf);
		if (r < 0) {
			if (add)
				break;
			if (!first_err)
				first_err = r; /* DEL goes on with the other plugins */
			continue;
		}
		if (add) {
			cJSON_Delete(prev);
			prev = out;
			out = NULL;
		}
	}
	cJSON_Delete(list);
	if (add && r == 0 && ret_result)
		*ret_result = prev;
	else
		cJSON_Delete(prev);
	return add ? r : first_err;
}

/* --- pods ------------------------------------------------------------------------------------- */

static void pod_names(const cJSON *pod, const char **ns, const char **name)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");

	*ns = jstr(md, "namespace") ? jstr(md, "namespace") : "default";
	*name = jstr(md, "name") ? jstr(md, "name") : "";
}

/* Starts one container's command in the pod's netns and cgroup; returns the pid. */
static pid_t pod_spawn(const struct lab *l, const char *netns, const char *cgroup,
		       const cJSON *container, const char *logpath, const char *ns,
		       const char *name, const char *tmpdir)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(container, "env"), *e;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(container, "command");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(container, "args"), *it;
	char *argv[256];
	char procs[PATH_MAX + 16], pidbuf[32];
	int argc = 0, fd;
	pid_t pid;

	(void)l;
	cJSON_ArrayForEach(it, cmd)
		if (cJSON_IsString(it) && argc < 254)
			argv[argc++] = it->valuestring;
	cJSON_ArrayForEach(it, args)
		if (cJSON_IsString(it) && argc < 254)
			argv[argc++] = it->valuestring;
	if (argc == 0) {
		/* no command: the pod just holds its namespace, like a pause container */
		argv[argc++] = "sleep";
		argv[argc++] = "infinity";
	}
	argv[argc] = NULL;
	pid = fork();
	if (pid != 0)
		return pid;
	setsid();
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
	snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
	if (write_file(procs, pidbuf) < 0)
		_exit(125);
	fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		_exit(126);
	stdio_to(logpath);
	/* what a pod sees of itself (downward-API style), a private TMPDIR, then spec env */
	setenv("POD_NAME", name, 1);
	setenv("POD_NAMESPACE", ns, 1);
	setenv("TMPDIR", tmpdir, 1);
	cJSON_ArrayForEach(e, env)
		if (jstr(e, "name") && jstr(e, "value"))
			setenv(jstr(e, "name"), jstr(e, "value"), 1);
	if (l->workdir[0] && chdir(l->workdir) < 0)
		_exit(124);
	execvp(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static cJSON *pod_record(struct lab *l, const char *ns, const char *name)
{
	cJSON *pods = cJSON_GetObjectItemCaseSensitive(l->state, "pods"), *p;

	cJSON_ArrayForEach(p, pods) {
		if (!strcmp(jstr(p, "namespace") ?: "", ns) && !strcmp(jstr(p, "name") ?: "", name))
			return p;
	}
	return NULL;
}

static int pod_up(struct lab *l, const cJSON *pod)
{
	char netns_name[64], netns_path[PATH_MAX], cg[PATH_MAX], cid[160], args[512],
		logp[PATH_MAX], tmpdir[PATH_MAX];
	const cJSON *c;
	const char *ns, *name;
	cJSON *rec, *result = NULL, *pids;
	static unsigned int seq;
	pid_t pid;
	int r;

	pod_names(pod, &ns, &name);
	snprintf(netns_name, sizeof(netns_name), "sl-%s-p%u", l->name, seq++);
	snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", netns_name);
	snprintf(cg, sizeof(cg), "%s/pods/%s_%s", l->cgroup, ns, name);
	snprintf(cid, sizeof(cid), "lab-%s-%s-%s", l->name, ns, name);
	snprintf(args, sizeof(args), "IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
		 "K8S_POD_INFRA_CONTAINER_ID=%s", ns, name, cid);

	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "namespace", ns);
	cJSON_AddStringToObject(rec, "name", name);
	cJSON_AddStringToObject(rec, "netns", netns_name);
	cJSON_AddStringToObject(rec, "cgroup", cg);
	cJSON_AddStringToObject(rec, "containerID", cid);
	pids = cJSON_AddArrayToObject(rec, "pids");
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(l->state, "pods"), rec);
	(void)state_save(l); /* recorded before it exists, so `lab down` finds partial pods */

	r = RUN(NULL, "ip", "netns", "add", netns_name);
	if (r < 0)
		return r;
	if (bpfutil_mkdirs(cg) < 0)
		return lab_err("cannot create cgroup %s", cg) ? -EIO : -EIO;
	/* loopback first, as runtimes do, then the pod network */
	{
		cJSON *lo = cJSON_Parse("{\"cniVersion\":\"1.0.0\",\"name\":\"lo\",\"type\":\"loopback\"}");

		r = cni_exec(l, "ADD", lo, cid, netns_path, "lo", args, NULL);
		cJSON_Delete(lo);
		if (r < 0)
			return r;
	}
	r = cni_run_list(l, "ADD", cid, netns_path, args, NULL, &result);
	if (r < 0)
		return r;
	cJSON_AddItemToObject(rec, "cniResult", result);
	snprintf(logp, sizeof(logp), "%s/logs/%s_%s.log", l->dir, ns, name);
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp/%s_%s", l->dir, ns, name);
	if (bpfutil_mkdirs(tmpdir) < 0)
		return lab_err("cannot create %s", tmpdir) ? -EIO : -EIO;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(
				      cJSON_GetObjectItemCaseSensitive(pod, "spec"), "containers")) {
		pid = pod_spawn(l, netns_path, cg, c, logp, ns, name, tmpdir);
		if (pid < 0)
			return -errno;
		cJSON_AddItemToArray(pids, cJSON_CreateNumber(pid));
	}
	(void)state_save(l);
	printf("pod/%s running in netns %s\n", name, netns_name);
	return 0;
}

static void cgroup_kill(const char *cg)
{
	char path[PATH_MAX], line[32];
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	FILE *f;
	int i, any;

	snprintf(path, sizeof(path), "%s/cgroup.kill", cg);
	if (write_file(path, "1") < 0) {
		/* kernels before 5.14: signal every member */
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			kill(atoi(line), SIGKILL);
		if (f)
			fclose(f);
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	for (i = 0; i < 100; i++) {
		f = fopen(path, "r");
		if (!f)
			return;
		any = fgets(line, sizeof(line), f) != NULL;
		fclose(f);
		if (!any)
			return;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		nanosleep(&ts, NULL);
	}
}

static void rmdir_tree(const char *path)
{
	char child[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(path);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		rmdir_tree(child);
	}
	closedir(d);
	(void)rmdir(path);
}

static void rm_rf(const char *path)
{
	(void)RUN(NULL, "rm", "-rf", "--one-file-system", path);
}

static int lab_down(struct lab *l)
{
	const cJSON *pods = cJSON_GetObjectItemCaseSensitive(l->state, "pods"), *p, *pid;
	char netns_path[PATH_MAX], bin[PATH_MAX], state[PATH_MAX];
	int n, i, errs = 0;

	n = cJSON_GetArraySize(pods);
	for (i = n - 1; i >= 0; i--) {
		p = cJSON_GetArrayItem(pods, i);
		if (jstr(p, "cgroup"))
			cgroup_kill(jstr(p, "cgroup"));
		snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", jstr(p, "netns") ?: "");
		if (access(netns_path, F_OK) == 0) {
			if (cni_run_list(l, "DEL", jstr(p, "containerID") ?: "", netns_path, "",
					 cJSON_GetObjectItemCaseSensitive(p, "cniResult"), NULL) < 0)
				errs++;
			if (RUN(NULL, "ip", "netns", "del", jstr(p, "netns")) < 0)
				errs++;
		}
	}
	pid = cJSON_GetObjectItemCaseSensitive(l->state, "agentPid");
	if (cJSON_IsNumber(pid) && pid->valueint > 1 && kill(pid->valueint, SIGTERM) == 0) {
		for (i = 0; i < 100 && kill(pid->valueint, 0) == 0; i++) {
			waitpid(pid->valueint, NULL, WNOHANG);
			usleep(20000);
		}
		kill(pid->valueint, SIGKILL);
		waitpid(pid->valueint, NULL, WNOHANG);
	}
	snprintf(bin, sizeof(bin), "%s/sluice-agent", l->bindir);
	snprintf(state, sizeof(state), "%s/state.json", l->dir);
	if (access(bin, X_OK) == 0) {
		if (RUN(NULL, bin, "--teardown", "--bpffs-root", l->bpffs, "--state-file", state,
			"--api-socket", l->sock) < 0)
			errs++;
	} else if (bpfutil_rmtree(l->bpffs) < 0) {
		errs++;
	}
	if (l->cgroup[0]) {
		cgroup_kill(l->cgroup);
		rmdir_tree(l->cgroup);
		if (access(l->cgroup, F_OK) == 0) {
			lab_err("cgroup %s still exists", l->cgroup);
			errs++;
		}
	}
	snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", l->out_ns);
	if (access(netns_path, F_OK) == 0 && RUN(NULL, "ip", "netns", "del", l->out_ns) < 0)
		errs++;
	snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", l->node_ns);
	if (access(netns_path, F_OK) == 0 && RUN(NULL, "ip", "netns", "del", l->node_ns) < 0)
		errs++;
	rm_rf(l->dir);
	if (errs)
		return lab_err("lab %s: %d teardown step(s) failed (see above)", l->name, errs);
	printf("lab %s is down\n", l->name);
	return 0;
}

static int lab_node_up(struct lab *l)
{
	char peer[32];
	int r;

	snprintf(peer, sizeof(peer), "sl-up-peer");
	if ((r = RUN(NULL, "ip", "netns", "add", l->node_ns)) < 0 ||
	    (r = RUN(NULL, "ip", "netns", "add", l->out_ns)) < 0 ||
	    (r = RUN(l->node_ns, "ip", "link", "set", "lo", "up")) < 0 ||
	    (r = RUN(l->out_ns, "ip", "link", "set", "lo", "up")) < 0 ||
	    /* the uplink pair is made inside the node netns: no host interface is ever created */
	    (r = RUN(l->node_ns, "ip", "link", "add", LAB_UPLINK, "type", "veth", "peer", "name",
		     peer)) < 0 ||
	    (r = RUN(l->node_ns, "ip", "link", "set", peer, "netns", l->out_ns)) < 0 ||
	    (r = RUN(l->out_ns, "ip", "link", "set", peer, "name", "eth0")) < 0 ||
	    (r = RUN(l->node_ns, "ip", "addr", "add", LAB_NODE_UP_IP, "dev", LAB_UPLINK)) < 0 ||
	    (r = RUN(l->out_ns, "ip", "addr", "add", LAB_OUT_IP, "dev", "eth0")) < 0 ||
	    (r = RUN(l->node_ns, "ip", "addr", "add", LAB_NODE_UP_IP6, "dev", LAB_UPLINK,
		     "nodad")) < 0 ||
	    (r = RUN(l->out_ns, "ip", "addr", "add", LAB_OUT_IP6, "dev", "eth0", "nodad")) < 0 ||
	    (r = RUN(l->node_ns, "ip", "link", "set", LAB_UPLINK, "up")) < 0 ||
	    (r = RUN(l->out_ns, "ip", "link", "set", "eth0", "up")) < 0 ||
	    (r = RUN(l->node_ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")) < 0 ||
	    (r = RUN(l->node_ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")) < 0 ||
	    /* tc-translated packets leave slbr0 the way they came: no ICMP redirects for them */
	    (r = RUN(l->node_ns, "sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0")) < 0 ||
	    (r = RUN(l->node_ns, "sysctl", "-qw", "net.ipv4.conf.default.send_redirects=0")) < 0)
		return r;
	return 0;
}

static int self_bindir(char *buf, size_t len)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	return snprintf(buf, len, "%s", exe) >= (int)len ? -ENAMETOOLONG : 0;
}

static int lab_up(struct lab *l, const char *file)
{
	char logs[PATH_MAX];
	cJSON *items = NULL, *it, *res = NULL;
	char err[1024], *buf;
	const char *kind, *cgroot;
	size_t len;
	int r, npods = 0;

	if (strcmp(file, "-") != 0) {
		char *rp = realpath(file, NULL), *slash;

		if (rp && (slash = strrchr(rp, '/'))) {
			*slash = '\0';
			snprintf(l->workdir, sizeof(l->workdir), "%s", rp[0] ? rp : "/");
		}
		free(rp);
	}
	buf = fileio_read_path(file, LAB_MAX_FILE, &len);
	if (!buf)
		return lab_err("cannot read %s: %s", file, strerror(errno));
	r = manifest_parse(buf, len, file, &items, err, sizeof(err));
	if (r < 0) {
		free(buf);
		return lab_err("%s", err);
	}
	cgroot = cgroup2_root();
	if (!cgroot) {
		free(buf);
		cJSON_Delete(items);
		return lab_err("no cgroup2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup");
	}
	snprintf(l->cgroup, sizeof(l->cgroup), "%s/sluice-lab-%s", cgroot, l->name);
	if (access(l->dir, F_OK) == 0) {
		free(buf);
		cJSON_Delete(items);
		return lab_err("lab %s already exists (%s): run `sluice lab down --name %s` first",
			       l->name, l->dir, l->name);
	}
	if (agent_alive(l)) {
		free(buf);
		cJSON_Delete(items);
		return lab_err("an agent already answers on %s; use another --name", l->sock);
	}
	snprintf(logs, sizeof(logs), "%s/logs", l->dir);
	if (bpfutil_mkdirs(logs) < 0 || bpfutil_mkdirs(l->cgroup) < 0) {
		free(buf);
		cJSON_Delete(items);
		return lab_err("cannot create %s or %s", logs, l->cgroup);
	}
	state_init(l);
	(void)state_save(l);

	r = lab_node_up(l);
	if (r == 0)
		r = agent_start(l);
	/* The whole file goes to the agent first: invalid input stops here, nothing half-made. */
	if (r == 0)
		r = agent_post(l, "/v1/apply", buf, len, &res);
	free(buf);
	cJSON_Delete(res);
	cJSON_ArrayForEach(it, items) {
		if (r < 0)
			break;
		kind = jstr(it, "kind");
		if (kind && !strcmp(kind, "Pod")) {
			r = pod_up(l, it);
			npods++;
		}
	}
	cJSON_Delete(items);
	if (r < 0) {
		fprintf(stderr, "lab %s: bringing up failed, tearing down\n", l->name);
		(void)lab_down(l);
		return 1;
	}
	printf("lab %s is up: %d pod(s), agent socket %s, bpffs %s\n", l->name, npods, l->sock,
	       l->bpffs);
	return 0;
}

static int lab_exec(struct lab *l, const char *ns, const char *pod, char **argv)
{
	char netns[PATH_MAX], procs[PATH_MAX + 16], pidbuf[32];
	const cJSON *rec = pod_record(l, ns, pod);
	int fd;

	if (!rec)
		return lab_err("pod %s/%s is not in lab %s", ns, pod, l->name);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", jstr(rec, "cgroup"));
	snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
	if (write_file(procs, pidbuf) < 0)
		return lab_err("cannot join cgroup %s", jstr(rec, "cgroup"));
	snprintf(netns, sizeof(netns), "/run/netns/%s", jstr(rec, "netns"));
	fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		return lab_err("cannot enter %s: %s", netns, strerror(errno));
	close(fd);
	execvp(argv[0], argv);
	return lab_err("exec %s: %s", argv[0], strerror(errno));
}

static void lab_usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice lab COMMAND [--name NAME]\n"
		"  up FILE [--bpffs-root DIR] [--socket PATH] [--metrics-address A|off]\n"
		"          [--agent-config FILE]\n"
		"                      create the lab's node, start sluice-agent, apply FILE and run\n"
		"                      every Pod in it as a network namespace + cgroup\n"
		"  down                remove every namespace, veth, cgroup and pin the lab made\n"
		"  exec [-n NS] POD -- CMD...   run CMD inside a pod's netns and cgroup\n"
		"  agent-start         start the lab's agent again (after it died or was killed)\n"
		"  info                print the lab's state (JSON)\n"
		"NAME defaults to \"default\", whose agent uses %s and %s.\n",
		API_DEFAULT_SOCK, SL_BPFFS_DEFAULT);
}

int lab_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "bpffs-root", required_argument, NULL, 'B' },
		{ "socket", required_argument, NULL, 'S' },
		{ "metrics-address", required_argument, NULL, 'M' },
		{ "agent-config", required_argument, NULL, 'C' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *name = "default", *bpffs = NULL, *sock = NULL, *metrics = NULL, *ns = "default";
	const char *agent_config = NULL;
	struct lab l = {};
	const char *cmd;
	int c, r;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		lab_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, strcmp(cmd, "exec") ? "n:h" : "+n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'N': name = optarg; break;
		case 'B': bpffs = optarg; break;
		case 'S': sock = optarg; break;
		case 'M': metrics = optarg; break;
		case 'C': agent_config = optarg; break;
		case 'n': ns = optarg; break;
		case 'h': lab_usage(stdout); return 0;
		default: lab_usage(stderr); return 2;
		}
	}
	if (strlen(name) > 12 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(name)) {
		lab_err("--name: want 1-12 lower-case letters or digits, got \"%s\"", name);
		return 2;
	}
	if (getuid() != 0)
		return lab_err("sluice lab needs root (network namespaces, cgroups, bpffs)");

	if (!strcmp(cmd, "up")) {
		if (optind >= argc) {
			lab_usage(stderr);
			return 2;
		}
		lab_paths(&l, name, bpffs, sock, metrics);
		if (self_bindir(l.bindir, sizeof(l.bindir)) < 0)
			return lab_err("cannot find my own directory");
		if (agent_config) {
			char abs[PATH_MAX];

			if (!realpath(agent_config, abs))
				return lab_err("--agent-config %s: %s", agent_config,
					       strerror(errno));
			if (strlen(abs) >= sizeof(l.agent_config))
				return lab_err("--agent-config %s: path too long", abs);
			memcpy(l.agent_config, abs, strlen(abs) + 1);
		}
		r = lab_up(&l, argv[optind]);
	} else if (!strcmp(cmd, "down")) {
		if (state_load(&l, name) < 0) {
			printf("lab %s is not up\n", name);
			return 0;
		}
		r = lab_down(&l);
	} else if (!strcmp(cmd, "exec")) {
		if (state_load(&l, name) < 0)
			return lab_err("lab %s is not up", name);
		if (optind < argc && !strcmp(argv[optind], "--"))
			optind++;
		if (optind + 1 >= argc) {
			lab_usage(stderr);
			return 2;
		}
		{
			const char *pod = argv[optind++];

			if (!strcmp(argv[optind], "--"))
				optind++;
			if (optind >= argc) {
				lab_usage(stderr);
				return 2;
			}
			r = lab_exec(&l, ns, pod, &argv[optind]);
		}
	} else if (!strcmp(cmd, "agent-start")) {
		if (state_load(&l, name) < 0)
			return lab_err("lab %s is not up", name);
		r = agent_alive(&l) ? 0 : agent_start(&l) < 0 ? 1 : 0;
	} else if (!strcmp(cmd, "info")) {
		char *s;

		if (state_load(&l, name) < 0)
			return lab_err("lab %s is not up", name);
		s = cJSON_Print(l.state);
		printf("%s\n", s);
		free(s);
		r = 0;
	} else {
		lab_usage(stderr);
		r = 2;
	}
	cJSON_Delete(l.state);
	return r;
}

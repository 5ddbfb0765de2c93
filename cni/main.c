// SPDX-License-Identifier: Apache-2.0
/*
 * sluice-cni: a chained CNI plugin. ADD finds the pod's host-side veth in prevResult, attaches
 * Sluice's tc programs to it (tcx links pinned under the bpffs root) and registers the endpoint
 * with sluice-agent; DEL undoes both and succeeds when things are already gone.
 * Network configuration keys of ours: "bpffsRoot", "agentSocket".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "apiclient.h"
#include "bpfutil.h"
#include "cni/errors.h"
#include "fileio.h"
#include "nl.h"

#define STDIN_MAX (1u << 20)
#define ERRLEN	  1024

static const char *const supported_versions[] = { "0.4.0", "1.0.0", "1.1.0" };

struct cni_env {
	const char *command, *container_id, *netns, *ifname, *args;
	char pod_ns[64], pod_name[254];
};

static int cni_error(const char *version, int code, const char *msg, const char *details)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "cniVersion", version ? version : "1.0.0");
	cJSON_AddNumberToObject(o, "code", code);
	cJSON_AddStringToObject(o, "msg", msg);
	if (details && *details)
		cJSON_AddStringToObject(o, "details", details);
	s = cJSON_Print(o);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
	return 1;
}

/* CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name;..." */
static void parse_args(struct cni_env *env)
{
	char buf[2048], *save = NULL, *tok;

	if (!env->args)
		return;
	snprintf(buf, sizeof(buf), "%s", env->args);
	for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		if (!strncmp(tok, "K8S_POD_NAMESPACE=", 18))
			snprintf(env->pod_ns, sizeof(env->pod_ns), "%s", tok + 18);
		else if (!strncmp(tok, "K8S_POD_NAME=", 13))
			snprintf(env->pod_name, sizeof(env->pod_name), "%s", tok + 13);
	}
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The host-side veth: an interface of prevResult with no sandbox whose kind is veth. */
static int find_host_veth(const cJSON *prev, char *ifname, size_t len, int *ret_ifindex)
{
	const cJSON *ifs = cJSON_GetObjectItemCaseSensitive(prev, "interfaces"), *it;
	char kind[32];
	const char *name, *sandbox;
	int idx;

	cJSON_ArrayForEach(it, ifs) {
		name = jstr(it, "name");
		sandbox = jstr(it, "sandbox");
		if (!name || (sandbox && *sandbox))
			continue;
		if (nl_link_by_name(name, &idx, kind, sizeof(kind)) < 0)
			continue;
		if (strcmp(kind, "veth") != 0)
			continue;
		snprintf(ifname, len, "%s", name);
		*ret_ifindex = idx;
		return 0;
	}
	return -ENOENT;
}

static int agent_post(const char *sock, const char *path, cJSON *body, char *err, size_t errlen,
		      long *ret_status)
{
	struct api_resp resp = {};
	char *txt = cJSON_PrintUnformatted(body);
	cJSON *r;
	int rc;

	if (!txt)
		return -ENOMEM;
	rc = api_call(sock, "POST", path, txt, strlen(txt), 5000, &resp, err, errlen);
	free(txt);
	if (rc < 0)
		return rc;
	*ret_status = resp.status;
	if (resp.status >= 300) {
		r = cJSON_Parse(resp.body ? resp.body : "");
		snprintf(err, errlen, "%s", jstr(r, "error") ? jstr(r, "error") : "agent error");
		cJSON_Delete(r);
	}
	api_resp_free(&resp);
	return 0;
}

static int print_result(const cJSON *conf, const cJSON *prev)
{
	cJSON *out = prev ? cJSON_Duplicate(prev, true) : cJSON_CreateObject();
	char *s;

	cJSON_DeleteItemFromObjectCaseSensitive(out, "cniVersion");
	cJSON_AddStringToObject(out, "cniVersion", jstr(conf, "cniVersion"));
	s = cJSON_Print(out);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(out);
	return 0;
}

static int cmd_add(const struct cni_env *env, const cJSON *conf, const char *root,
		   const char *sock)
{
	const char *ver = jstr(conf, "cniVersion");
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(conf, "prevResult"), *ip;
	char veth[32], err[ERRLEN] = "", *slash;
	cJSON *body, *ips;
	long status = 0;
	int ifindex, r;

	if (!cJSON_IsObject(prev))
		return cni_error(ver, CNI_ERR_INVALID_CONFIG,
				 "sluice-cni is a chained plugin: prevResult is required",
				 "run it after a primary plugin such as bridge or ptp");
	if (find_host_veth(prev, veth, sizeof(veth), &ifindex) < 0)
		return cni_error(ver, SL_CNI_ERR_NO_HOST_VETH,
				 "prevResult names no host-side veth",
				 "expected an interface without \"sandbox\" that is a veth");
	r = bpfutil_tcx_attach(root, veth, ifindex, TCX_DIR_INGRESS, "sluice_tc_in", err,
			       sizeof(err));
	if (r == 0)
		r = bpfutil_tcx_attach(root, veth, ifindex, TCX_DIR_EGRESS, "sluice_tc_out", err,
				       sizeof(err));
	if (r < 0)
		return cni_error(ver, r == -ENOENT ? CNI_ERR_TRY_AGAIN : SL_CNI_ERR_ATTACH,
				 "attaching Sluice's tc programs failed", err);

	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "containerID", env->container_id);
	cJSON_AddStringToObject(body, "netns", env->netns ? env->netns : "");
	cJSON_AddStringToObject(body, "ifname", env->ifname ? env->ifname : "");
	cJSON_AddStringToObject(body, "hostIfname", veth);
	cJSON_AddNumberToObject(body, "hostIfindex", ifindex);
	cJSON_AddStringToObject(body, "podNamespace", env->pod_ns);
	cJSON_AddStringToObject(body, "podName", env->pod_name);
	ips = cJSON_AddArrayToObject(body, "ips");
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(prev, "ips")) {
		char a[64];

		if (!jstr(ip, "address"))
			continue;
		snprintf(a, sizeof(a), "%s", jstr(ip, "address"));
		slash = strchr(a, '/');
		if (slash)
			*slash = '\0';
		cJSON_AddItemToArray(ips, cJSON_CreateString(a));
	}
	r = agent_post(sock, "/v1/cni/add", body, err, sizeof(err), &status);
	cJSON_Delete(body);
	if (r < 0)
		return cni_error(ver, CNI_ERR_TRY_AGAIN, "sluice-agent is not reachable", err);
	if (status >= 300)
		return cni_error(ver, SL_CNI_ERR_AGENT_REJECTED, "sluice-agent refused the endpoint",
				 err);
	return print_result(conf, prev);
}

static int cmd_del(const struct cni_env *env, const cJSON *conf, const char *root,
		   const char *sock)
{
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(conf, "prevResult"), *it;
	char dir[512], err[ERRLEN] = "";
	const char *name, *sandbox;
	cJSON *body;
	long status = 0;
	int r;

	/* Unpin our links of every host-side interface prevResult names (detaches them). */
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(prev, "interfaces")) {
		name = jstr(it, "name");
		sandbox = jstr(it, "sandbox");
		if (!name || (sandbox && *sandbox))
			continue;
		if (bpfutil_path(dir, sizeof(dir), root, "links", name, NULL) == 0 &&
		    bpfutil_rmtree(dir) < 0)
			fprintf(stderr, "sluice-cni: removing %s failed, continuing\n", dir);
	}
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "containerID", env->container_id);
	r = agent_post(sock, "/v1/cni/del", body, err, sizeof(err), &status);
	cJSON_Delete(body);
	if (r < 0)
		fprintf(stderr, "sluice-cni: agent not reachable on DEL (%s), nothing to release\n",
			err);
	else if (status >= 300)
		return cni_error(jstr(conf, "cniVersion"), SL_CNI_ERR_AGENT_REJECTED,
				 "sluice-agent refused the release", err);
	return 0;
}

static int cmd_check(const cJSON *conf, const char *root)
{
	const char *ver = jstr(conf, "cniVersion");
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(conf, "prevResult");
	char veth[32];
	int ifindex;

	if (!cJSON_IsObject(prev))
		return cni_error(ver, CNI_ERR_INVALID_CONFIG, "CHECK needs prevResult", NULL);
	if (find_host_veth(prev, veth, sizeof(veth), &ifindex) < 0)
		return cni_error(ver, SL_CNI_ERR_NO_HOST_VETH, "prevResult names no host-side veth",
				 NULL);
	if (!bpfutil_link_live(root, veth, "sluice_tc_in") ||
	    !bpfutil_link_live(root, veth, "sluice_tc_out"))
		return cni_error(ver, SL_CNI_ERR_PROGRAMS_MISSING,
				 "Sluice's tc programs are missing from the veth", veth);
	return 0;
}

static int cmd_status(const cJSON *conf, const char *sock)
{
	struct api_resp resp = {};
	char err[ERRLEN] = "";
	int r;

	r = api_call(sock, "GET", "/healthz", NULL, 0, 3000, &resp, err, sizeof(err));
	if (r == 0 && resp.status == 200) {
		api_resp_free(&resp);
		return 0;
	}
	api_resp_free(&resp);
	return cni_error(jstr(conf, "cniVersion"), CNI_ERR_NOT_READY,
			 "sluice-agent is not ready", err);
}

static bool version_ok(const char *v)
{
	size_t i;

	for (i = 0; v && i < sizeof(supported_versions) / sizeof(supported_versions[0]); i++)
		if (!strcmp(v, supported_versions[i]))
			return true;
	return false;
}

int main(void)
{
	struct cni_env env = {};
	const char *root, *sock, *ver;
	cJSON *conf;
	size_t len = 0;
	char *in;
	int rc;

	env.command = secure_getenv("CNI_COMMAND");
	env.container_id = secure_getenv("CNI_CONTAINERID");
	env.netns = secure_getenv("CNI_NETNS");
	env.ifname = secure_getenv("CNI_IFNAME");
	env.args = secure_getenv("CNI_ARGS");
	if (!env.command)
		return cni_error(NULL, CNI_ERR_INVALID_ENV, "CNI_COMMAND is not set", NULL);
	if (!strcmp(env.command, "VERSION")) {
		printf("{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
		return 0;
	}
	in = fileio_read(stdin, STDIN_MAX, &len);
	if (!in)
		return cni_error(NULL, CNI_ERR_IO, "reading the network configuration failed",
				 errno == E2BIG ? "stdin larger than 1 MiB" : strerror(errno));
	conf = cJSON_ParseWithLength(in, len);
	free(in);
	if (!cJSON_IsObject(conf)) {
		cJSON_Delete(conf);
		return cni_error(NULL, CNI_ERR_DECODE, "network configuration is not a JSON object",
				 NULL);
	}
	ver = jstr(conf, "cniVersion");
	if (!version_ok(ver)) {
		rc = cni_error(NULL, CNI_ERR_INCOMPATIBLE_VERSION, "unsupported cniVersion",
			       "supported: 0.4.0, 1.0.0, 1.1.0");
		goto out;
	}
	root = jstr(conf, "bpffsRoot") ? jstr(conf, "bpffsRoot") : SL_BPFFS_DEFAULT;
	sock = jstr(conf, "agentSocket") ? jstr(conf, "agentSocket") : API_DEFAULT_SOCK;
	parse_args(&env);

	if (!strcmp(env.command, "STATUS")) {
		rc = cmd_status(conf, sock);
		goto out;
	}
	if (!strcmp(env.command, "GC")) {
		rc = 0; /* nothing of ours outlives a deleted attachment: links go with the veth */
		goto out;
	}
	if (!env.container_id || !*env.container_id) {
		rc = cni_error(ver, CNI_ERR_INVALID_ENV, "CNI_CONTAINERID is not set", NULL);
		goto out;
	}
	if (!strcmp(env.command, "ADD"))
		rc = cmd_add(&env, conf, root, sock);
	else if (!strcmp(env.command, "DEL"))
		rc = cmd_del(&env, conf, root, sock);
	else if (!strcmp(env.command, "CHECK"))
		rc = cmd_check(conf, root);
	else
		rc = cni_error(ver, CNI_ERR_INVALID_ENV, "unknown CNI_COMMAND", env.command);
out:
	cJSON_Delete(conf);
	return rc;
}

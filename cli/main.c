// SPDX-License-Identifier: Apache-2.0
/* sluice: kubectl-like client of sluice-agent's local API (docs/api.md). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "apiclient.h"
#include "cli/lab.h"
#include "cli/observe.h"
#include "cli/top.h"
#include "cli/print.h"
#include "log.h"
#include "manifest.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0-dev"
#endif

#define EXIT_OK	   0
#define EXIT_ERR   1
#define EXIT_USAGE 2

#define DEFAULT_NS	   "default"
#define GET_TIMEOUT_MS	   10000L
#define APPLY_TIMEOUT_MS   60000L
#define VERSION_TIMEOUT_MS 2000L
#define MAX_FILENAMES	   256

struct cli {
	const char *sock;
	const char *source; /* the one manifest sent unparsed: the agent's "request" in errors */
};

enum out_fmt {
	OUT_TABLE,
	OUT_WIDE,
	OUT_JSON,
	OUT_YAML,
};

/* --- usage ---------------------------------------------------------------------------------- */

static void usage_main(FILE *f)
{
	fprintf(
	    f,
	    "sluice: control a sluice-agent through its local API.\n"
	    "\n"
	    "Usage: sluice [--socket PATH] COMMAND [ARGS]\n"
	    "\n"
	    "Commands:\n"
	    "  apply -f FILE|DIR|-    create or update objects from manifests\n"
	    "  delete -f FILE|DIR|-   delete the objects named in manifests\n"
	    "  get RESOURCE [NAME...] list pods, services, endpoints, policies or namespaces\n"
	    "  observe                policy verdicts on new flows, live\n"
	    "  top                    HTTP rate, errors and latency per Service, live\n"
	    "  status                 the agent's programs, maps, objects and reconcile counters\n"
	    "  version                client and agent versions\n"
	    "  lab ...                the local lab (see 'sluice lab --help')\n"
	    "  help [COMMAND]         this text, or a command's\n"
	    "\n"
	    "Global options:\n"
	    "  --socket PATH   agent socket (default: $SLUICE_SOCKET, else %s)\n"
	    "  --debug         debug logging on stderr\n"
	    "  -h, --help      show help\n",
	    API_DEFAULT_SOCK);
}

static void usage_apply(FILE *f, bool del)
{
	const char *cmd = del ? "delete" : "apply";

	fprintf(
	    f,
	    "Usage: sluice %s -f FILE|DIR|- [-f ...]\n"
	    "\n"
	    "%s the objects in YAML or JSON manifests (multi-document, List kinds) in one atomic\n"
	    "request: nothing changes unless every object is accepted. A directory contributes\n"
	    "its *.yaml, *.yml and *.json files in name order (not recursive); - reads stdin.\n"
	    "\n"
	    "Options:\n"
	    "  -f, --filename PATH   manifest file, directory or - (repeatable)\n"
	    "  -h, --help            show this help\n",
	    cmd, del ? "Deletes" : "Creates or updates");
}

static void usage_get(FILE *f)
{
	fprintf(f,
		"Usage: sluice get RESOURCE [NAME...] [-n NS | -A] [-o wide|json|yaml]\n"
		"\n"
		"Resources: pods (po), services (svc), endpoints (ep), policies (netpol,\n"
		"networkpolicies), httppolicies (httppol), namespaces (ns); singulars work too.\n"
		"\n"
		"Options:\n"
		"  -n, --namespace NS     namespace (default \"%s\")\n"
		"  -A, --all-namespaces   every namespace\n"
		"  -o, --output FORMAT    wide, json or yaml\n"
		"  -h, --help             show this help\n",
		DEFAULT_NS);
}

static void usage_status(FILE *f)
{
	fprintf(
	    f,
	    "Usage: sluice status [-o json|yaml]\n"
	    "\n"
	    "Shows the agent's version, bpffs root, programs and links, map fill, object counts\n"
	    "and reconcile counters.\n");
}

static void usage_version(FILE *f)
{
	fprintf(f, "Usage: sluice version [--client]\n"
		   "\n"
		   "Prints the client's version and, when it answers, the agent's.\n"
		   "  --client   only the client's\n");
}

/* getopt's '?' and ':' answers as kubectl phrases them. */
static int bad_flag(const char *cmd, int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		fprintf(stderr, "error: flag needs an argument: %s\n", arg);
	else
		fprintf(stderr, "error: unknown flag: %s\n", arg);
	fprintf(stderr, "See 'sluice %s --help' for usage.\n", cmd);
	return EXIT_USAGE;
}

/* --- talking to the agent ------------------------------------------------------------------- */

static void report_call_error(const struct cli *cli, int r, const char *reason)
{
	switch (r) {
	case -ENOENT:
		fprintf(stderr,
			"error: cannot reach sluice-agent at %s: %s (is sluice-agent running?)\n",
			cli->sock, reason);
		break;
	case -ECONNREFUSED:
		if (access(cli->sock, R_OK | W_OK) < 0 && errno == EACCES)
			fprintf(
			    stderr,
			    "error: cannot reach sluice-agent at %s: %s (the socket is root-only; "
			    "run as root)\n",
			    cli->sock, strerror(EACCES));
		else
			fprintf(stderr,
				"error: cannot reach sluice-agent at %s: %s (is sluice-agent "
				"running?)\n",
				cli->sock, reason);
		break;
	case -ETIMEDOUT:
		fprintf(stderr, "error: sluice-agent at %s did not answer: %s\n", cli->sock,
			reason);
		break;
	default:
		fprintf(stderr, "error: request to sluice-agent at %s failed: %s\n", cli->sock,
			reason);
		break;
	}
}

/*
 * One request whose 2xx answer is JSON. Every failure is reported on stderr here; returns
 * EXIT_OK with *ret_json set, or EXIT_ERR.
 */
static int call_json(const struct cli *cli, const char *method, const char *path, const char *body,
		     size_t len, long timeout_ms, cJSON **ret_json)
{
	struct api_resp resp = {};
	const char *msg;
	char reason[512] = "";
	cJSON *j;
	int r;

	r = api_call(cli->sock, method, path, body, len, timeout_ms, &resp, reason, sizeof(reason));
	if (r < 0) {
		report_call_error(cli, r, reason);
		return EXIT_ERR;
	}
	j = cJSON_ParseWithLength(resp.body, resp.len);
	if (resp.status < 200 || resp.status >= 300) {
		msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));
		if (msg && cli->source && !strncmp(msg, "request:", 8))
			fprintf(stderr, "error: %s:%s\n", cli->source, msg + 8);
		else if (msg)
			fprintf(stderr, "error: %s\n", msg);
		else
			fprintf(stderr, "error: sluice-agent answered HTTP %ld to %s %s\n",
				resp.status, method, path);
		r = EXIT_ERR;
		goto out_free;
	}
	if (!j) {
		fprintf(stderr, "error: sluice-agent's answer to %s %s is not JSON\n", method,
			path);
		r = EXIT_ERR;
		goto out_free;
	}
	*ret_json = j;
	j = NULL;
	r = EXIT_OK;

out_free:
	cJSON_Delete(j);
	api_resp_free(&resp);
	return r;
}

static int print_json_fmt(const cJSON *j, enum out_fmt fmt)
{
	size_t n;
	char *s;

	if (fmt == OUT_JSON) {
		if (print_json(stdout, j) < 0) {
			fprintf(stderr, "error: cannot render the answer as JSON\n");
			return EXIT_ERR;
		}
		return EXIT_OK;
	}
	s = manifest_to_yaml(j);
	if (!s) {
		fprintf(stderr, "error: cannot render the answer as YAML\n");
		return EXIT_ERR;
	}
	n = strlen(s);
	fputs(s, stdout);
	if (!n || s[n - 1] != '\n')
		fputc('\n', stdout);
	free(s);
	return EXIT_OK;
}

/* --- apply / delete ------------------------------------------------------------------------- */

struct body {
	char *buf;
	size_t len;
	size_t cap;
	size_t nobjs;
};

/* Reads a whole stream, refusing more than MANIFEST_MAX_BYTES. */
static int read_stream(FILE *fp, char **ret_buf, size_t *ret_len)
{
	size_t len = 0, cap = 0, n;
	char *buf = NULL, *nb;
	int r;

	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				r = -ENOMEM;
				goto err_free_buf;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (len > MANIFEST_MAX_BYTES) {
			r = -E2BIG;
			goto err_free_buf;
		}
		if (n == 0) {
			if (ferror(fp)) {
				r = -EIO;
				goto err_free_buf;
			}
			break;
		}
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;

err_free_buf:
	free(buf);
	return r;
}

/*
 * Reads one manifest and appends it to the request body. With check, it must parse here first,
 * so that an error names the file it is in; a request of one file goes unparsed (the agent
 * parses it anyway, and its errors are put under the file's name), which spares a big apply a
 * parse.
 */
static int body_add_file(struct body *b, const char *path, bool check)
{
	char err[512] = "";
	cJSON *items = NULL;
	char *buf = NULL, *nb;
	size_t len = 0, need;
	FILE *fp;
	int r;

	if (strcmp(path, "-") == 0) {
		r = read_stream(stdin, &buf, &len);
	} else {
		fp = fopen(path, "re");
		if (!fp) {
			r = -errno;
			fprintf(stderr, "error: open %s: %s\n", path, strerror(-r));
			return r;
		}
		r = read_stream(fp, &buf, &len);
		fclose(fp);
	}
	if (r == -E2BIG) {
		fprintf(stderr, "error: %s: larger than %u MiB\n", path, MANIFEST_MAX_BYTES >> 20);
		goto out_free_buf;
	} else if (r < 0) {
		fprintf(stderr, "error: read %s: %s\n", path, strerror(-r));
		goto out_free_buf;
	}

	if (check) {
		r = manifest_parse(buf, len, path, &items, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "error: %s\n", err[0] ? err : strerror(-r));
			goto out_free_buf;
		}
		if (!cJSON_GetArraySize(items))
			goto out_free_buf; /* nothing to send; r is 0 */
	}

	need = b->len + (b->len ? 5 : 0) + len + 1;
	if (need - 1 > MANIFEST_MAX_BYTES) {
		fprintf(stderr, "error: manifests larger than %u MiB in total\n",
			MANIFEST_MAX_BYTES >> 20);
		r = -E2BIG;
		goto out_free_buf;
	}
	if (need > b->cap) {
		nb = realloc(b->buf, need);
		if (!nb) {
			r = -ENOMEM;
			fprintf(stderr, "error: out of memory\n");
			goto out_free_buf;
		}
		b->buf = nb;
		b->cap = need;
	}
	/* one multi-document stream: the agent applies it as a single batch */
	if (b->len) {
		memcpy(b->buf + b->len, "\n---\n", 5);
		b->len += 5;
	}
	memcpy(b->buf + b->len, buf, len);
	b->len += len;
	b->buf[b->len] = '\0';
	b->nobjs += check ? (size_t)cJSON_GetArraySize(items) : 1; /* unchecked: the agent counts */

out_free_buf:
	cJSON_Delete(items);
	free(buf);
	return r;
}

static bool manifest_name(const char *name)
{
	static const char *const exts[] = {".yaml", ".yml", ".json"};
	size_t n = strlen(name), e, i;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		e = strlen(exts[i]);
		if (n > e && strcmp(name + n - e, exts[i]) == 0)
			return true;
	}
	return false;
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int body_add_dir(struct body *b, const char *dir)
{
	struct dirent **ents = NULL;
	struct stat st;
	char path[4096];
	int n, i, r = 0;

	n = scandir(dir, &ents, NULL, cmp_names);
	if (n < 0) {
		r = -errno;
		fprintf(stderr, "error: read directory %s: %s\n", dir, strerror(-r));
		return r;
	}
	for (i = 0; i < n; i++) {
		if (r < 0 || !manifest_name(ents[i]->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) >=
		    sizeof(path)) {
			fprintf(stderr, "error: path too long: %s/%s\n", dir, ents[i]->d_name);
			r = -ENAMETOOLONG;
			continue;
		}
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue; /* directories named x.yaml and dangling links are skipped */
		r = body_add_file(b, path, true);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return r;
}

static int body_add_path(struct body *b, const char *path, bool check)
{
	struct stat st;

	if (strcmp(path, "-") == 0)
		return body_add_file(b, path, check);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT) {
			fprintf(stderr, "error: the path \"%s\" does not exist\n", path);
			return -ENOENT;
		}
		fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode))
		return body_add_dir(b, path);
	return body_add_file(b, path, check);
}

static int cmd_apply(struct cli *cli, int argc, char **argv, bool del)
{
	static const struct option opts[] = {
	    {"filename", required_argument, NULL, 'f'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *cmd = del ? "delete" : "apply";
	const char *files[MAX_FILENAMES];
	struct body b = {};
	cJSON *resp = NULL;
	size_t nfiles = 0, i;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (nfiles == MAX_FILENAMES) {
				fprintf(stderr, "error: more than %d -f flags\n", MAX_FILENAMES);
				return EXIT_USAGE;
			}
			files[nfiles++] = optarg;
			break;
		case 'S':
			cli->sock = optarg;
			break;
		case 'h':
			usage_apply(stdout, del);
			return EXIT_OK;
		default:
			return bad_flag(cmd, c, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument \"%s\"; manifests go after -f\n",
			argv[optind]);
		fprintf(stderr, "See 'sluice %s --help' for usage.\n", cmd);
		return EXIT_USAGE;
	}
	if (!nfiles) {
		fprintf(stderr, "error: must specify -f\n");
		fprintf(stderr, "See 'sluice %s --help' for usage.\n", cmd);
		return EXIT_USAGE;
	}
	/* one file (not a directory) goes unparsed: see body_add_file */
	if (nfiles == 1)
		cli->source = files[0];
	for (i = 0; i < nfiles; i++) {
		if (body_add_path(&b, files[i], nfiles > 1) < 0) {
			r = EXIT_ERR;
			goto out_free_body;
		}
	}
	if (!b.nobjs) {
		fprintf(stderr, "error: no objects passed to %s\n", cmd);
		r = EXIT_ERR;
		goto out_free_body;
	}

	r = call_json(cli, "POST", del ? "/v1/delete" : "/v1/apply", b.buf, b.len, APPLY_TIMEOUT_MS,
		      &resp);
	if (r != EXIT_OK)
		goto out_free_body;
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resp, "results"))) {
		fprintf(stderr, "error: no objects passed to %s\n", cmd);
		r = EXIT_ERR;
	} else if (print_results(stdout, resp, del) < 0) {
		fprintf(stderr, "error: sluice-agent's answer has no \"results\" list\n");
		r = EXIT_ERR;
	}
	cJSON_Delete(resp);

out_free_body:
	free(b.buf);
	return r;
}

/* --- get ------------------------------------------------------------------------------------ */

static const char *res_label(enum print_res res)
{
	switch (res) {
	case PRINT_RES_PODS:
		return "pods";
	case PRINT_RES_SERVICES:
		return "services";
	case PRINT_RES_ENDPOINTS:
		return "endpoints";
	case PRINT_RES_POLICIES:
		return "networkpolicies.networking.k8s.io";
	case PRINT_RES_NAMESPACES:
		return "namespaces";
	case PRINT_RES_HTTPPOLICIES:
		return "httppolicies.sluice.dev";
	}
	return "?";
}

static const char *item_name(enum print_res res, const cJSON *it)
{
	if (res == PRINT_RES_ENDPOINTS)
		return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "service"));
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(it, "metadata"), "name"));
}

/*
 * Keeps the named items of list, in the order named. Returns 0, or -ENOENT after reporting the
 * first name that is absent (kubectl's NotFound).
 */
static int keep_names(enum print_res res, cJSON *list, char **names, int n)
{
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items"), *kept, *it;
	const char *name;
	int i;

	kept = cJSON_CreateArray();
	if (!kept)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		cJSON_ArrayForEach(it, items) {
			name = item_name(res, it);
			if (name && strcmp(name, names[i]) == 0)
				break;
		}
		if (!it) {
			fprintf(stderr, "Error from server (NotFound): %s \"%s\" not found\n",
				res_label(res), names[i]);
			cJSON_Delete(kept);
			return -ENOENT;
		}
		cJSON_AddItemToArray(kept, cJSON_DetachItemViaPointer(items, it));
	}
	(void)cJSON_ReplaceItemInObjectCaseSensitive(list, "items", kept);
	return 0;
}

static int parse_output(const char *s, enum out_fmt *ret_fmt, bool allow_wide)
{
	if (allow_wide && strcmp(s, "wide") == 0)
		*ret_fmt = OUT_WIDE;
	else if (strcmp(s, "json") == 0)
		*ret_fmt = OUT_JSON;
	else if (strcmp(s, "yaml") == 0)
		*ret_fmt = OUT_YAML;
	else
		return -EINVAL;
	return 0;
}

static int cmd_get(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"namespace", required_argument, NULL, 'n'},
	    {"all-namespaces", no_argument, NULL, 'A'},
	    {"output", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	enum out_fmt fmt = OUT_TABLE;
	const char *ns = DEFAULT_NS;
	cJSON *resp = NULL, *list = NULL;
	enum print_res res;
	bool all_ns = false;
	int c, r, rows;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:Ao:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ns = optarg;
			break;
		case 'A':
			all_ns = true;
			break;
		case 'o':
			if (parse_output(optarg, &fmt, true) < 0) {
				fprintf(stderr,
					"error: unable to match a printer suitable for the output "
					"format \"%s\", allowed formats are: json,wide,yaml\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			cli->sock = optarg;
			break;
		case 'h':
			usage_get(stdout);
			return EXIT_OK;
		default:
			return bad_flag("get", c, argv);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "error: you must specify the type of resource to get: pods, "
				"services, endpoints, policies or namespaces\n");
		fprintf(stderr, "See 'sluice get --help' for usage.\n");
		return EXIT_USAGE;
	}
	if (print_res_parse(argv[optind], &res) < 0) {
		fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	optind++;
	if (all_ns || !print_res_namespaced(res))
		ns = NULL;

	r = call_json(cli, "GET", print_res_path(res), NULL, 0, GET_TIMEOUT_MS, &resp);
	if (r != EXIT_OK)
		return r;
	list = print_filter_ns(res, resp, ns);
	if (!list) {
		fprintf(stderr, "error: sluice-agent's answer to GET %s has no \"items\" list\n",
			print_res_path(res));
		r = EXIT_ERR;
		goto out_free;
	}
	if (optind < argc && keep_names(res, list, argv + optind, argc - optind) < 0) {
		r = EXIT_ERR;
		goto out_free;
	}

	if (fmt == OUT_JSON || fmt == OUT_YAML) {
		/* one named object prints alone, as kubectl does */
		if (argc - optind == 1)
			r = print_json_fmt(
			    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "items"), 0),
			    fmt);
		else
			r = print_json_fmt(list, fmt);
		goto out_free;
	}
	rows = print_table(stdout, res, list, all_ns && print_res_namespaced(res), fmt == OUT_WIDE);
	if (rows < 0) {
		fprintf(stderr, "error: cannot render sluice-agent's answer: %s\n",
			strerror(-rows));
		r = EXIT_ERR;
	} else if (rows == 0) {
		print_no_resources(stderr, res, ns);
	}

out_free:
	cJSON_Delete(list);
	cJSON_Delete(resp);
	return r;
}

/* --- status / version ----------------------------------------------------------------------- */

static int cmd_status(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	enum out_fmt fmt = OUT_TABLE;
	cJSON *st = NULL;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (parse_output(optarg, &fmt, false) < 0) {
				fprintf(stderr, "error: output format \"%s\": want json or yaml\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			cli->sock = optarg;
			break;
		case 'h':
			usage_status(stdout);
			return EXIT_OK;
		default:
			return bad_flag("status", c, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	r = call_json(cli, "GET", "/v1/status", NULL, 0, GET_TIMEOUT_MS, &st);
	if (r != EXIT_OK)
		return r;
	if (fmt != OUT_TABLE) {
		r = print_json_fmt(st, fmt);
	} else if (print_status(stdout, st) < 0) {
		fprintf(stderr, "error: sluice-agent's status answer is not an object\n");
		r = EXIT_ERR;
	}
	cJSON_Delete(st);
	return r;
}

static int cmd_version(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"client", no_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct api_resp resp = {};
	bool client_only = false;
	char reason[512] = "";
	const char *v = NULL;
	cJSON *st = NULL;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			client_only = true;
			break;
		case 'S':
			cli->sock = optarg;
			break;
		case 'h':
			usage_version(stdout);
			return EXIT_OK;
		default:
			return bad_flag("version", c, argv);
		}
	}
	printf("Client Version: %s\n", SLUICE_VERSION);
	if (client_only)
		return EXIT_OK;

	r = api_call(cli->sock, "GET", "/v1/status", NULL, 0, VERSION_TIMEOUT_MS, &resp, reason,
		     sizeof(reason));
	if (r < 0) {
		printf("Agent Version: unknown (cannot reach sluice-agent at %s: %s)\n", cli->sock,
		       reason);
		return EXIT_OK;
	}
	if (resp.status == 200) {
		st = cJSON_ParseWithLength(resp.body, resp.len);
		v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "version"));
	}
	if (v)
		printf("Agent Version: %s\n", v);
	else
		printf("Agent Version: unknown (HTTP %ld from %s)\n", resp.status, cli->sock);
	cJSON_Delete(st);
	api_resp_free(&resp);
	return EXIT_OK;
}

/* --- main ----------------------------------------------------------------------------------- */

static int cmd_help(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd)
		usage_main(stdout);
	else if (strcmp(cmd, "apply") == 0 || strcmp(cmd, "delete") == 0)
		usage_apply(stdout, strcmp(cmd, "delete") == 0);
	else if (strcmp(cmd, "get") == 0)
		usage_get(stdout);
	else if (strcmp(cmd, "status") == 0)
		usage_status(stdout);
	else if (strcmp(cmd, "observe") == 0)
		return observe_main(NULL, 2, (char *[]){ "observe", "--help", NULL });
	else if (strcmp(cmd, "top") == 0)
		return top_main(NULL, 2, (char *[]){ "top", "--help", NULL });
	else if (strcmp(cmd, "version") == 0)
		usage_version(stdout);
	else {
		fprintf(stderr, "error: unknown command \"%s\"\n", cmd);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cli cli = {.sock = getenv("SLUICE_SOCKET")};
	bool sock_flag = false;
	const char *cmd;
	int i = 1, r;

	log_set_level(LOG_LVL_WARN);
	if (!cli.sock || !*cli.sock)
		cli.sock = API_DEFAULT_SOCK;

	/* global options come before the command */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			cli.sock = argv[++i];
			sock_flag = true;
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			cli.sock = argv[i] + 9;
			sock_flag = true;
		} else if (strcmp(argv[i], "--debug") == 0) {
			log_set_level(LOG_LVL_DEBUG);
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage_main(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "error: %s: %s\n",
				strcmp(argv[i], "--socket") == 0 ? "flag needs an argument"
								 : "unknown flag",
				argv[i]);
			fprintf(stderr, "See 'sluice --help' for usage.\n");
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	optind = 1;

	if (strcmp(cmd, "apply") == 0) {
		r = cmd_apply(&cli, argc, argv, false);
	} else if (strcmp(cmd, "delete") == 0) {
		r = cmd_apply(&cli, argc, argv, true);
	} else if (strcmp(cmd, "get") == 0) {
		r = cmd_get(&cli, argc, argv);
	} else if (strcmp(cmd, "status") == 0) {
		r = cmd_status(&cli, argc, argv);
	} else if (strcmp(cmd, "observe") == 0) {
		r = observe_main(cli.sock, argc, argv);
	} else if (strcmp(cmd, "top") == 0) {
		r = top_main(cli.sock, argc, argv);
	} else if (strcmp(cmd, "version") == 0) {
		r = cmd_version(&cli, argc, argv);
	} else if (strcmp(cmd, "help") == 0) {
		r = cmd_help(argc, argv);
	} else if (strcmp(cmd, "lab") == 0) {
		/* lab talks to the agent too; hand it a socket given on the command line */
		if (sock_flag && setenv("SLUICE_SOCKET", cli.sock, 1) < 0) {
			fprintf(stderr, "error: setenv: %s\n", strerror(errno));
			return EXIT_ERR;
		}
		r = lab_main(argc, argv);
	} else {
		fprintf(stderr, "error: unknown command \"%s\" for \"sluice\"\n", cmd);
		fprintf(stderr, "See 'sluice --help' for usage.\n");
		r = EXIT_USAGE;
	}
	return r;
}

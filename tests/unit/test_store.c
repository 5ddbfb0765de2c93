// SPDX-License-Identifier: Apache-2.0
/*
 * agent/state/store and agent/sync/sync_build: batch atomicity, apply actions, endpoint
 * derivation (selectors, named targetPorts, EndpointSlices), persistence, and service ids that
 * stay stable given the current sluice_svc records.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "agent/state/store.h"
#include "agent/sync/sync.h"
#include "sl_abi.h"

#define NS_DEFAULT                                                                                \
	"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"default\"}}"

#define SVC_WEB                                                                                   \
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","          \
	"\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.10\","                      \
	"\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\",\"port\":80,"              \
	"\"protocol\":\"TCP\",\"targetPort\":\"http-alt\"}]}}"

#define POD(name, app, extra)                                                                    \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\","          \
	"\"namespace\":\"default\",\"labels\":{\"app\":\"" app "\"}},\"spec\":{\"containers\":"  \
	"[{\"name\":\"c\",\"image\":\"nginx\",\"ports\":[{\"name\":\"http-alt\","              \
	"\"containerPort\":8080,\"protocol\":\"TCP\"}]}]}" extra "}"

#define SVC_EXT                                                                                   \
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"ext\","          \
	"\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.20\","                      \
	"\"ports\":[{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\"}]}}"

#define SLICE_EXT                                                                                 \
	"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"       \
	"\"name\":\"ext-1\",\"namespace\":\"default\",\"labels\":{"                                \
	"\"kubernetes.io/service-name\":\"ext\"}},\"addressType\":\"IPv4\",\"endpoints\":["      \
	"{\"addresses\":[\"192.168.1.10\"],\"conditions\":{\"ready\":true}},"                     \
	"{\"addresses\":[\"192.168.1.11\"],\"conditions\":{\"ready\":false}}],"                   \
	"\"ports\":[{\"name\":\"https\",\"port\":8443,\"protocol\":\"TCP\"}]}"

struct t {
	struct store *st;
	struct store *other;	     /* a second store, freed by teardown */
	struct sync_desired d1, d2; /* freed by teardown, so a failed assert leaks nothing */
	char err[512];
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t || store_new(&t->st) < 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	store_free(t->st);
	store_free(t->other);
	sync_desired_free(&t->d1);
	sync_desired_free(&t->d2);
	free(t);
	return 0;
}

static cJSON *parse(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	assert_non_null(j);
	return j;
}

/* Applies a JSON array literal; returns store_apply's result, results freed. */
static int apply(struct t *t, const char *json_array)
{
	cJSON *items = parse(json_array), *res = NULL;
	int r;

	t->err[0] = '\0';
	r = store_apply(t->st, items, &res, t->err, sizeof(t->err));
	cJSON_Delete(res);
	cJSON_Delete(items);
	return r;
}

static const char *action_at(const cJSON *results, int i)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(results, i), "action");

	assert_true(cJSON_IsString(a));
	return a->valuestring;
}

static void add_ep(struct store *st, const char *cid, const char *pod, int ifindex, const char *ip,
		   unsigned int *ret_id)
{
	struct store_ep ep = { .host_ifindex = ifindex, .n_ips = 1 };

	snprintf(ep.container_id, sizeof(ep.container_id), "%s", cid);
	snprintf(ep.pod_ns, sizeof(ep.pod_ns), "default");
	snprintf(ep.pod_name, sizeof(ep.pod_name), "%s", pod);
	snprintf(ep.netns, sizeof(ep.netns), "/var/run/netns/%s", pod);
	snprintf(ep.ifname, sizeof(ep.ifname), "eth0");
	snprintf(ep.host_ifname, sizeof(ep.host_ifname), "veth%d", ifindex);
	snprintf(ep.ips[0], sizeof(ep.ips[0]), "%s", ip);
	assert_int_equal(store_ep_add(st, &ep, ret_id), 0);
}

static const cJSON *svc_item(const cJSON *items, const char *name)
{
	const cJSON *it, *n;

	cJSON_ArrayForEach(it, items) {
		n = cJSON_GetObjectItemCaseSensitive(it, "service");
		if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
			return it;
	}
	fail_msg("no endpoints item for service %s", name);
	return NULL;
}

static int num_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	assert_true(cJSON_IsNumber(v));
	return v->valueint;
}

static const char *str_at(const cJSON *o, const char *a)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

/* --- apply / delete ------------------------------------------------------------------------- */

static void store_apply__batch_with_one_invalid_object__changes_nothing(void **state)
{
	struct t *t = *state;
	cJSON *items = parse("[" NS_DEFAULT "," SVC_WEB "]"), *res = NULL;

	assert_int_equal(apply(t, "[" NS_DEFAULT "]"), 0);
	/* a new pod, a changed namespace, then a Service with an out-of-range port */
	assert_int_equal(apply(t, "[" POD("web-1", "web", "") ","
				  "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
				  "\"name\":\"default\",\"labels\":{\"team\":\"a\"}}},"
				  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
				  "\"name\":\"bad\",\"namespace\":\"default\"},\"spec\":{"
				  "\"clusterIP\":\"10.96.0.99\",\"ports\":[{\"port\":70000}]}}]"),
			 -EINVAL);
	assert_non_null(strstr(t->err, "bad"));
	assert_non_null(strstr(t->err, "70000"));
	assert_int_equal(store_count(t->st, OBJ_POD), 0);
	assert_int_equal(store_count(t->st, OBJ_SERVICE), 0);
	assert_int_equal(store_count(t->st, OBJ_NAMESPACE), 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(
			store_obj_get(t->st, OBJ_NAMESPACE, "", "default"), "metadata"),
		"labels"));
	/* and the input is not consumed or changed */
	assert_int_equal(store_apply(t->st, items, &res, t->err, sizeof(t->err)), 0);
	assert_int_equal(cJSON_GetArraySize(items), 2);
	cJSON_Delete(res);
	cJSON_Delete(items);
}

static void store_apply__new_changed_and_same_objects__created_configured_unchanged(void **state)
{
	struct t *t = *state;
	cJSON *items, *res = NULL;

	assert_int_equal(apply(t, "[" NS_DEFAULT "," POD("web-1", "web", "") "]"), 0);
	items = parse("[" NS_DEFAULT "," POD("web-1", "web2", "") "," SVC_WEB "]");
	assert_int_equal(store_apply(t->st, items, &res, t->err, sizeof(t->err)), 0);
	assert_int_equal(cJSON_GetArraySize(res), 3);
	assert_string_equal(action_at(res, 0), "unchanged");
	assert_string_equal(action_at(res, 1), "configured");
	assert_string_equal(action_at(res, 2), "created");
	assert_string_equal(str_at(cJSON_GetArrayItem(res, 2), "kind"), "Service");
	assert_string_equal(str_at(cJSON_GetArrayItem(res, 2), "namespace"), "default");
	assert_string_equal(str_at(cJSON_GetArrayItem(res, 2), "name"), "web");
	assert_int_equal(store_count(t->st, OBJ_POD), 1);
	assert_int_equal(store_count(t->st, OBJ_SERVICE), 1);
	cJSON_Delete(res);
	cJSON_Delete(items);
}

static void store_apply__object_without_namespace__defaults_to_default(void **state)
{
	struct t *t = *state;

	assert_int_equal(apply(t, "[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
				  "\"name\":\"plain\"},\"spec\":{\"clusterIP\":\"10.96.0.30\","
				  "\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}]}}]"),
			 0);
	assert_non_null(store_obj_get(t->st, OBJ_SERVICE, "default", "plain"));
}

static void store_delete__one_object_missing__aborts_whole_batch(void **state)
{
	struct t *t = *state;
	cJSON *items, *res = NULL;

	assert_int_equal(apply(t, "[" SVC_WEB "," SVC_EXT "]"), 0);
	items = parse("[" SVC_WEB ",{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
		      "\"name\":\"nope\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":"
		      "\"10.96.0.40\",\"ports\":[{\"port\":80}]}}]");
	assert_int_equal(store_delete(t->st, items, &res, t->err, sizeof(t->err)), -ENOENT);
	assert_null(res);
	assert_non_null(strstr(t->err, "nope"));
	assert_int_equal(store_count(t->st, OBJ_SERVICE), 2);
	assert_non_null(store_obj_get(t->st, OBJ_SERVICE, "default", "web"));
	cJSON_Delete(items);

	items = parse("[" SVC_WEB "]");
	assert_int_equal(store_delete(t->st, items, &res, t->err, sizeof(t->err)), 0);
	assert_string_equal(action_at(res, 0), "deleted");
	assert_int_equal(store_count(t->st, OBJ_SERVICE), 1);
	assert_null(store_obj_get(t->st, OBJ_SERVICE, "default", "web"));
	cJSON_Delete(res);
	cJSON_Delete(items);
}

static void store_obj_at__applied_out_of_order__iterates_in_key_order(void **state)
{
	struct t *t = *state;
	const cJSON *o;

	assert_int_equal(apply(t, "[" POD("web-b", "web", "") "]"), 0);
	assert_int_equal(apply(t, "[" POD("web-a", "web", "") "]"), 0);
	o = store_obj_at(t->st, OBJ_POD, 0);
	assert_non_null(o);
	assert_string_equal(str_at(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "name"),
			    "web-a");
	assert_null(store_obj_at(t->st, OBJ_POD, 2));
}

/* Pods p0..p(n-1) applied in reverse, then one batch naming p3 twice, the later copy labelled
 * differently: the later wins, order and lookups hold, and a delete naming p1 twice removes it
 * once. Exercises the sorted index the store keeps beside cJSON's lists. */
static void store_apply__many_and_duplicates__index_sorted_later_copy_wins(void **state)
{
	struct t *t = *state;
	char buf[256], name[16];
	cJSON *items, *res = NULL;
	const cJSON *o, *prev = NULL;
	int i;

	for (i = 9; i >= 0; i--) {
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(buf, sizeof(buf), "[" POD("%s", "a", "") "]", name);
		assert_int_equal(apply(t, buf), 0);
	}
	assert_int_equal(apply(t, "[" POD("p3", "a", "") "," POD("px", "a", "") ","
			 POD("p3", "b", "") "]"), 0);
	assert_int_equal(store_count(t->st, OBJ_POD), 11);
	for (i = 0; i < store_count(t->st, OBJ_POD); i++) {
		o = store_obj_at(t->st, OBJ_POD, i);
		if (prev)
			assert_true(strcmp(str_at(cJSON_GetObjectItemCaseSensitive(prev, "metadata"), "name"),
					   str_at(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "name")) < 0);
		prev = o;
	}
	o = store_obj_get(t->st, OBJ_POD, "default", "p3");
	assert_non_null(o);
	assert_string_equal(str_at(cJSON_GetObjectItemCaseSensitive(
					   cJSON_GetObjectItemCaseSensitive(o, "metadata"), "labels"), "app"), "b");
	assert_non_null(store_obj_get(t->st, OBJ_POD, "default", "px"));

	items = parse("[" POD("p1", "a", "") "," POD("p1", "a", "") "," POD("p7", "a", "") "]");
	assert_int_equal(store_delete(t->st, items, &res, t->err, sizeof(t->err)), 0);
	cJSON_Delete(res);
	cJSON_Delete(items);
	assert_int_equal(store_count(t->st, OBJ_POD), 9);
	assert_null(store_obj_get(t->st, OBJ_POD, "default", "p1"));
	assert_null(store_obj_get(t->st, OBJ_POD, "default", "p7"));
	assert_non_null(store_obj_get(t->st, OBJ_POD, "default", "p8"));
	assert_non_null(store_obj_get(t->st, OBJ_POD, "default", "p0"));
}

/* The taking variant the API uses: objects move into the store; a bad batch changes nothing. */
static void store_apply_take__moves_objects__and_bad_batch_changes_nothing(void **state)
{
	struct t *t = *state;
	cJSON *items, *res = NULL;

	items = parse("[" POD("a", "x", "") "," POD("b", "x", "") "]");
	assert_int_equal(store_apply_take(t->st, items, &res, t->err, sizeof(t->err)), 0);
	assert_int_equal(cJSON_GetArraySize(items), 0);
	assert_int_equal(cJSON_GetArraySize(res), 2);
	assert_int_equal(store_count(t->st, OBJ_POD), 2);
	cJSON_Delete(res);
	cJSON_Delete(items);

	res = NULL;
	items = parse("[" POD("c", "x", "") ",{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}]");
	assert_true(store_apply_take(t->st, items, &res, t->err, sizeof(t->err)) < 0);
	assert_null(res);
	assert_int_equal(store_count(t->st, OBJ_POD), 2);
	assert_null(store_obj_get(t->st, OBJ_POD, "default", "c"));
	cJSON_Delete(items);
}

/* --- endpoints ------------------------------------------------------------------------------ */

static void store_ep_add__same_container_twice__keeps_ep_id(void **state)
{
	struct t *t = *state;
	unsigned int a, b, c;

	add_ep(t->st, "c1", "web-1", 11, "10.1.0.5", &a);
	add_ep(t->st, "c2", "web-2", 12, "10.1.0.6", &b);
	add_ep(t->st, "c1", "web-1", 13, "10.1.0.7", &c);
	assert_int_not_equal(a, 0);
	assert_int_not_equal(a, b);
	assert_int_equal(a, c);
	assert_int_equal(store_ep_count(t->st), 2);
	assert_int_equal(store_ep_for_pod(t->st, "default", "web-1")->host_ifindex, 13);
	assert_int_equal(store_ep_del(t->st, "c1"), 0);
	assert_int_equal(store_ep_del(t->st, "unknown"), 0);
	assert_int_equal(store_ep_count(t->st), 1);
	assert_null(store_ep_for_pod(t->st, "default", "web-1"));
}

static void store_service_endpoints__selector_and_named_target_port__resolves_pods(void **state)
{
	struct t *t = *state;
	const cJSON *web, *eps, *e;
	cJSON *items;
	unsigned int id1;

	assert_int_equal(apply(t, "[" SVC_WEB "," POD("web-1", "web", "") ","
				  POD("web-2", "web", "") "," POD("db-1", "db", "") "]"),
			 0);
	add_ep(t->st, "c1", "web-1", 11, "10.1.0.5", &id1);
	add_ep(t->st, "c3", "db-1", 13, "10.1.0.9", NULL);
	/* web-2 matches the selector but has no registered endpoint: not an address yet */
	items = store_service_endpoints(t->st);
	assert_non_null(items);
	web = svc_item(items, "web");
	assert_string_equal(str_at(web, "namespace"), "default");
	eps = cJSON_GetObjectItemCaseSensitive(web, "endpoints");
	assert_int_equal(cJSON_GetArraySize(eps), 1);
	e = cJSON_GetArrayItem(eps, 0);
	assert_string_equal(str_at(e, "ip"), "10.1.0.5");
	assert_string_equal(str_at(e, "pod"), "web-1");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "ready")));
	assert_int_equal(num_at(e, "ports", "http"), 8080); /* targetPort "http-alt" */
	assert_int_equal(num_at(e, "port", NULL), 8080);
	assert_int_equal(num_at(e, "endpointID", NULL), (int)id1);
	cJSON_Delete(items);
}

static void store_service_endpoints__service_without_selector__uses_endpoint_slices(void **state)
{
	struct t *t = *state;
	const cJSON *ext, *eps, *e0, *e1;
	cJSON *items;

	assert_int_equal(apply(t, "[" SVC_EXT "," SLICE_EXT "," POD("web-1", "web", "") "]"), 0);
	add_ep(t->st, "c1", "web-1", 11, "10.1.0.5", NULL);
	items = store_service_endpoints(t->st);
	assert_non_null(items);
	ext = svc_item(items, "ext");
	eps = cJSON_GetObjectItemCaseSensitive(ext, "endpoints");
	assert_int_equal(cJSON_GetArraySize(eps), 2);
	e0 = cJSON_GetArrayItem(eps, 0);
	e1 = cJSON_GetArrayItem(eps, 1);
	assert_string_equal(str_at(e0, "ip"), "192.168.1.10");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e0, "ready")));
	assert_int_equal(num_at(e0, "ports", "https"), 8443);
	assert_string_equal(str_at(e1, "ip"), "192.168.1.11");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e1, "ready")));
	cJSON_Delete(items);
}

/* --- persistence ---------------------------------------------------------------------------- */

static void store_save__then_load__round_trips_objects_and_endpoints(void **state)
{
	struct t *t = *state;
	char path[] = "/tmp/sluice-test-store-XXXXXX";
	const struct store_ep *a, *b;
	cJSON *l1, *l2;
	unsigned int id_web, id_db, id_new;
	int fd, k;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(apply(t, "[" NS_DEFAULT "," SVC_WEB "," SVC_EXT "," SLICE_EXT ","
				  POD("web-1", "web", "") "," POD("db-1", "db", "") "]"),
			 0);
	add_ep(t->st, "c1", "web-1", 11, "10.1.0.5", &id_web);
	add_ep(t->st, "c3", "db-1", 13, "10.1.0.9", &id_db);
	assert_int_equal(store_save(t->st, path), 0);

	assert_int_equal(store_new(&t->other), 0);
	assert_int_equal(store_load(t->other, path, t->err, sizeof(t->err)), 0);
	for (k = 0; k < OBJ_KIND_MAX; k++) {
		l1 = store_list(t->st, (enum obj_kind)k);
		l2 = store_list(t->other, (enum obj_kind)k);
		assert_non_null(l1);
		assert_non_null(l2);
		assert_true(cJSON_Compare(l1, l2, true));
		cJSON_Delete(l1);
		cJSON_Delete(l2);
	}
	assert_int_equal(store_ep_count(t->other), 2);
	a = store_ep_for_pod(t->st, "default", "web-1");
	b = store_ep_for_pod(t->other, "default", "web-1");
	assert_non_null(b);
	assert_memory_equal(a, b, sizeof(*a));
	assert_int_equal(store_ep_for_pod(t->other, "default", "db-1")->ep_id, id_db);
	/* ids handed out after a load do not collide with loaded ones */
	add_ep(t->other, "c9", "new-1", 19, "10.1.0.19", &id_new);
	assert_int_not_equal(id_new, id_web);
	assert_int_not_equal(id_new, id_db);
	unlink(path);
}

static void store_load__missing_file__is_empty_store(void **state)
{
	struct t *t = *state;

	assert_int_equal(store_load(t->st, "/tmp/sluice-test-store-does-not-exist", t->err,
				    sizeof(t->err)), 0);
	assert_int_equal(store_count(t->st, OBJ_SERVICE), 0);
	assert_int_equal(store_ep_count(t->st), 0);
}

static void store_load__garbage__einval_names_file(void **state)
{
	struct t *t = *state;
	char path[] = "/tmp/sluice-test-store-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[1,2", 4), 4);
	close(fd);
	assert_int_equal(store_load(t->st, path, t->err, sizeof(t->err)), -EINVAL);
	assert_non_null(strstr(t->err, path));
	unlink(path);
}

/* --- sync_build ----------------------------------------------------------------------------- */

#define SVC_REC (sizeof(struct sl_svc_key) + sizeof(struct sl_svc_val))

static int sb(struct t *t, const struct store *st, const void *cur_svc, size_t n_svc,
	      const void *cur_bk, size_t n_bk, struct sync_desired *d)
{
	struct sync_input in = { .cur_svc = cur_svc, .n_cur_svc = n_svc, .cur_backend = cur_bk,
				 .n_cur_backend = n_bk, .ep_stats_value_size = 64 };

	return sync_build(st, &in, d, t->err, sizeof(t->err));
}
#define BK_REC	(sizeof(struct sl_backend_key) + sizeof(struct sl_backend_val))

static void svc_rec_at(const struct sync_desired *d, size_t i, struct sl_svc_key *k,
		       struct sl_svc_val *v)
{
	memcpy(k, (const unsigned char *)d->svc + i * SVC_REC, sizeof(*k));
	memcpy(v, (const unsigned char *)d->svc + i * SVC_REC + sizeof(*k), sizeof(*v));
}

/* Index of the frontend for vip:port/tcp, asserting it exists. */
static size_t svc_find(const struct sync_desired *d, const char *vip, uint16_t port)
{
	struct sl_svc_key k;
	struct sl_svc_val v;
	uint32_t a;
	size_t i;

	assert_int_equal(inet_pton(AF_INET, vip, &a), 1);
	for (i = 0; i < d->n_svc; i++) {
		svc_rec_at(d, i, &k, &v);
		if (k.addr[0] == a && k.port == htons(port))
			return i;
	}
	fail_msg("no frontend %s:%u", vip, port);
	return 0;
}

static void setup_two_services(struct t *t, unsigned int *ret_web_ep)
{
	assert_int_equal(apply(t, "[" SVC_WEB "," SVC_EXT "," SLICE_EXT ","
				  POD("web-1", "web", "") "," POD("web-2", "web", "") "]"),
			 0);
	add_ep(t->st, "c1", "web-1", 11, "10.1.0.5", ret_web_ep);
	add_ep(t->st, "c2", "web-2", 12, "10.1.0.6", NULL);
}

static void sync_build__two_services__encodes_frontends_backends_and_endpoints(void **state)
{
	struct t *t = *state;
	struct sl_svc_key k;
	struct sl_svc_val v;
	struct sl_backend_key bk;
	struct sl_backend_val bv;
	const unsigned char *r;
	unsigned int ep1;
	uint32_t a;
	size_t i, n_web = 0;

	setup_two_services(t, &ep1);
	assert_int_equal(sb(t, t->st, NULL, 0, NULL, 0, &t->d1), 0);
	assert_int_equal(t->d1.n_ep, 2);
	assert_int_equal(t->d1.n_ep_stats, 2);
	assert_int_equal(t->d1.ep_stats_value_size, 64);
	assert_int_equal(t->d1.n_svc, 2);
	assert_int_equal(t->d1.n_backend, 3); /* web-1, web-2, and the ready slice address */

	svc_rec_at(&t->d1, svc_find(&t->d1, "10.96.0.10", 80), &k, &v);
	assert_int_equal(k.proto, IPPROTO_TCP);
	assert_int_equal(k.family, SL_AF_INET);
	assert_int_equal(v.count, 2);
	assert_int_not_equal(v.svc_id, 0);
	for (i = 0; i < t->d1.n_backend; i++) {
		r = (const unsigned char *)t->d1.backend + i * BK_REC;
		memcpy(&bk, r, sizeof(bk));
		memcpy(&bv, r + sizeof(bk), sizeof(bv));
		if (bk.svc_id != v.svc_id)
			continue;
		n_web++;
		assert_true(bk.slot < 2);
		assert_int_equal(bv.port, htons(8080));
		assert_int_equal(bv.family, SL_AF_INET);
		/* slots follow sorted backend values: 10.1.0.5 (web-1) first */
		assert_int_equal(inet_pton(AF_INET, bk.slot == 0 ? "10.1.0.5" : "10.1.0.6", &a), 1);
		assert_int_equal(bv.addr[0], a);
		if (bk.slot == 0)
			assert_int_equal(bv.ep_id, ep1);
	}
	assert_int_equal(n_web, 2);

	svc_rec_at(&t->d1, svc_find(&t->d1, "10.96.0.20", 443), &k, &v);
	assert_int_equal(v.count, 1); /* the not-ready slice address is left out */
}

static void sync_build__current_svc_ids__kept_and_not_reused(void **state)
{
	struct t *t = *state;
	struct sl_svc_key kweb, kext;
	struct sl_svc_val vweb, vext;
	unsigned char cur[SVC_REC];
	size_t iw, ie;

	setup_two_services(t, NULL);
	assert_int_equal(sb(t, t->st, NULL, 0, NULL, 0, &t->d1), 0);

	/* the map already holds web's frontend, under id 7 */
	svc_rec_at(&t->d1, svc_find(&t->d1, "10.96.0.10", 80), &kweb, &vweb);
	vweb.svc_id = 7;
	memcpy(cur, &kweb, sizeof(kweb));
	memcpy(cur + sizeof(kweb), &vweb, sizeof(vweb));
	assert_int_equal(sb(t, t->st, cur, 1, NULL, 0, &t->d2), 0);
	iw = svc_find(&t->d2, "10.96.0.10", 80);
	ie = svc_find(&t->d2, "10.96.0.20", 443);
	svc_rec_at(&t->d2, iw, &kweb, &vweb);
	svc_rec_at(&t->d2, ie, &kext, &vext);
	assert_int_equal(vweb.svc_id, 7);
	assert_int_not_equal(vext.svc_id, 7);
	assert_int_not_equal(vext.svc_id, 0);
}

static void sync_build__fed_its_own_output__identical_contents(void **state)
{
	struct t *t = *state;

	setup_two_services(t, NULL);
	assert_int_equal(sb(t, t->st, NULL, 0, NULL, 0, &t->d1), 0);
	assert_int_equal(sb(t, t->st, t->d1.svc, t->d1.n_svc, t->d1.backend, t->d1.n_backend,
				    &t->d2), 0);
	assert_int_equal(t->d1.n_svc, t->d2.n_svc);
	assert_int_equal(t->d1.n_backend, t->d2.n_backend);
	assert_memory_equal(t->d1.svc, t->d2.svc, t->d1.n_svc * SVC_REC);
	assert_memory_equal(t->d1.backend, t->d2.backend, t->d1.n_backend * BK_REC);
	sync_desired_free(NULL);
}

static void sync_build__applied_in_other_order__same_fresh_ids(void **state)
{
	struct t *t = *state;
	struct sl_svc_key k1, k2;
	struct sl_svc_val v1, v2;
	cJSON *items, *res = NULL;

	setup_two_services(t, NULL);
	/* the same objects applied ext-first: ids from key order, not arrival order */
	assert_int_equal(store_new(&t->other), 0);
	items = parse("[" SVC_EXT "," SLICE_EXT "," POD("web-2", "web", "") ","
		      POD("web-1", "web", "") "," SVC_WEB "]");
	assert_int_equal(store_apply(t->other, items, &res, t->err, sizeof(t->err)), 0);
	cJSON_Delete(res);
	cJSON_Delete(items);
	add_ep(t->other, "c1", "web-1", 11, "10.1.0.5", NULL);
	add_ep(t->other, "c2", "web-2", 12, "10.1.0.6", NULL);
	assert_int_equal(sb(t, t->st, NULL, 0, NULL, 0, &t->d1), 0);
	assert_int_equal(sb(t, t->other, NULL, 0, NULL, 0, &t->d2), 0);
	svc_rec_at(&t->d1, svc_find(&t->d1, "10.96.0.10", 80), &k1, &v1);
	svc_rec_at(&t->d2, svc_find(&t->d2, "10.96.0.10", 80), &k2, &v2);
	assert_int_equal(v1.svc_id, v2.svc_id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(store_apply__batch_with_one_invalid_object__changes_nothing),
		T(store_apply__new_changed_and_same_objects__created_configured_unchanged),
		T(store_apply__object_without_namespace__defaults_to_default),
		T(store_delete__one_object_missing__aborts_whole_batch),
		T(store_obj_at__applied_out_of_order__iterates_in_key_order),
	T(store_apply__many_and_duplicates__index_sorted_later_copy_wins),
	T(store_apply_take__moves_objects__and_bad_batch_changes_nothing),
		T(store_ep_add__same_container_twice__keeps_ep_id),
		T(store_service_endpoints__selector_and_named_target_port__resolves_pods),
		T(store_service_endpoints__service_without_selector__uses_endpoint_slices),
		T(store_save__then_load__round_trips_objects_and_endpoints),
		T(store_load__missing_file__is_empty_store),
		T(store_load__garbage__einval_names_file),
		T(sync_build__two_services__encodes_frontends_backends_and_endpoints),
		T(sync_build__current_svc_ids__kept_and_not_reused),
		T(sync_build__fed_its_own_output__identical_contents),
		T(sync_build__applied_in_other_order__same_fresh_ids),
#undef T
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cardinality control for exported metrics: a series table of one metric group (metrics that
 * share one label set and are written together). Each scrape adds rows (a label set and its
 * counters) in any order and any number; rows with equal label sets are summed. A label set is
 * admitted as a series of its own while the group holds fewer than its limit; the rest are
 * summed into one overflow series (labelled otel_metric_overflow="true", as OpenTelemetry's
 * SDKs do). Admission sticks across scrapes, so a series never moves between itself and the
 * overflow while it lives; a series no row contributed to in a scrape is dropped (its pod went,
 * its kernel entries with it), which frees its place.
 */
#ifndef SL_AGENT_TEL_SERIES_H
#define SL_AGENT_TEL_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define TEL_OVERFLOW_LABELS "otel_metric_overflow=\"true\""

/* --- the label allow-list ------------------------------------------------------------------ */

enum tel_label {
	TEL_NAMESPACE,	    /* k8s_namespace_name: the pod whose socket it is */
	TEL_POD,	    /* k8s_pod_name */
	TEL_ROLE,	    /* role: client (it connected) or server (it accepted) */
	TEL_TRANSPORT,	    /* network_transport: tcp */
	TEL_SERVER_PORT,    /* server_port: the port connected to (a Service's port) */
	TEL_SERVICE,	    /* service_name: the Service connected to (client side) */
	TEL_SERVICE_NS,	    /* service_namespace */
	TEL_PEER_NAMESPACE, /* peer_k8s_namespace_name: the pod at the other end */
	TEL_PEER_POD,	    /* peer_k8s_pod_name */
	TEL_PEER_ADDRESS,   /* network_peer_address: its address (not allowed by default) */
	TEL_HTTP_METHOD,    /* http_request_method (HTTP metrics): GET ..., or _OTHER */
	TEL_HTTP_STATUS,    /* http_response_status_code */
	TEL_ERROR_TYPE,	    /* error_type: the status code of a failed request (HTTP); why a drop */
	TEL_IO_DIRECTION,   /* network_io_direction: transmit (the pod sent it) or receive (drops) */
	TEL_LABEL_MAX,
};

#define TEL_SERIES_DEFAULT 2000 /* series per metric group before the overflow series */

#define TEL_LABELS_DEFAULT                                                                    \
	((1u << TEL_LABEL_MAX) - 1 - (1u << TEL_PEER_ADDRESS))

const char *tel_label_name(enum tel_label l);

/*
 * A comma-separated allow-list of label names ("" or NULL: the default, every label but
 * network_peer_address) into a mask of 1 << enum tel_label. -EINVAL naming the bad entry.
 * A label a metric does not have (the HTTP ones on L4 metrics) is simply absent there.
 */
int tel_labels_parse(const char *list, unsigned int *ret_mask, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* --- series -------------------------------------------------------------------------------- */

struct tel_series;

/* A group whose rows carry n_vals counters each, admitting at most limit series. */
int tel_series_new(size_t n_vals, unsigned int limit, struct tel_series **ret)
	__attribute__((warn_unused_result));
void tel_series_free(struct tel_series *t);

/* Starts a scrape: forgets the rows of the last one. */
void tel_series_begin(struct tel_series *t);
/* A row: labels in Prometheus text form (k="v",...; "" for none), copied. */
int tel_series_add(struct tel_series *t, const char *labels, const uint64_t *vals)
	__attribute__((warn_unused_result));
/* Ends a scrape: sums equal label sets, admits, fills the overflow, drops what went. */
int tel_series_end(struct tel_series *t) __attribute__((warn_unused_result));

/* After tel_series_end: the series, in label order, then the overflow (if anything overflowed). */
size_t tel_series_count(const struct tel_series *t);
void tel_series_at(const struct tel_series *t, size_t i, const char **ret_labels,
		   const uint64_t **ret_vals);
/* How many label sets went into the overflow in the last scrape (0: no overflow series). */
size_t tel_series_overflowed(const struct tel_series *t);

/*
 * A metric family over a series table: written as Prometheus text (tel_family_prom) and as
 * an OTLP/JSON metric (tel_family_otlp) from the same description, so both say the same.
 */
enum tel_kind {
	TEL_COUNTER,
	TEL_HIST,
};

struct tel_family {
	const char *prom;	/* Prometheus name (a histogram's base name) */
	const char *otel;	/* OpenTelemetry name */
	const char *unit;	/* UCUM: "s", "By", "{connection}", ... */
	const char *help;
	enum tel_kind kind;
	size_t idx;		/* a counter's value; a histogram's first bucket */
	size_t sum_idx;		/* a histogram's sum */
	double sum_scale;	/* seconds (or the unit) per unit of the sum */
	const double *bounds;	/* a histogram's finite upper bounds */
	size_t n_bounds;
	long when_idx;		/* >= 0: leave out the series whose vals[when_idx] is 0 */
};

void tel_family_prom(FILE *f, const struct tel_series *t, const struct tel_family *fam);

/*
 * Appends the family to an OTLP metrics array as a cumulative Sum (monotonic) or Histogram,
 * one data point per series, the labels as attributes under OpenTelemetry's names
 * (k8s.pod.name, http.request.method, ...). Times in ns since the epoch. 0 or -ENOMEM.
 */
int tel_family_otlp(cJSON *metrics, const struct tel_series *t, const struct tel_family *fam,
		    uint64_t start_ns, uint64_t now_ns);

/* The labels of a series as a JSON object {"name": "value", ...} (the overflow series:
 * {"otel_metric_overflow": "true"}). */
cJSON *tel_labels_json(const char *labels);

/* One sluice_telemetry_series line pair (series, overflowed) for a group; the family's HELP
 * and TYPE are the caller's. */
void tel_series_gauge(FILE *f, const char *group, const struct tel_series *t);

/* Appends v to buf as a Prometheus label value (escaping \, " and newline); false if it does
 * not fit. */
bool tel_label_append(char *buf, size_t len, const char *name, const char *v);

/*
 * Writes one family line per series of t: NAME{labels} vals[idx]. For a histogram
 * (bounds != NULL, n_bounds finite bounds in seconds), vals[idx..idx+n_bounds] are the bucket
 * counts (the last one above every bound) and vals[sum_idx] the sum in units of sum_scale
 * seconds: NAME_bucket{..,le=".."} cumulative, NAME_sum and NAME_count.
 */
void tel_series_write(FILE *f, const struct tel_series *t, const char *name, const char *type,
		      const char *help, size_t idx);
void tel_series_write_hist(FILE *f, const struct tel_series *t, const char *name,
			   const char *help, size_t idx, const double *bounds, size_t n_bounds,
			   size_t sum_idx, double sum_scale);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent core: desired state, the loader and the map writer behind one lock. The API and
 * metrics servers (libmicrohttpd threads) and the main loop call in here.
 */
#ifndef SL_AGENT_AGENT_H
#define SL_AGENT_AGENT_H

#include <stdio.h>

#include "agent/loader/loader.h"

struct agent_config {
	char bpffs_root[256];
	char api_socket[256];
	char metrics_addr[64]; /* host:port, or "" for off */
	char state_file[256];
	char cgroup[256];
	char uplink[16];
	char netns[256];
	char log_level[16];
	struct loader_map_sizes sizes; /* 0: default */
	unsigned int maglev_table_size; /* prime; 0: SL_MAGLEV_DEFAULT */
	unsigned int policy_events_per_sec; /* per CPU; 0: no flow events */
	unsigned int policy_track_flows;    /* 1: track every pod's flows (SL_EP_F_TRACK) */
	unsigned int http_policy;	    /* 1: enforce HTTPPolicy (l7_http.bpf.c) */
	unsigned int l4_telemetry;	    /* 1: sock_ops aggregates TCP flows, /metrics exports */
	unsigned int http_telemetry;	    /* 1: tc parses HTTP/1.x, /metrics exports */
	unsigned int http_events_per_sec;   /* per CPU: request events (observe, spans); 0: none */
	unsigned int telemetry_series_limit; /* series per metric group; 0: TEL_SERIES_DEFAULT */
	char telemetry_labels[512];	    /* label allow-list ("": the default, l4.h) */
	char otlp_endpoint[256];	    /* OTLP/HTTP collector ("": no push) */
	unsigned int otlp_interval_ms;
	unsigned int otlp_timeout_ms;
	unsigned int otlp_queue;	    /* bodies kept while the collector is slow or away */
};

struct agent;

int agent_new(const struct agent_config *cfg, struct agent **ret_agent, char *err,
	      size_t errlen) __attribute__((warn_unused_result));
void agent_free(struct agent *a);

/* Compares the maps with the desired state and writes the difference; logs failures itself. */
int agent_reconcile(struct agent *a, const char *why);

/*
 * One local API request (docs/api.md); query is the URL's query string ("since=5") or NULL.
 * Returns a malloc'd JSON body and sets *ret_status.
 */
char *agent_http(struct agent *a, const char *method, const char *url, const char *query,
		 const char *body, size_t len, int *ret_status);

/* Prometheus text exposition; malloc'd. */
char *agent_metrics(struct agent *a);

#endif

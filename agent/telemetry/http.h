/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP telemetry export: sluice_http_stats (struct sl_http_skey -> per-CPU struct sl_http_sval,
 * filled by tc, bpf/include/http_tel.h) as OpenTelemetry-named Prometheus families,
 * http_server_request_duration_seconds and http_client_request_duration_seconds with
 * http_request_method, http_response_status_code and error_type, plus Sluice's time to first
 * byte, bytes, and streamed-response families; workload labels and cardinality control as L4's.
 */
#ifndef SL_AGENT_TEL_HTTP_H
#define SL_AGENT_TEL_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/telemetry/names.h"
#include "agent/telemetry/series.h"

struct tel_http;

int tel_http_new(unsigned int label_mask, unsigned int series_limit, struct tel_http **ret)
	__attribute__((warn_unused_result));
void tel_http_free(struct tel_http *t);

/* As tel_l4_collect and its writers, for the HTTP aggregates. */
int tel_http_collect(struct tel_http *t, int stats_fd, const struct tel_names *n);
void tel_http_prom(const struct tel_http *t, FILE *f);
int tel_http_otlp(const struct tel_http *t, cJSON *metrics, uint64_t start_ns, uint64_t now_ns);

/* The series table of the server or the client side, as of the last tel_http_collect. */
const struct tel_series *tel_http_series(const struct tel_http *t, bool server);

/* The OpenTelemetry name of an enum sl_http_method: GET ..., or _OTHER. */
const char *tel_http_method_name(unsigned int m);

/* Deletes the aggregates of a local address (textual), as when its pod goes. */
void tel_http_forget(int stats_fd, const char *ip);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice top`: a live per-Service table of HTTP rate, errors and latency (/v1/telemetry). */
#ifndef SL_CLI_TOP_H
#define SL_CLI_TOP_H

/* argv[0] is "top"; sock the agent's socket. Returns the process exit status. */
int top_main(const char *sock, int argc, char **argv);

#endif

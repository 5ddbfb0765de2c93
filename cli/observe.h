/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice observe`: policy flow events from the agent's /v1/flows, live. */
#ifndef SL_CLI_OBSERVE_H
#define SL_CLI_OBSERVE_H

/* argv[0] is "observe"; sock the agent's socket. Returns the process exit status. */
int observe_main(const char *sock, int argc, char **argv);

#endif

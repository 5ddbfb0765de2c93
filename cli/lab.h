/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice lab ...`: the local lab (pods as network namespaces on this host). */
#ifndef SL_CLI_LAB_H
#define SL_CLI_LAB_H

/* argv[0] is "lab"; returns the process exit code (0 ok, 1 error, 2 usage). */
int lab_main(int argc, char **argv);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath clock: conntrack and affinity timestamps come from bpf_jiffies64() scaled by the
 * tick length, which needs the running kernel's CONFIG_HZ. It is read from the kernel's build
 * config (/boot/config-<release>, then /proc/config.gz), as libbpf does for __kconfig; where
 * neither is readable the programs fall back to bpf_ktime_get_ns().
 */
#ifndef SL_AGENT_KCLOCK_H
#define SL_AGENT_KCLOCK_H

/* CONFIG_HZ from a kernel config file, plain or gzip: > 0, 0 when absent or out of range, or
 * -errno when the file cannot be opened. */
int kclock_hz_from(const char *path);

/* CONFIG_HZ of the running kernel, or 0 when no config is readable. */
unsigned int kclock_hz(void);

/* sl_config.ns_per_jiffy for a tick rate (0 for 0: the programs then use ktime). */
unsigned int kclock_ns_per_jiffy(unsigned int hz);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Walking the telemetry maps (per-CPU hashes of __u64 counters): every entry with its value
 * summed over CPUs, and deletion of the entries the walker marks, after the walk (deleting
 * the key bpf_map_get_next_key stands on would restart it).
 */
#ifndef SL_AGENT_TEL_MAPWALK_H
#define SL_AGENT_TEL_MAPWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * fn gets each key and its value summed over CPUs (n_u64 counters); it sets *ret_delete to
 * have the entry deleted, and returns < 0 to stop the walk with that value.
 */
typedef int (*tel_walk_fn)(void *ctx, const void *key, const uint64_t *sum, bool *ret_delete);

int tel_map_walk(int fd, size_t key_size, size_t n_u64, tel_walk_fn fn, void *ctx);

/*
 * Deletes the entries whose key holds the address ip (textual) at offset 0 (16 bytes, the
 * ABI's form) and its family at family_off: the entries of a pod that went.
 */
void tel_map_forget(int fd, size_t key_size, size_t family_off, const char *ip);

#endif

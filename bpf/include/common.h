/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SL_BPF_COMMON_H
#define SL_BPF_COMMON_H

#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sl_abi.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* Written by the agent through the skeleton before load. */
const volatile struct sl_config sl_cfg = {};

#endif

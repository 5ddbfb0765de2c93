#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: the side-by-side benchmarks (Sluice vs direct vs iptables DNAT vs a proxy) arrive
# with the load-balancing and sockmap work; until then this says so instead of printing numbers.
echo "make bench: no benchmark is implemented yet (see bench/README.md)" >&2
exit 1

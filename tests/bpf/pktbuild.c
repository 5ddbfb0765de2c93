// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pktbuild.h"

static const uint8_t pkt_src_mac[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t pkt_dst_mac[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

uint16_t pkt_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static int put_eth(uint8_t *buf, uint16_t proto)
{
	struct ethhdr eth = { .h_proto = htons(proto) };

	memcpy(eth.h_dest, pkt_dst_mac, ETH_ALEN);
	memcpy(eth.h_source, pkt_src_mac, ETH_ALEN);
	memcpy(buf, &eth, sizeof(eth));
	return sizeof(eth);
}

int pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	size_t l4len, l3len, off, total;
	const char *src, *dst;
	uint8_t *l4;

	if (s->l4 != IPPROTO_TCP && s->l4 != IPPROTO_UDP)
		return -EINVAL;
	if (s->ip_opt_len % 4 || s->ip_opt_len > 40 ||
	    (s->family != AF_INET && (s->ip_opt_len || s->frag_off)))
		return -EINVAL;
	l4len = (s->l4 == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr)) +
		s->payload_len;
	if (s->family == AF_INET)
		l3len = sizeof(struct iphdr) + s->ip_opt_len;
	else if (s->family == AF_INET6)
		l3len = sizeof(struct ipv6hdr);
	else
		return -EINVAL;
	total = ETH_HLEN + l3len + l4len;
	if (total > cap || total > 0xffff)
		return -ENOSPC;
	memset(buf, 0, total);
	off = put_eth(buf, s->family == AF_INET ? ETH_P_IP : ETH_P_IPV6);

	if (s->family == AF_INET) {
		struct iphdr ip = {
			.version = 4,
			.ihl = (uint8_t)(l3len / 4),
			.ttl = 64,
			.protocol = (uint8_t)s->l4,
			.tot_len = htons((uint16_t)(l3len + l4len)),
			.id = htons(1),
			.frag_off = htons(s->frag_off),
		};

		src = s->src ?: "10.0.0.1";
		dst = s->dst ?: "10.0.0.2";
		if (inet_pton(AF_INET, src, &ip.saddr) != 1 || inet_pton(AF_INET, dst, &ip.daddr) != 1)
			return -EINVAL;
		memcpy(buf + off, &ip, sizeof(ip));
		memset(buf + off + sizeof(ip), 1 /* IPOPT_NOOP */, s->ip_opt_len);
		ip.check = pkt_csum(buf + off, l3len);
		memcpy(buf + off, &ip, sizeof(ip));
	} else {
		struct ipv6hdr ip6 = {
			.version = 6,
			.nexthdr = (uint8_t)s->l4,
			.hop_limit = 64,
			.payload_len = htons((uint16_t)l4len),
		};

		src = s->src ?: "fd00::1";
		dst = s->dst ?: "fd00::2";
		if (inet_pton(AF_INET6, src, &ip6.saddr) != 1 ||
		    inet_pton(AF_INET6, dst, &ip6.daddr) != 1)
			return -EINVAL;
		memcpy(buf + off, &ip6, sizeof(ip6));
	}
	off += l3len;
	l4 = buf + off;
	if (s->l4 == IPPROTO_TCP) {
		struct tcphdr th = {
			.source = htons(s->sport ?: 40000),
			.dest = htons(s->dport ?: 80),
			.seq = htonl(1),
			.doff = sizeof(struct tcphdr) / 4,
			.syn = 1,
			.window = htons(65535),
		};

		memcpy(l4, &th, sizeof(th));
		off += sizeof(th);
	} else {
		struct udphdr uh = {
			.source = htons(s->sport ?: 40000),
			.dest = htons(s->dport ?: 53),
			.len = htons((uint16_t)l4len),
		};

		memcpy(l4, &uh, sizeof(uh));
		off += sizeof(uh);
	}
	memset(buf + off, 0xab, s->payload_len);
	if (s->truncate_to && s->truncate_to < total)
		total = s->truncate_to;
	return (int)total;
}

int pkt_build_arp(uint8_t *buf, size_t cap)
{
	static const uint8_t arp[28] = {
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,	/* Ethernet/IPv4, request */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1, /* sender */
		0, 0, 0, 0, 0, 0, 10, 0, 0, 2,			/* target */
	};
	size_t off;

	if (cap < ETH_HLEN + sizeof(arp))
		return -ENOSPC;
	off = (size_t)put_eth(buf, ETH_P_ARP);
	memset(buf, 0xff, ETH_ALEN); /* broadcast */
	memcpy(buf + off, arp, sizeof(arp));
	return (int)(off + sizeof(arp));
}

int pkt_netns_fresh(void)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
		goto out_close;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
out_close:
	close(fd);
	return err;
}

void pkt_require_bpf(const char *prog)
{
	int fd;

	if (geteuid() != 0) {
		printf("%s: skipped: needs root\n", prog);
		exit(77);
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_probe", 4, 4, 1, NULL);
	if (fd < 0) {
		printf("%s: skipped: BPF unavailable: %s\n", prog, strerror(errno));
		exit(77);
	}
	close(fd);
}

int pkt_percpu_sum(int map_fd, const void *key, uint64_t *sum, size_t n_u64)
{
	int ncpu = libbpf_num_possible_cpus(), cpu, err = 0;
	uint64_t *vals;
	size_t i;

	if (ncpu < 1)
		return ncpu < 0 ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu * n_u64, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(sum, 0, n_u64 * sizeof(*sum));
	if (bpf_map_lookup_elem(map_fd, key, vals) < 0) {
		err = errno == ENOENT ? 0 : -errno;
		goto out_free;
	}
	for (cpu = 0; cpu < ncpu; cpu++)
		for (i = 0; i < n_u64; i++)
			sum[i] += vals[(size_t)cpu * n_u64 + i];
out_free:
	free(vals);
	return err;
}

int pkt_l4_off(const uint8_t *buf, size_t len, int *ret_family, int *ret_proto)
{
	size_t ihl;

	if (len < ETH_HLEN + 1)
		return -EINVAL;
	if (buf[12] == 0x08 && buf[13] == 0x00) {
		ihl = (size_t)(buf[ETH_HLEN] & 0x0f) * 4;
		if ((buf[ETH_HLEN] >> 4) != 4 || ihl < sizeof(struct iphdr) || len < ETH_HLEN + ihl)
			return -EINVAL;
		*ret_family = AF_INET;
		*ret_proto = buf[ETH_HLEN + 9];
		return (int)(ETH_HLEN + ihl);
	}
	if (buf[12] == 0x86 && buf[13] == 0xdd) {
		if ((buf[ETH_HLEN] >> 4) != 6 || len < ETH_HLEN + sizeof(struct ipv6hdr))
			return -EINVAL;
		*ret_family = AF_INET6;
		*ret_proto = buf[ETH_HLEN + 6];
		return (int)(ETH_HLEN + sizeof(struct ipv6hdr));
	}
	return -EINVAL;
}

/* Unfolded one's complement sum of big-endian 16-bit words, continuing from sum. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold16(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Unfolded sum of pseudo-header and segment; *ret_csum_at is the checksum field's offset. */
static int l4_sum(const uint8_t *buf, size_t len, uint32_t *ret_sum, size_t *ret_csum_at,
		  int *ret_family, int *ret_proto)
{
	int off, family, proto;
	size_t l4len, csum_at;
	uint32_t sum;

	off = pkt_l4_off(buf, len, &family, &proto);
	if (off < 0)
		return off;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return -EINVAL;
	if (family == AF_INET) {
		l4len = (size_t)(buf[ETH_HLEN + 2] << 8 | buf[ETH_HLEN + 3]);
		if (l4len < (size_t)(off - ETH_HLEN))
			return -EINVAL;
		l4len -= (size_t)(off - ETH_HLEN);
		sum = sum16(0, buf + ETH_HLEN + 12, 8);
	} else {
		l4len = (size_t)(buf[ETH_HLEN + 4] << 8 | buf[ETH_HLEN + 5]);
		sum = sum16(0, buf + ETH_HLEN + 8, 32);
		sum += (uint32_t)(l4len >> 16);
	}
	sum += (uint32_t)proto + (uint32_t)(l4len & 0xffff);
	csum_at = (size_t)off + (proto == IPPROTO_TCP ? 16 : 6);
	if ((size_t)off + l4len > len || csum_at + 2 > (size_t)off + l4len)
		return -EINVAL;
	*ret_sum = sum16(sum, buf + off, l4len);
	*ret_csum_at = csum_at;
	*ret_family = family;
	*ret_proto = proto;
	return 0;
}

int pkt_l4_csum_fill(uint8_t *buf, size_t len)
{
	int family, proto, err;
	size_t at;
	uint32_t sum;
	uint16_t c;

	/* the first pass finds the field; the second sums with it zeroed */
	err = l4_sum(buf, len, &sum, &at, &family, &proto);
	if (err < 0)
		return err;
	buf[at] = buf[at + 1] = 0;
	err = l4_sum(buf, len, &sum, &at, &family, &proto);
	if (err < 0)
		return err;
	c = (uint16_t)~fold16(sum);
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	buf[at] = (uint8_t)(c >> 8);
	buf[at + 1] = (uint8_t)c;
	return 0;
}

int pkt_csums_verify(const uint8_t *buf, size_t len)
{
	int family, proto, off, err;
	size_t at;
	uint32_t sum;

	off = pkt_l4_off(buf, len, &family, &proto);
	if (off < 0)
		return off;
	if (family == AF_INET && pkt_csum(buf + ETH_HLEN, (size_t)(off - ETH_HLEN)) != 0)
		return -EBADMSG;
	err = l4_sum(buf, len, &sum, &at, &family, &proto);
	if (err < 0)
		return err;
	if (family == AF_INET && proto == IPPROTO_UDP && buf[at] == 0 && buf[at + 1] == 0)
		return 0;
	return fold16(sum) == 0xffff ? 0 : -EBADMSG;
}

int pkt_tcp_flags_set(uint8_t *buf, size_t len, uint8_t flags)
{
	int family, proto, off = pkt_l4_off(buf, len, &family, &proto);

	if (off < 0)
		return off;
	if (proto != IPPROTO_TCP || (size_t)off + sizeof(struct tcphdr) > len)
		return -EINVAL;
	buf[off + 13] = flags;
	return 0;
}

long pkt_bench_empty(bool xdp, const uint8_t *buf, size_t len, uint32_t repeat)
{
	const struct bpf_insn insns[] = {
		/* r0 = XDP_PASS (2) or TC_ACT_OK (0); exit */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = xdp ? 2 : 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct __sk_buff ctx = { .ifindex = 1 };
	uint8_t out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);
	int fd, err;

	fd = bpf_prog_load(xdp ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS, "sl_empty", "GPL",
			   insns, 2, NULL);
	if (fd < 0)
		return -errno;
	if (!xdp) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(fd, &opts);
	close(fd);
	return err < 0 ? -errno : (long)opts.duration;
}

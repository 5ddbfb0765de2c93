// SPDX-License-Identifier: Apache-2.0
/*
 * slsend: sends one UDP datagram the way a policy bypass attempt would, from inside a lab pod,
 * for tests/netns/test_netpol.sh. The receiver records what arrives; the test compares.
 *
 *   slsend [-f] [-o] [-x] [-S SRC] ADDR PORT MSG
 *     -f      fragmented: MSG padded to 3000 bytes with fragmentation allowed (IPv4 DF off,
 *             IPv6 fragments from the kernel), so the datagram leaves as IP fragments
 *     -o      IPv4 header options (four NOPs) before the UDP header
 *     -x      IPv6 destination-options extension header (PadN) before the UDP header
 *     -S SRC  IPv4 source address SRC instead of the pod's own (a raw socket with IP_HDRINCL)
 *
 * Exits 0 when the datagram was handed to the kernel, 1 with a message otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAG_LEN 3000

static int die(const char *what)
{
	fprintf(stderr, "slsend: %s: %s\n", what, strerror(errno));
	return 1;
}

static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IPv4 + UDP by hand, with a source address that is not ours. */
static int send_spoofed(const char *src, const struct sockaddr_in *dst, const char *msg)
{
	uint8_t pkt[1500] = { 0 };
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *uh = (struct udphdr *)(pkt + sizeof(*ip));
	size_t mlen = strlen(msg), len = sizeof(*ip) + sizeof(*uh) + mlen;
	struct {
		uint32_t s, d;
		uint8_t z, p;
		uint16_t l;
	} __attribute__((packed)) ph;
	uint32_t sum = 0;
	size_t i;
	int fd;

	if (len > sizeof(pkt))
		return fprintf(stderr, "slsend: message too long\n"), 1;
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)len);
	if (inet_pton(AF_INET, src, &ip->saddr) != 1)
		return fprintf(stderr, "slsend: bad source %s\n", src), 1;
	ip->daddr = dst->sin_addr.s_addr;
	uh->source = htons(40000);
	uh->dest = dst->sin_port;
	uh->len = htons((uint16_t)(sizeof(*uh) + mlen));
	memcpy(uh + 1, msg, mlen);
	ph = (typeof(ph)){ ip->saddr, ip->daddr, 0, IPPROTO_UDP, uh->len };
	for (i = 0; i < sizeof(ph); i += 2)
		sum += (uint32_t)(((uint8_t *)&ph)[i] << 8 | ((uint8_t *)&ph)[i + 1]);
	uh->check = htons(csum(uh, sizeof(*uh) + mlen, sum));
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return die("raw socket");
	if (sendto(fd, pkt, len, 0, (const struct sockaddr *)dst, sizeof(*dst)) < 0)
		return die("sendto");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	bool frag = false, opts = false, ext = false;
	const char *spoof = NULL;
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char buf[FRAG_LEN + 1];
	size_t len;
	int opt, fd, v;

	while ((opt = getopt(argc, argv, "foxS:")) != -1) {
		switch (opt) {
		case 'f': frag = true; break;
		case 'o': opts = true; break;
		case 'x': ext = true; break;
		case 'S': spoof = optarg; break;
		default: return 1;
		}
	}
	if (argc - optind != 3)
		return fprintf(stderr, "usage: slsend [-f] [-o] [-x] [-S SRC] ADDR PORT MSG\n"), 1;
	if (inet_pton(AF_INET, argv[optind], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	} else if (inet_pton(AF_INET6, argv[optind], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(argv[optind + 1]));
	} else {
		return fprintf(stderr, "slsend: bad address %s\n", argv[optind]), 1;
	}
	if (spoof) {
		if (ss.ss_family != AF_INET)
			return fprintf(stderr, "slsend: -S is IPv4 only\n"), 1;
		return send_spoofed(spoof, s4, argv[optind + 2]);
	}
	snprintf(buf, sizeof(buf), "%s", argv[optind + 2]);
	len = strlen(buf);
	if (frag) {
		memset(buf + len, ' ', FRAG_LEN - len);
		len = FRAG_LEN;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return die("socket");
	if (frag && ss.ss_family == AF_INET) {
		v = IP_PMTUDISC_DONT;
		if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)) < 0)
			return die("IP_MTU_DISCOVER");
	}
	if (frag && ss.ss_family == AF_INET6) {
		v = IPV6_PMTUDISC_DONT;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v)) < 0)
			return die("IPV6_MTU_DISCOVER");
	}
	if (opts) {
		static const uint8_t nops[4] = { 1, 1, 1, 1 };

		if (ss.ss_family != AF_INET)
			return fprintf(stderr, "slsend: -o is IPv4 only\n"), 1;
		if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, nops, sizeof(nops)) < 0)
			return die("IP_OPTIONS");
	}
	if (ext) {
		/* next header (filled by the kernel), length 0 (8 bytes), PadN of 4 zeros */
		static const uint8_t dst_opts[8] = { 0, 0, 1, 4, 0, 0, 0, 0 };

		if (ss.ss_family != AF_INET6)
			return fprintf(stderr, "slsend: -x is IPv6 only\n"), 1;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_DSTOPTS, dst_opts, sizeof(dst_opts)) < 0)
			return die("IPV6_DSTOPTS");
	}
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&ss,
		   ss.ss_family == AF_INET ? sizeof(*s4) : sizeof(*s6)) < 0)
		return die("sendto");
	close(fd);
	return 0;
}

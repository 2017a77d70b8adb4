/*
 * Copyright (c) 2026 The ovs-balancer authors.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at:
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

#include <config.h>
#include "lib/lb-packet.h"

#include <string.h>

#include "csum.h"
#include "packets.h"

static void
parse_arp(const uint8_t *p, size_t size, struct lb_packet *pkt)
{
    const struct arp_eth_header *arp = (const void *) p;

    if (size < ARP_ETH_HEADER_LEN) {
        pkt->error = "truncated ARP";
    } else if (arp->ar_hrd != htons(ARP_HRD_ETHERNET)
               || arp->ar_hln != ETH_ADDR_LEN) {
        pkt->error = "ARP for another hardware type or length";
    } else if (arp->ar_pro != htons(ARP_PRO_IP) || arp->ar_pln != 4) {
        pkt->error = "ARP for another protocol type or length";
    } else if (arp->ar_op != htons(ARP_OP_REQUEST)
               && arp->ar_op != htons(ARP_OP_REPLY)) {
        pkt->error = "ARP with an unknown operation";
    } else {
        pkt->kind = LB_PACKET_ARP;
        pkt->arp_op = ntohs(arp->ar_op);
        pkt->arp_sha = arp->ar_sha;
        pkt->arp_spa = get_16aligned_be32(&arp->ar_spa);
        pkt->arp_tha = arp->ar_tha;
        pkt->arp_tpa = get_16aligned_be32(&arp->ar_tpa);
    }
}

/* Parses the L4 header of the 'size' bytes at 'p', the IPv4 payload of
 * 'pkt', if it has one the balancer reads. */
static void
parse_l4(const uint8_t *p, size_t size, struct lb_packet *pkt)
{
    if (pkt->ip_is_later_fragment) {
        return;
    }
    if (pkt->ip_proto == IPPROTO_TCP) {
        const struct tcp_header *tcp = (const void *) p;
        if (size < TCP_HEADER_LEN) {
            pkt->error = "truncated TCP header";
            return;
        }
        pkt->has_ports = true;
        pkt->l4_src = ntohs(tcp->tcp_src);
        pkt->l4_dst = ntohs(tcp->tcp_dst);
        pkt->tcp_flags = TCP_FLAGS(tcp->tcp_ctl);
    } else if (pkt->ip_proto == IPPROTO_UDP) {
        const struct udp_header *udp = (const void *) p;
        if (size < UDP_HEADER_LEN) {
            pkt->error = "truncated UDP header";
            return;
        }
        pkt->has_ports = true;
        pkt->l4_src = ntohs(udp->udp_src);
        pkt->l4_dst = ntohs(udp->udp_dst);
    } else if (pkt->ip_proto == IPPROTO_ICMP) {
        const struct icmp_header *icmp = (const void *) p;
        if (size < ICMP_HEADER_LEN) {
            pkt->error = "truncated ICMP header";
            return;
        }
        pkt->is_icmp = true;
        pkt->icmp_type = icmp->icmp_type;
        pkt->icmp_code = icmp->icmp_code;
    }
}

static void
parse_ipv4(const uint8_t *p, size_t size, struct lb_packet *pkt)
{
    const struct ip_header *ip = (const void *) p;

    if (size < IP_HEADER_LEN) {
        pkt->error = "truncated IPv4 header";
        return;
    }

    size_t hlen = IP_IHL(ip->ip_ihl_ver) * 4;
    size_t tot_len = ntohs(ip->ip_tot_len);
    if (IP_VER(ip->ip_ihl_ver) != 4) {
        pkt->error = "IPv4 ethertype but IP version is not 4";
    } else if (hlen < IP_HEADER_LEN) {
        pkt->error = "IPv4 header length below 20 bytes";
    } else if (hlen > size) {
        pkt->error = "IPv4 header longer than the packet";
    } else if (tot_len < hlen) {
        pkt->error = "IPv4 total length shorter than its header";
    } else if (tot_len > size) {
        pkt->error = "IPv4 total length beyond the end of the packet";
    } else {
        pkt->ip_src = get_16aligned_be32(&ip->ip_src);
        pkt->ip_dst = get_16aligned_be32(&ip->ip_dst);
        pkt->ip_proto = ip->ip_proto;
        pkt->ip_is_fragment = (ip->ip_frag_off & htons(IP_MORE_FRAGMENTS
                                                       | IP_FRAG_OFF_MASK))
                              != 0;
        pkt->ip_is_later_fragment = (ip->ip_frag_off
                                     & htons(IP_FRAG_OFF_MASK)) != 0;
        pkt->ip_has_options = hlen > IP_HEADER_LEN;
        pkt->l3_ofs = ETH_HEADER_LEN;
        pkt->l4_ofs = ETH_HEADER_LEN + hlen;
        pkt->l4_size = tot_len - hlen;
        parse_l4(p + hlen, tot_len - hlen, pkt);
        if (!pkt->error) {
            pkt->kind = LB_PACKET_IPV4;
        }
    }
}

/* Parses the 'size' bytes of Ethernet frame at 'data' into 'pkt'. */
void
lb_packet_parse(const void *data, size_t size, struct lb_packet *pkt)
{
    const uint8_t *p = data;

    /* Zeroed in two halves: GCC makes one memset() of this size a "rep
     * stos", whose start-up alone was a third of this function's time, and
     * each half a few vector stores. */
    BUILD_ASSERT(sizeof *pkt > 64 && sizeof *pkt <= 128);
    memset(pkt, 0, 64);
    memset((char *) pkt + 64, 0, sizeof *pkt - 64);
    pkt->kind = LB_PACKET_BAD;
    if (size < ETH_HEADER_LEN) {
        pkt->error = "truncated Ethernet header";
        return;
    }

    const struct eth_header *eth = data;
    pkt->eth_dst = eth->eth_dst;
    pkt->eth_src = eth->eth_src;
    pkt->eth_type = ntohs(eth->eth_type);
    p += ETH_HEADER_LEN;
    size -= ETH_HEADER_LEN;

    if (pkt->eth_type == ETH_TYPE_ARP) {
        parse_arp(p, size, pkt);
    } else if (pkt->eth_type == ETH_TYPE_IP) {
        parse_ipv4(p, size, pkt);
    } else {
        pkt->kind = LB_PACKET_OTHER;
    }
}

/* ICMP errors. */

/* Is 'pkt' an ICMP error that quotes a packet the balancer may have
 * rewritten: destination unreachable (fragmentation needed among them) or
 * time exceeded? */
bool
lb_packet_is_icmp_error(const struct lb_packet *pkt)
{
    return (pkt->kind == LB_PACKET_IPV4 && pkt->is_icmp
            && !pkt->ip_is_fragment
            && (pkt->icmp_type == ICMP4_DST_UNREACH
                || pkt->icmp_type == ICMP4_TIME_EXCEEDED));
}

/* Reads into 'q' what the ICMP error 'pkt' (parsed from the frame 'data')
 * quotes.  Returns NULL, or what is wrong with the quote. */
const char *
lb_packet_parse_icmp_error(const void *data, const struct lb_packet *pkt,
                           struct lb_icmp_quote *q)
{
    const uint8_t *p = (const uint8_t *) data + pkt->l4_ofs + ICMP_HEADER_LEN;
    size_t size = pkt->l4_size - ICMP_HEADER_LEN;
    const struct ip_header *ip = (const void *) p;

    memset(q, 0, sizeof *q);
    if (size < IP_HEADER_LEN) {
        return "ICMP error quotes less than an IPv4 header";
    }
    size_t hlen = IP_IHL(ip->ip_ihl_ver) * 4;
    if (IP_VER(ip->ip_ihl_ver) != 4 || hlen < IP_HEADER_LEN || hlen > size) {
        return "ICMP error quotes a bad IPv4 header";
    }
    q->src = get_16aligned_be32(&ip->ip_src);
    q->dst = get_16aligned_be32(&ip->ip_dst);
    q->proto = ip->ip_proto;
    if ((q->proto == IPPROTO_TCP || q->proto == IPPROTO_UDP)
        && size >= hlen + 4
        && !(ip->ip_frag_off & htons(IP_FRAG_OFF_MASK))) {
        ovs_be16 ports[2];

        memcpy(ports, p + hlen, sizeof ports);
        q->has_ports = true;
        q->src_port = ntohs(ports[0]);
        q->dst_port = ntohs(ports[1]);
    }
    return NULL;
}

/* Rewrites in place the ICMP error 'pkt' in the frame 'data', as parsed by
 * lb_packet_parse_icmp_error(), to go from 'ip_src' to 'ip_dst' and to
 * quote the addresses and ports in 'q', with every checksum made right
 * again (the quoted TCP or UDP checksum too, where it is quoted). */
void
lb_packet_rewrite_icmp_error(void *data, const struct lb_packet *pkt,
                             ovs_be32 ip_src, ovs_be32 ip_dst,
                             const struct lb_icmp_quote *q)
{
    uint8_t *frame = data;
    struct ip_header *ip = (void *) (frame + pkt->l3_ofs);
    uint8_t *icmp = frame + pkt->l4_ofs;
    uint8_t *quote = icmp + ICMP_HEADER_LEN;
    size_t quote_size = pkt->l4_size - ICMP_HEADER_LEN;
    struct ip_header *qip = (void *) quote;
    size_t qhlen = IP_IHL(qip->ip_ihl_ver) * 4;

    /* The quoted L4 checksum covers the quoted addresses and ports. */
    ovs_be32 old_src = get_16aligned_be32(&qip->ip_src);
    ovs_be32 old_dst = get_16aligned_be32(&qip->ip_dst);
    size_t csum_ofs = (q->proto == IPPROTO_TCP ? 16
                       : q->proto == IPPROTO_UDP ? 6 : 0);
    if (q->has_ports && csum_ofs && quote_size >= qhlen + csum_ofs + 2) {
        ovs_be16 *ports = (void *) (quote + qhlen);
        ovs_be16 *l4_csum = (void *) (quote + qhlen + csum_ofs);
        ovs_be16 csum;

        memcpy(&csum, l4_csum, sizeof csum);
        if (csum || q->proto == IPPROTO_TCP) {
            ovs_be16 new_ports[2] = { htons(q->src_port), htons(q->dst_port) };
            ovs_be16 old_ports[2];

            memcpy(old_ports, ports, sizeof old_ports);
            csum = recalc_csum32(csum, old_src, q->src);
            csum = recalc_csum32(csum, old_dst, q->dst);
            csum = recalc_csum16(csum, old_ports[0], new_ports[0]);
            csum = recalc_csum16(csum, old_ports[1], new_ports[1]);
            if (q->proto == IPPROTO_UDP && !csum) {
                csum = htons(0xffff);
            }
            memcpy(l4_csum, &csum, sizeof csum);
        }
    }
    if (q->has_ports && quote_size >= qhlen + 4) {
        ovs_be16 new_ports[2] = { htons(q->src_port), htons(q->dst_port) };
        memcpy(quote + qhlen, new_ports, sizeof new_ports);
    }

    put_16aligned_be32(&qip->ip_src, q->src);
    put_16aligned_be32(&qip->ip_dst, q->dst);
    qip->ip_csum = 0;
    qip->ip_csum = csum(qip, qhlen);

    put_16aligned_be32(&ip->ip_src, ip_src);
    put_16aligned_be32(&ip->ip_dst, ip_dst);
    ip->ip_csum = 0;
    ip->ip_csum = csum(ip, IP_IHL(ip->ip_ihl_ver) * 4);

    struct icmp_header *ih = (void *) icmp;
    ih->icmp_csum = 0;
    ih->icmp_csum = csum(icmp, pkt->l4_size);
}

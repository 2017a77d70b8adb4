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

#ifndef LB_PACKET_H
#define LB_PACKET_H 1

/* Parsing the packets switches send up to the balancer.
 *
 * The parser is strict, since packets come from hosts the balancer does not
 * trust: it accepts only well-formed Ethernet ARP for IPv4 and IPv4 frames
 * (with whole TCP, UDP and ICMP headers where they say they have them),
 * says what is wrong with anything else that claims to be one of them, and
 * never reads past the end of the data. */

#include <stddef.h>
#include <stdint.h>
#include "openvswitch/types.h"

enum lb_packet_kind {
    LB_PACKET_ARP,              /* Ethernet/IPv4 ARP. */
    LB_PACKET_IPV4,             /* IPv4. */
    LB_PACKET_OTHER,            /* Another Ethernet type, or VLAN tagged. */
    LB_PACKET_BAD,              /* Malformed; 'error' says how. */
};

struct lb_packet {
    enum lb_packet_kind kind;
    const char *error;          /* For LB_PACKET_BAD, a static string. */

    struct eth_addr eth_dst;
    struct eth_addr eth_src;
    uint16_t eth_type;          /* Host byte order. */

    /* LB_PACKET_ARP. */
    uint16_t arp_op;            /* Host byte order: 1 request, 2 reply. */
    struct eth_addr arp_sha;
    ovs_be32 arp_spa;
    struct eth_addr arp_tha;
    ovs_be32 arp_tpa;

    /* LB_PACKET_IPV4. */
    ovs_be32 ip_src;
    ovs_be32 ip_dst;
    uint8_t ip_proto;
    bool ip_is_fragment;        /* Any fragment. */
    bool ip_is_later_fragment;  /* A fragment without the L4 header. */
    bool ip_has_options;
    size_t l3_ofs;              /* Offset of the IPv4 header. */
    size_t l4_ofs;              /* Offset of what follows it. */
    size_t l4_size;             /* Bytes from there to the IPv4 end. */

    /* TCP and UDP, unless a later fragment. */
    bool has_ports;
    uint16_t l4_src;            /* Host byte order. */
    uint16_t l4_dst;
    uint16_t tcp_flags;         /* Of TCP, its 12 flag bits. */

    /* ICMP, unless a later fragment. */
    bool is_icmp;
    uint8_t icmp_type;
    uint8_t icmp_code;
};

void lb_packet_parse(const void *data, size_t size, struct lb_packet *);

/* The packet that an ICMP error (destination unreachable, time exceeded)
 * is about, as it quotes it. */
struct lb_icmp_quote {
    ovs_be32 src, dst;
    uint8_t proto;
    bool has_ports;             /* TCP or UDP with its ports quoted. */
    uint16_t src_port;          /* Host byte order. */
    uint16_t dst_port;
};

bool lb_packet_is_icmp_error(const struct lb_packet *);
const char *lb_packet_parse_icmp_error(const void *data,
                                       const struct lb_packet *,
                                       struct lb_icmp_quote *);
void lb_packet_rewrite_icmp_error(void *data, const struct lb_packet *,
                                  ovs_be32 ip_src, ovs_be32 ip_dst,
                                  const struct lb_icmp_quote *);

#endif /* lb-packet.h */

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

#ifndef LB_OFP_H
#define LB_OFP_H 1

/* Composing the OpenFlow messages the balancer sends, with OVS's ofpacts and
 * encoders, in whatever OpenFlow version the switch speaks.  Messages are
 * appended, back to back, to one buffer that goes to the switch as is. */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "openflow/openflow.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/types.h"

struct match;
struct ofp_header;
struct ofpbuf;
struct ofputil_flow_stats;

/* ICMP destination unreachable codes. */
#define LB_ICMP_HOST_UNREACH 1
#define LB_ICMP_PORT_UNREACH 3
#define LB_ICMP_FRAG_NEEDED 4

struct lb_ofp {
    enum ofputil_protocol protocol;
    ovs_be64 cookie;            /* On every flow added. */
    struct ofpbuf *out;         /* Composed messages go here. */
};

void lb_ofp_grow(struct ofpbuf *out, size_t n);

/* Appends the 'n' bytes at 'p' to 'out' and returns where they went.
 * Inline: every message the balancer sends goes through here. */
static inline void *
lb_ofp_put(struct ofpbuf *out, const void *p, size_t n)
{
    if (n > ofpbuf_tailroom(out)) {
        lb_ofp_grow(out, n);
    }
    void *dst = ofpbuf_tail(out);
    out->size += n;
    return memcpy(dst, p, n);
}
void lb_ofp_flow_add(const struct lb_ofp *, const struct match *,
                     int priority, int idle_timeout, int hard_timeout,
                     bool send_flow_rem, const struct ofpbuf *ofpacts);
void lb_ofp_flow_add_in(const struct lb_ofp *, uint8_t table_id,
                        const struct match *, int priority, int idle_timeout,
                        int hard_timeout, enum ofputil_flow_mod_flags,
                        const struct ofpbuf *ofpacts);
void lb_ofp_flow_delete_strict(const struct lb_ofp *, const struct match *,
                               int priority);
void lb_ofp_flow_delete_strict_in(const struct lb_ofp *, uint8_t table_id,
                                  const struct match *, int priority);
ovs_be32 lb_ofp_flow_stats_request(const struct lb_ofp *);
ovs_be32 lb_ofp_flow_stats_request_in(const struct lb_ofp *,
                                      uint8_t table_id);
enum ofperr lb_ofp_flow_stats_foreach(
    const struct lb_ofp *, const struct ofp_header *,
    void (*cb)(const struct ofputil_flow_stats *, void *aux), void *aux);
enum ofperr lb_ofp_flow_stats_foreach_in(
    const struct lb_ofp *, const struct ofp_header *, bool all_tables,
    void (*cb)(const struct ofputil_flow_stats *, void *aux), void *aux);
struct ofputil_group_mod;
struct ofpbuf *lb_ofp_encode_role_request(enum ofp_version,
                                          enum ofp12_controller_role,
                                          uint64_t generation);
void lb_ofp_group_mod(const struct lb_ofp *, const struct ofputil_group_mod *);
struct ofp_ct_match;
void lb_ofp_ct_flush(const struct lb_ofp *, const struct ofp_ct_match *,
                     uint16_t zone);
struct ofputil_flow_monitor_request;
void lb_ofp_flow_monitor_cancel(const struct lb_ofp *, uint32_t id);
ovs_be32 lb_ofp_flow_monitor_request(
    const struct lb_ofp *, const struct ofputil_flow_monitor_request *);
void lb_ofp_packet_out(const struct lb_ofp *, ofp_port_t in_port,
                       const void *packet, size_t size,
                       const struct ofpbuf *ofpacts);
void lb_ofp_arp(const struct lb_ofp *, uint16_t op, struct eth_addr eth_dst,
                struct eth_addr sha, ovs_be32 spa, struct eth_addr tha,
                ovs_be32 tpa, ofp_port_t in_port, ofp_port_t out_port);

void lb_ofp_icmp(const struct lb_ofp *, struct eth_addr eth_src,
                 struct eth_addr eth_dst, ovs_be32 ip_src, ovs_be32 ip_dst,
                 uint8_t type, uint8_t code, ovs_be32 rest_of_header,
                 const void *data, size_t size, ofp_port_t port);
/* The addresses of a TCP or UDP packet the balancer sends. */
struct lb_ofp_l4 {
    struct eth_addr eth_src, eth_dst;
    ovs_be32 ip_src, ip_dst;
    uint16_t src_port, dst_port;    /* Host byte order. */
};
void lb_ofp_tcp(const struct lb_ofp *, const struct lb_ofp_l4 *,
                uint16_t flags, uint32_t seq, uint32_t ack, uint16_t window,
                const void *data, size_t n, ofp_port_t in_port,
                ofp_port_t out_port);
void lb_ofp_udp(const struct lb_ofp *, const struct lb_ofp_l4 *,
                const void *data, size_t n, ofp_port_t in_port,
                ofp_port_t out_port);
void lb_ofp_icmp_unreachable(const struct lb_ofp *, struct eth_addr eth_src,
                             struct eth_addr eth_dst, ovs_be32 ip_src,
                             ovs_be32 ip_dst, uint8_t code, const void *l3,
                             size_t l3_size, ofp_port_t port);

/* What the balancer uses of a packet-in. */
struct lb_packet_in {
    ofp_port_t in_port;
    const void *packet;         /* Into the message, or a copy of it. */
    size_t packet_len;          /* Bytes at 'packet'. */
    size_t total_len;           /* Bytes in the frame the switch saw. */
    ovs_be64 cookie;            /* Of the flow that sent it, or all-ones
                                 * (unknown, or a table miss). */
    bool fast;                  /* Read without OVS's decoder? */
};

enum ofperr lb_ofp_decode_packet_in(const struct ofp_header *,
                                    struct lb_packet_in *);
/* The type code of a packet-in, in every OpenFlow version. */
#define LB_OFPT_PACKET_IN 10

/* Returns where the frame of packet-in 'msg' ('len' bytes, at any
 * alignment) starts, and its length in '*frame_len', if it is laid out as
 * OpenFlow 1.0's or as 1.2's and later's with a one-field match (the forms
 * decode_packet_in_fast() reads; it checks the match); otherwise NULL.
 * It reads bytes, nothing else: also for a look ahead at messages not yet
 * decoded.  Inline: every packet-in is looked at this way twice (ahead,
 * then to be decoded). */
static inline const uint8_t *
lb_ofp_packet_in_frame(const void *msg, size_t len, size_t *frame_len)
{
    const uint8_t *p = msg;
    size_t ofs;

    if (len < sizeof(struct ofp_header) || p[1] != LB_OFPT_PACKET_IN) {
        return NULL;
    } else if (p[0] == OFP10_VERSION) {
        ofs = sizeof(struct ofp_header) + offsetof(struct ofp10_packet_in,
                                                   data);
    } else if (p[0] >= OFP12_VERSION) {
        ofs = (sizeof(struct ofp_header) + sizeof(struct ofp12_packet_in)
               + (p[0] >= OFP13_VERSION ? 8 : 0) + 16 + 2);
    } else {
        return NULL;
    }
    if (len < ofs) {
        return NULL;
    }
    *frame_len = len - ofs;
    return p + ofs;
}

void lb_ofp_end_message(struct ofpbuf *, size_t ofs);
const struct ofp_header *lb_ofp_frame(struct ofpbuf *rx,
                                      struct ofpbuf *aligned, int *error);

void lb_ofp_put_output(struct ofpbuf *ofpacts, ofp_port_t out_port,
                       ofp_port_t in_port);
void lb_ofp_put_controller(struct ofpbuf *ofpacts);
void lb_ofp_put_rewrite(struct ofpbuf *ofpacts, struct eth_addr eth_src,
                        struct eth_addr eth_dst, ovs_be32 ip_src,
                        ovs_be32 ip_dst);

#endif /* lb-ofp.h */

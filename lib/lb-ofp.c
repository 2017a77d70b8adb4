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
#include "lib/lb-ofp.h"

#include <errno.h>
#include <string.h>

#include "csum.h"
#include "dp-packet.h"
#include "openflow/nicira-ext.h"
#include "openflow/openflow.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-ct.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-match.h"
#include "openvswitch/ofp-monitor.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"

/* lb_ofp_put()'s slow path: makes room for 'n' more bytes in 'out'.  The
 * buffer grows by doubling: an ofpbuf grows by just what is asked, which
 * makes a long queue of small messages cost quadratic time wherever
 * realloc() copies (as it does under the sanitizers). */
void
lb_ofp_grow(struct ofpbuf *out, size_t n)
{
    ofpbuf_prealloc_tailroom(out, MAX(n, out->allocated));
}

/* Appends 'msg' to the output and frees it. */
static void
lb_ofp_queue(const struct lb_ofp *ofp, struct ofpbuf *msg)
{
    ofpmsg_update_length(msg);
    lb_ofp_put(ofp->out, msg->data, msg->size);
    ofpbuf_delete(msg);
}

/* Adds (or replaces) the flow in 'table_id' that matches 'match' at
 * 'priority' with 'ofpacts'.  'flags' are OFPUTIL_FF_*: SEND_FLOW_REM asks
 * the switch to say when it removes it. */
void
lb_ofp_flow_add_in(const struct lb_ofp *ofp, uint8_t table_id,
                   const struct match *match, int priority, int idle_timeout,
                   int hard_timeout, enum ofputil_flow_mod_flags flags,
                   const struct ofpbuf *ofpacts)
{
    struct ofputil_flow_mod fm = {
        .priority = priority,
        .new_cookie = ofp->cookie,
        .table_id = table_id,
        .command = OFPFC_ADD,
        .idle_timeout = idle_timeout,
        .hard_timeout = hard_timeout,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .flags = flags,
        .ofpacts = ofpacts->data,
        .ofpacts_len = ofpacts->size,
    };
    minimatch_init(&fm.match, match);
    lb_ofp_queue(ofp, ofputil_encode_flow_mod(&fm, ofp->protocol));
    minimatch_destroy(&fm.match);
}

/* Adds (or replaces) the flow in table 0 that matches 'match' at 'priority'
 * with 'ofpacts'.  'send_flow_rem' asks the switch to say when it removes
 * it. */
void
lb_ofp_flow_add(const struct lb_ofp *ofp, const struct match *match,
                int priority, int idle_timeout, int hard_timeout,
                bool send_flow_rem, const struct ofpbuf *ofpacts)
{
    lb_ofp_flow_add_in(ofp, 0, match, priority, idle_timeout, hard_timeout,
                       send_flow_rem ? OFPUTIL_FF_SEND_FLOW_REM : 0,
                       ofpacts);
}

/* Deletes the balancer's flow in 'table_id' that matches 'match' at
 * 'priority' exactly. */
void
lb_ofp_flow_delete_strict_in(const struct lb_ofp *ofp, uint8_t table_id,
                             const struct match *match, int priority)
{
    struct ofputil_flow_mod fm = {
        .priority = priority,
        .cookie = ofp->cookie,
        .cookie_mask = OVS_BE64_MAX,
        .new_cookie = OVS_BE64_MAX,
        .table_id = table_id,
        .command = OFPFC_DELETE_STRICT,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
    };
    minimatch_init(&fm.match, match);
    lb_ofp_queue(ofp, ofputil_encode_flow_mod(&fm, ofp->protocol));
    minimatch_destroy(&fm.match);
}

/* Deletes the balancer's flow in table 0 that matches 'match' at 'priority'
 * exactly. */
void
lb_ofp_flow_delete_strict(const struct lb_ofp *ofp, const struct match *match,
                          int priority)
{
    lb_ofp_flow_delete_strict_in(ofp, 0, match, priority);
}

/* Asks for every flow in 'table_id' (OFPTT_ALL for all tables) that carries
 * the balancer's cookie, and returns the request's xid. */
ovs_be32
lb_ofp_flow_stats_request_in(const struct lb_ofp *ofp, uint8_t table_id)
{
    struct ofputil_flow_stats_request fsr = {
        .cookie = ofp->cookie,
        .cookie_mask = OVS_BE64_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = table_id,
    };
    match_init_catchall(&fsr.match);
    struct ofpbuf *msg = ofputil_encode_flow_stats_request(&fsr,
                                                           ofp->protocol);
    ovs_be32 xid = ((struct ofp_header *) msg->data)->xid;
    lb_ofp_queue(ofp, msg);
    return xid;
}

/* Asks for every flow in table 0 that carries the balancer's cookie, and
 * returns the request's xid. */
ovs_be32
lb_ofp_flow_stats_request(const struct lb_ofp *ofp)
{
    return lb_ofp_flow_stats_request_in(ofp, 0);
}

/* Calls 'cb' with each flow with the balancer's cookie in the flow stats
 * reply 'oh' (only those of table 0 unless 'all_tables'), and 'aux'.
 * Returns 0, or the OpenFlow error that stopped it in a malformed reply. */
enum ofperr
lb_ofp_flow_stats_foreach_in(const struct lb_ofp *ofp,
                             const struct ofp_header *oh, bool all_tables,
                             void (*cb)(const struct ofputil_flow_stats *,
                                        void *aux),
                             void *aux)
{
    struct ofpbuf msg = ofpbuf_const_initializer(oh, ntohs(oh->length));
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;
    int error;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    for (;;) {
        struct ofputil_flow_stats fs;

        error = ofputil_decode_flow_stats_reply(&fs, &msg, false, &ofpacts);
        if (error) {
            break;
        }
        if (fs.cookie == ofp->cookie && (all_tables || fs.table_id == 0)) {
            cb(&fs, aux);
        }
    }
    ofpbuf_uninit(&ofpacts);
    return error == EOF ? 0 : error;
}

enum ofperr
lb_ofp_flow_stats_foreach(const struct lb_ofp *ofp,
                          const struct ofp_header *oh,
                          void (*cb)(const struct ofputil_flow_stats *,
                                     void *aux),
                          void *aux)
{
    return lb_ofp_flow_stats_foreach_in(ofp, oh, false, cb, aux);
}

/* Sends the group mod 'gm'. */
void
lb_ofp_group_mod(const struct lb_ofp *ofp, const struct ofputil_group_mod *gm)
{
    enum ofp_version version = ofputil_protocol_to_ofp_version(ofp->protocol);

    lb_ofp_queue(ofp, ofputil_encode_group_mod(version, gm, NULL, -1));
}

/* Asks for 'role' (OFPCR12_ROLE_PRIMARY, SECONDARY or EQUAL) with
 * 'generation', which OpenFlow 1.2 and later switches compare with the
 * largest they have seen to refuse a former master.  OpenFlow 1.0 and 1.1
 * have Open vSwitch's extension, without a generation. */
struct ofpbuf *
lb_ofp_encode_role_request(enum ofp_version version,
                           enum ofp12_controller_role role,
                           uint64_t generation)
{
    struct ofpbuf *msg;

    if (version >= OFP12_VERSION) {
        msg = ofpraw_alloc(OFPRAW_OFPT12_ROLE_REQUEST, version, 0);
        struct ofp12_role_request *rr = ofpbuf_put_zeros(msg, sizeof *rr);
        rr->role = htonl(role);
        rr->generation_id = htonll(generation);
    } else {
        msg = ofpraw_alloc(OFPRAW_NXT_ROLE_REQUEST, version, 0);
        struct nx_role_request *nrr = ofpbuf_put_zeros(msg, sizeof *nrr);
        nrr->role = htonl(role == OFPCR12_ROLE_PRIMARY ? NX_ROLE_PRIMARY
                          : role == OFPCR12_ROLE_SECONDARY ? NX_ROLE_SECONDARY
                          : NX_ROLE_OTHER);
    }
    ofpmsg_update_length(msg);
    return msg;
}

/* Sends a request to flush the connection tracking entries that 'match'
 * describes in 'zone'. */
void
lb_ofp_ct_flush(const struct lb_ofp *ofp, const struct ofp_ct_match *match,
                uint16_t zone)
{
    enum ofp_version version = ofputil_protocol_to_ofp_version(ofp->protocol);

    lb_ofp_queue(ofp, ofp_ct_match_encode(match, &zone, version));
}

/* Ends flow monitor 'id'.  (OVS 3.1's encoder leaves out the match that
 * OpenFlow 1.4 and later want after a delete, and its switch refuses the
 * message: the request is written here, with an empty match.) */
void
lb_ofp_flow_monitor_cancel(const struct lb_ofp *ofp, uint32_t id)
{
    enum ofp_version version = ofputil_protocol_to_ofp_version(ofp->protocol);

    if (version < OFP14_VERSION) {
        lb_ofp_queue(ofp, ofputil_encode_flow_monitor_cancel(id,
                                                             ofp->protocol));
        return;
    }

    struct ofpbuf *msg = ofpraw_alloc(OFPRAW_OFPST14_FLOW_MONITOR_REQUEST,
                                      version, 0);
    struct ofp14_flow_monitor_request *ofmr = ofpbuf_put_zeros(msg,
                                                               sizeof *ofmr);
    ofmr->monitor_id = htonl(id);
    ofmr->out_port = ofputil_port_to_ofp11(OFPP_ANY);
    ofmr->out_group = htonl(OFPG_ANY);
    ofmr->table_id = OFPTT_ALL;
    ofmr->command = OFPFMC_DELETE;

    struct match match;
    match_init_catchall(&match);
    ofputil_put_ofp11_match(msg, &match, ofp->protocol);
    lb_ofp_queue(ofp, msg);
}

/* Asks for flow monitor 'rq' and returns the request's xid. */
ovs_be32
lb_ofp_flow_monitor_request(const struct lb_ofp *ofp,
                            const struct ofputil_flow_monitor_request *rq)
{
    struct ofpbuf *msg = ofpbuf_new(0);

    ofputil_append_flow_monitor_request(rq, msg, ofp->protocol);
    ovs_be32 xid = ((struct ofp_header *) msg->data)->xid;
    lb_ofp_queue(ofp, msg);
    return xid;
}

/* Has the switch apply 'ofpacts' to the 'size' bytes of 'packet', as if it
 * had arrived on 'in_port'. */
void
lb_ofp_packet_out(const struct lb_ofp *ofp, ofp_port_t in_port,
                  const void *packet, size_t size,
                  const struct ofpbuf *ofpacts)
{
    struct ofputil_packet_out po = {
        .packet = packet,
        .packet_len = size,
        .buffer_id = UINT32_MAX,
        .ofpacts = ofpacts->data,
        .ofpacts_len = ofpacts->size,
    };
    match_init_catchall(&po.flow_metadata);
    match_set_in_port(&po.flow_metadata, in_port);
    lb_ofp_queue(ofp, ofputil_encode_packet_out(&po, ofp->protocol));
}

/* Sends 'packet' out 'out_port', as if it came in on 'in_port', and frees
 * it. */
static void
send_packet(const struct lb_ofp *ofp, struct dp_packet *packet,
            ofp_port_t in_port, ofp_port_t out_port)
{
    uint64_t ofpacts_stub[64 / 8];
    struct ofpbuf ofpacts;

    ofpbuf_use_stub(&ofpacts, ofpacts_stub, sizeof ofpacts_stub);
    lb_ofp_put_output(&ofpacts, out_port, in_port);
    lb_ofp_packet_out(ofp, in_port, dp_packet_data(packet),
                      dp_packet_size(packet), &ofpacts);
    ofpbuf_uninit(&ofpacts);
    dp_packet_uninit(packet);
}

/* Puts into 'packet' Ethernet and IPv4 headers for 'l4_len' bytes of
 * protocol 'proto', with its checksum, and returns the IPv4 header. */
static struct ip_header *
put_ipv4(struct dp_packet *packet, struct eth_addr eth_src,
         struct eth_addr eth_dst, ovs_be32 ip_src, ovs_be32 ip_dst,
         uint8_t proto, size_t l4_len, ovs_be16 frag_off)
{
    struct eth_header *eth = dp_packet_put_zeros(packet, sizeof *eth);
    eth->eth_dst = eth_dst;
    eth->eth_src = eth_src;
    eth->eth_type = htons(ETH_TYPE_IP);

    struct ip_header *ip = dp_packet_put_zeros(packet, sizeof *ip);
    ip->ip_ihl_ver = IP_IHL_VER(5, 4);
    ip->ip_tot_len = htons(sizeof *ip + l4_len);
    ip->ip_frag_off = frag_off;
    ip->ip_ttl = 64;
    ip->ip_proto = proto;
    put_16aligned_be32(&ip->ip_src, ip_src);
    put_16aligned_be32(&ip->ip_dst, ip_dst);
    ip->ip_csum = csum(ip, sizeof *ip);
    return ip;
}

/* Sends an ARP packet with the given fields out 'out_port' (which may be
 * OFPP_FLOOD), as if it came in on 'in_port'. */
void
lb_ofp_arp(const struct lb_ofp *ofp, uint16_t op, struct eth_addr eth_dst,
           struct eth_addr sha, ovs_be32 spa, struct eth_addr tha,
           ovs_be32 tpa, ofp_port_t in_port, ofp_port_t out_port)
{
    uint64_t packet_stub[128 / 8];
    struct dp_packet packet;

    dp_packet_use_stub(&packet, packet_stub, sizeof packet_stub);
    compose_arp(&packet, op, sha, tha, false, spa, tpa);
    struct eth_header *eth = dp_packet_eth(&packet);
    eth->eth_dst = eth_dst;
    send_packet(ofp, &packet, in_port, out_port);
}

/* Sends out 'port' an ICMP message of 'type' and 'code' from 'ip_src' to
 * 'ip_dst', whose header ends with 'rest_of_header' and whose body is the
 * 'size' bytes at 'data'. */
void
lb_ofp_icmp(const struct lb_ofp *ofp, struct eth_addr eth_src,
            struct eth_addr eth_dst, ovs_be32 ip_src, ovs_be32 ip_dst,
            uint8_t type, uint8_t code, ovs_be32 rest_of_header,
            const void *data, size_t size, ofp_port_t port)
{
    uint64_t packet_stub[2048 / 8];
    struct dp_packet packet;

    dp_packet_use_stub(&packet, packet_stub, sizeof packet_stub);
    put_ipv4(&packet, eth_src, eth_dst, ip_src, ip_dst, IPPROTO_ICMP,
             sizeof(struct icmp_header) + size, 0);
    struct icmp_header *icmp = dp_packet_put_zeros(&packet, sizeof *icmp);
    dp_packet_put(&packet, data, size);

    icmp->icmp_type = type;
    icmp->icmp_code = code;
    put_16aligned_be32(&icmp->icmp_fields.gateway, rest_of_header);
    icmp->icmp_csum = csum(icmp, sizeof *icmp + size);
    send_packet(ofp, &packet, port, port);
}

/* Sends, as if it came in on 'in_port', out 'out_port', the IPv4 packet
 * that 'a' addresses with L4 protocol 'proto' and L4 header and data 'l4'
 * (its checksum field zero: this fills it in). */
static void
send_l4(const struct lb_ofp *ofp, const struct lb_ofp_l4 *a, uint8_t proto,
        void *l4, size_t l4_len, ofp_port_t in_port, ofp_port_t out_port)
{
    uint64_t packet_stub[2048 / 8];
    struct dp_packet packet;

    dp_packet_use_stub(&packet, packet_stub, sizeof packet_stub);
    struct ip_header *ip = put_ipv4(&packet, a->eth_src, a->eth_dst,
                                    a->ip_src, a->ip_dst, proto, l4_len,
                                    htons(IP_DONT_FRAGMENT));
    uint32_t partial = packet_csum_pseudoheader(ip);
    ovs_be16 l4_csum = csum_finish(csum_continue(partial, l4, l4_len));
    if (proto == IPPROTO_TCP) {
        ((struct tcp_header *) l4)->tcp_csum = l4_csum;
    } else {
        ((struct udp_header *) l4)->udp_csum = (l4_csum ? l4_csum
                                                : htons(0xffff));
    }
    dp_packet_put(&packet, l4, l4_len);
    send_packet(ofp, &packet, in_port, out_port);
}

/* Sends a TCP segment with 'flags' (TCP_*), 'seq', 'ack' (if TCP_ACK),
 * 'window' and the 'n' bytes of 'data'; see send_l4(). */
void
lb_ofp_tcp(const struct lb_ofp *ofp, const struct lb_ofp_l4 *a,
           uint16_t flags, uint32_t seq, uint32_t ack, uint16_t window,
           const void *data, size_t n, ofp_port_t in_port,
           ofp_port_t out_port)
{
    size_t len = sizeof(struct tcp_header) + n;
    uint8_t *l4 = xzalloc(len);
    struct tcp_header *tcp = (struct tcp_header *) l4;

    tcp->tcp_src = htons(a->src_port);
    tcp->tcp_dst = htons(a->dst_port);
    put_16aligned_be32(&tcp->tcp_seq, htonl(seq));
    put_16aligned_be32(&tcp->tcp_ack, htonl(flags & TCP_ACK ? ack : 0));
    tcp->tcp_ctl = TCP_CTL(flags, 5);
    tcp->tcp_winsz = htons(window);
    if (n) {                    /* memcpy() may not be given NULL. */
        memcpy(l4 + sizeof *tcp, data, n);
    }
    send_l4(ofp, a, IPPROTO_TCP, l4, len, in_port, out_port);
    free(l4);
}

/* Sends a UDP datagram with the 'n' bytes of 'data'; see send_l4(). */
void
lb_ofp_udp(const struct lb_ofp *ofp, const struct lb_ofp_l4 *a,
           const void *data, size_t n, ofp_port_t in_port,
           ofp_port_t out_port)
{
    size_t len = sizeof(struct udp_header) + n;
    uint8_t *l4 = xzalloc(len);
    struct udp_header *udp = (struct udp_header *) l4;

    udp->udp_src = htons(a->src_port);
    udp->udp_dst = htons(a->dst_port);
    udp->udp_len = htons(len);
    if (n) {
        memcpy(l4 + sizeof *udp, data, n);
    }
    send_l4(ofp, a, IPPROTO_UDP, l4, len, in_port, out_port);
    free(l4);
}

/* Sends out 'port' an ICMP destination unreachable with 'code' from
 * 'ip_src' to 'ip_dst' about the 'l3_size' bytes of IPv4 packet at 'l3' (of
 * which it quotes the header and 8 bytes, as RFC 792 asks). */
void
lb_ofp_icmp_unreachable(const struct lb_ofp *ofp, struct eth_addr eth_src,
                        struct eth_addr eth_dst, ovs_be32 ip_src,
                        ovs_be32 ip_dst, uint8_t code, const void *l3,
                        size_t l3_size, ofp_port_t port)
{
    const struct ip_header *orig = l3;
    size_t quote = MIN(l3_size, IP_IHL(orig->ip_ihl_ver) * 4 + 8);

    lb_ofp_icmp(ofp, eth_src, eth_dst, ip_src, ip_dst, ICMP4_DST_UNREACH,
                code, htonl(0), l3, quote, port);
}

/* An OXM match of 12 bytes: its header, then in_port's. */
static const uint8_t in_port_match[8] = {
    0, OFPMT_OXM, 0, 12, 0x80, 0x00, 0x00, 0x04
};

/* Returns true if packet-in 'msg' ('len' bytes, at any alignment) has one
 * of the two forms switches send most, which decode_packet_in_fast() reads
 * field by field: OpenFlow 1.0's, or 1.2's and later's with a match that
 * holds only the input port, from a normal port (as Open vSwitch sends
 * them).  Sets '*frame' and '*frame_len' to its frame and '*port' to its
 * input port. */
static bool
packet_in_is_plain(const uint8_t *msg, size_t len, const uint8_t **frame,
                   size_t *frame_len, uint16_t *port)
{
    *frame = lb_ofp_packet_in_frame(msg, len, frame_len);
    if (!*frame) {
        return false;
    } else if (msg[0] == OFP10_VERSION) {
        const uint8_t *p = msg + sizeof(struct ofp_header)
                           + offsetof(struct ofp10_packet_in, in_port);
        *port = p[0] << 8 | p[1];
    } else {
        /* The fixed part, the cookie from 1.3 on, the match padded to 8
         * bytes, 2 bytes of padding, then the frame. */
        const uint8_t *match = *frame - 16 - 2;
        uint64_t have, want;
        memcpy(&have, match, sizeof have);
        memcpy(&want, in_port_match, sizeof want);
        if (have != want || match[8] || match[9]) {
            return false;
        }
        *port = match[10] << 8 | match[11];
    }
    return *port < ofp_to_u16(OFPP_MAX);
}

/* Reads packet-in 'oh' directly if packet_in_is_plain().  Returns false,
 * for OVS's decoder, if it has another form. */
static bool
decode_packet_in_fast(const struct ofp_header *oh, struct lb_packet_in *pin)
{
    const uint8_t *frame;
    size_t frame_len;
    ovs_be64 cookie = OVS_BE64_MAX;
    uint16_t total_len;
    uint16_t port;

    if (!packet_in_is_plain((const uint8_t *) oh, ntohs(oh->length), &frame,
                            &frame_len, &port)) {
        return false;
    } else if (oh->version == OFP10_VERSION) {
        const struct ofp10_packet_in *opi = (const void *) (oh + 1);
        total_len = ntohs(opi->total_len);
    } else {
        /* The cookie, from 1.3 on, comes just before the 16-byte match. */
        if (oh->version >= OFP13_VERSION) {
            memcpy(&cookie, frame - 2 - 16 - 8, sizeof cookie);
        }
        const struct ofp12_packet_in *opi = (const void *) (oh + 1);
        total_len = ntohs(opi->total_len);
    }

    pin->in_port = u16_to_ofp(port);
    pin->packet = frame;
    pin->packet_len = frame_len;
    pin->total_len = total_len;
    pin->cookie = cookie;
    pin->fast = true;
    return true;
}

/* Decodes packet-in 'oh', a whole message at any alignment (see
 * lb_ofp_frame()), into 'pin'.  Returns an error if it is not a valid
 * packet-in.
 *
 * OVS's decoder fills a whole struct match for the packet's metadata,
 * thousands of instructions of which the balancer needs the input port; so
 * the common forms are read directly, and only the rest go to
 * ofputil_decode_packet_in().  (A unit test checks that both agree.)  That
 * one wants the message aligned as malloc() would: one that is not is
 * copied, and 'pin->packet' then points into the copy, valid until the
 * next call. */
enum ofperr
lb_ofp_decode_packet_in(const struct ofp_header *oh, struct lb_packet_in *pin)
{
    static struct ofpbuf *aligned;
    struct ofputil_packet_in opi;
    enum ofptype type;
    enum ofperr error;

    if (decode_packet_in_fast(oh, pin)) {
        return 0;
    }
    if ((uintptr_t) oh % 8) {
        if (!aligned) {
            aligned = ofpbuf_new(2048);
        }
        ofpbuf_clear(aligned);
        oh = ofpbuf_put(aligned, oh, ntohs(oh->length));
    }

    /* OVS's decoder asserts that it is given a packet-in. */
    error = ofptype_decode(&type, oh);
    if (error) {
        return error;
    } else if (type != OFPTYPE_PACKET_IN) {
        return OFPERR_OFPBRC_BAD_TYPE;
    }
    error = ofputil_decode_packet_in(oh, true, NULL, NULL, &opi,
                                     &pin->total_len, NULL, NULL);
    if (!error) {
        pin->in_port = opi.flow_metadata.flow.in_port.ofp_port;
        pin->packet = opi.packet;
        pin->packet_len = opi.packet_len;
        pin->cookie = opi.cookie;
        pin->fast = false;
    }
    return error;
}

/* Sets the length of the message that starts at offset 'ofs' in 'buf' to
 * reach the end of 'buf'.  Messages sent back to back start at any offset,
 * so the header may not be aligned: it is stored byte-wise. */
void
lb_ofp_end_message(struct ofpbuf *buf, size_t ofs)
{
    ovs_be16 length = htons(buf->size - ofs);
    memcpy(ofpbuf_at_assert(buf, ofs + offsetof(struct ofp_header, length),
                            sizeof length),
           &length, sizeof length);
}

/* Takes the next whole message from 'rx', bytes received from a stream,
 * and returns it, or NULL if 'rx' does not hold a whole message.  Sets
 * '*error' to EPROTO (and returns NULL) if the next message's length is
 * impossible.
 *
 * Messages follow each other at any offset, but OVS's decoders want them
 * aligned as malloc() would, so one that is not is copied to 'aligned'
 * (except packet-ins at 4 bytes off 8: see lb_ofp_decode_packet_in()).
 * The message stays valid until 'rx' or 'aligned' changes. */
const struct ofp_header *
lb_ofp_frame(struct ofpbuf *rx, struct ofpbuf *aligned, int *error)
{
    *error = 0;
    if (rx->size < sizeof(struct ofp_header)) {
        return NULL;
    }

    const uint8_t *p = rx->data;
    size_t len = p[2] << 8 | p[3];
    if (len < sizeof(struct ofp_header)) {
        *error = EPROTO;
        return NULL;
    } else if (len > rx->size) {
        return NULL;
    }
    ofpbuf_pull(rx, len);

    /* A packet-in is left where it is, at its header's alignment: with an
     * ARP or a SYN, every other one is 4 bytes off 8, and
     * lb_ofp_decode_packet_in() reads most field by field, and copies the
     * others itself. */
    if ((uintptr_t) p % 8
        && ((uintptr_t) p % 4 || p[1] != LB_OFPT_PACKET_IN)) {
        ofpbuf_clear(aligned);
        p = ofpbuf_put(aligned, p, len);
    }
    return (const struct ofp_header *) p;
}

/* Outputs to 'out_port'.  OpenFlow never sends a packet back out the port
 * it came in on unless told so with IN_PORT, so that is what is used when
 * 'out_port' is 'in_port' (a client and a server behind the same port). */
void
lb_ofp_put_output(struct ofpbuf *ofpacts, ofp_port_t out_port,
                  ofp_port_t in_port)
{
    ofpact_put_OUTPUT(ofpacts)->port = (out_port == in_port
                                        ? OFPP_IN_PORT : out_port);
}

/* Sends whole packets to the controller. */
void
lb_ofp_put_controller(struct ofpbuf *ofpacts)
{
    struct ofpact_output *output = ofpact_put_OUTPUT(ofpacts);
    output->port = OFPP_CONTROLLER;
    output->max_len = UINT16_MAX;
}

/* Rewrites the Ethernet addresses and, where nonzero, the IPv4 source and
 * destination.  The switch fixes the IP and L4 checksums. */
void
lb_ofp_put_rewrite(struct ofpbuf *ofpacts, struct eth_addr eth_src,
                   struct eth_addr eth_dst, ovs_be32 ip_src, ovs_be32 ip_dst)
{
    ofpact_put_SET_ETH_SRC(ofpacts)->mac = eth_src;
    ofpact_put_SET_ETH_DST(ofpacts)->mac = eth_dst;
    if (ip_src) {
        ofpact_put_SET_IPV4_SRC(ofpacts)->ipv4 = ip_src;
    }
    if (ip_dst) {
        ofpact_put_SET_IPV4_DST(ofpacts)->ipv4 = ip_dst;
    }
}

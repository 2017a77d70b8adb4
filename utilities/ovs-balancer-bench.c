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

/* ovs-balancer-bench: how fast a controller sets up new clients.
 *
 * It connects to an OpenFlow controller as one or more switches, does the
 * switch side of the handshake, answers the controller's ARP probes for the
 * backends from their ports, then plays N distinct clients, each an ARP
 * request for the VIP and a TCP SYN to it, as packet-ins.  A client is set
 * up when both of its flows have arrived (for ovs-balancer) or when the
 * first reply for it has (for a learning switch such as ovs-testcontroller,
 * with --done=first-reply).
 *
 * The tool must not be what limits the measurement, so its I/O is batched:
 * it reads what is readable in large chunks and frames the messages itself,
 * and sends what one loop iteration produced in one write per connection.
 * Messages are built from templates encoded once with OVS's encoders, and
 * the controller's frequent messages (flow mods, packet-outs) are read in
 * place; the others go through OVS's decoders.
 *
 * With --responder it is instead a null controller that answers each
 * packet-in with one flow mod patched from a template, with the same
 * batched I/O: the machine's ceiling for the same workload (a client is
 * set up when both of its packet-ins are answered, --done=both-replies). */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include "command-line.h"
#include "csum.h"
#include "dirs.h"
#include "dp-packet.h"
#include "controller/batch-conn.h"
#include "controller/listener.h"
#include "fatal-signal.h"
#include "lib/lb-ofp.h"
#include "lib/lb-template.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "socket-util.h"
#include "stream.h"
#include "stream-fd.h"
#include "timeval.h"
#include "util.h"

/* Command-line settings. */
static const char *target;              /* Where the controller listens. */
static int n_switches = 1;
static enum ofp_version version = OFP13_VERSION;
static long long int n_clients = 10000;
static long long int first_client;      /* Offset, for distinct runs. */
static uint64_t first_dpid = 0xbe0000;  /* Of the first emulated switch. */
static enum { MODE_THROUGHPUT, MODE_LATENCY, MODE_RATE } mode;
static int window = 1000;               /* Clients in flight, throughput. */
static double rate;                     /* Clients per second, fixed rate. */
static enum {
    DONE_BOTH_FLOWS,            /* Both of a client's flows arrived. */
    DONE_FIRST_REPLY,           /* Anything for the client arrived. */
    DONE_BOTH_REPLIES,          /* Both its packet-ins were answered. */
} done_when;
static int timeout_ms = 10000;          /* Per client. */
static const char *json_file;
static bool responder;
static bool stay;                       /* Connected after the run? */
static bool staying;                    /* The run is over, with --stay. */
static int n_client_ports = 4;
static ovs_be32 vip;
static struct eth_addr lb_mac;
static ovs_be32 *servers;
static size_t n_servers;

/* Clients: client i is 10.1.0.0 + i (first_client included), with MAC
 * 02:00 followed by i, behind switch i % n_switches. */
#define CLIENT_IP_BASE 0x0a010000
enum { C_IDLE, C_WAITING, C_DONE, C_FAILED };
#define F_C2S 1                 /* Client-to-server flow seen. */
#define F_S2C 2                 /* Server-to-client flow seen. */

/* A client's two packet-ins have xids that say whose they are and which
 * (0: ARP, 1: SYN), for controllers that answer with the same xid. */
#define CLIENT_XID 0x80000000u

struct client {
    long long int start;        /* When sent (or scheduled), in ns. */
    uint32_t lag;               /* Open loop: ns sent after 'start'. */
    uint8_t state;
    uint8_t flags;
};

static struct client *clients;
static long long int recv_time;         /* When the last read was made. */
static long long int next_client;       /* Next to send. */
static long long int n_waiting, n_done, n_failed;
static uint32_t *latencies;             /* ns, of the clients set up. */

/* Open loop: the same, counted from when the tool sent each client rather
 * than from when it was due, which leaves out how late the tool itself
 * was (see below). */
static uint32_t *latencies_from_send;

/* Open loop: how late the tool itself sent clients, after their scheduled
 * time (a client's latency counts from then, so the tool's own delays
 * are in it: these tell them apart from the controller's). */
static long long int send_lag_max;      /* ns. */
static long long int n_sent_late;       /* Sent over 1 ms late. */

/* Counters. */
static unsigned long long msgs_sent, msgs_received;
static unsigned long long n_errors;             /* OFPT_ERRORs received. */

/* OpenFlow message types that are the same in 1.0 and 1.3, for reading
 * the frequent messages without a full decode. */
enum {
    OFPT_HELLO = 0,
    OFPT_ECHO_REQUEST = 2,
    OFPT_PACKET_IN = 10,
    OFPT_PACKET_OUT = 13,
    OFPT_FLOW_MOD = 14,
};

/* OXM headers of the IPv4 source and destination (OpenFlow basic class,
 * fields 11 and 12, 4 bytes, no mask). */
#define OXM_IPV4_SRC 0x80001604
#define OXM_IPV4_DST 0x80001804

static long long int
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint16_t
get_be16(const uint8_t *p)
{
    return p[0] << 8 | p[1];
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* A batched OpenFlow connection (controller/batch-conn.h), and what the
 * bench does when it fails. */

struct conn {
    struct batch_conn bc;
    bool closed;
    char *name;
    int fd;                     /* The stream's socket, or -1 if unknown. */
    bool polled_out;            /* In the epoll set for room to send. */
};

#define CONN_READ_SIZE (256 * 1024)

static void
conn_init(struct conn *c, struct stream *stream, const char *name)
{
    memset(c, 0, sizeof *c);
    batch_conn_init(&c->bc, 2 * CONN_READ_SIZE);
    batch_conn_open(&c->bc, stream);
    c->name = xstrdup(name);
    c->fd = -1;
}

static void
conn_destroy(struct conn *c)
{
    batch_conn_destroy(&c->bc);
    free(c->name);
}

static void
conn_put(struct conn *c, const void *msg, size_t len)
{
    lb_ofp_put(&c->bc.tx, msg, len);
    msgs_sent++;
}

static void
conn_put_ofpbuf(struct conn *c, struct ofpbuf *msg)
{
    ofpmsg_update_length(msg);
    conn_put(c, msg->data, msg->size);
    ofpbuf_delete(msg);
}

/* A connection that failed is closed: the responder carries on, and so
 * does the bench once its run is over (--stay); during the run it
 * cannot. */
static void
conn_failed(struct conn *c, int error, const char *what)
{
    if (!responder && !staying) {
        ovs_fatal(error, "%s: %s", c->name, what);
    }
    c->closed = true;
}

/* Sends what is queued, in as few writes as the socket takes. */
static void
conn_flush(struct conn *c)
{
    int error = c->bc.tx.size ? batch_conn_flush(&c->bc) : 0;
    if (error) {
        conn_failed(c, error, "send failed");
    }
}

/* Reads once and hands each whole message to 'handle'.  Returns false if
 * nothing could be read or the connection failed. */
static bool
conn_recv(struct conn *c, void (*handle)(void *, const struct ofp_header *,
                                         size_t),
          void *aux)
{
    int error;
    int retval = batch_conn_read(&c->bc, CONN_READ_SIZE, &error);
    if (retval <= 0) {
        if (retval) {
            conn_failed(c, error == EOF ? 0 : error, "connection closed");
        }
        return false;
    }

    const struct ofp_header *oh;
    while ((oh = batch_conn_next(&c->bc, &error))) {
        handle(aux, oh, ntohs(oh->length));
    }
    if (error) {
        ovs_fatal(0, "%s: message with impossible length", c->name);
    }
    batch_conn_compact(&c->bc);
    return true;
}

static void
conn_wait(struct conn *c)
{
    batch_conn_wait(&c->bc, true);
}

/* The emulated switches. */

struct bench_switch {
    struct conn conn;
    uint64_t dpid;
    bool hello_seen;
    bool ready;                 /* Handshake done, servers known. */
    uint64_t probed;            /* Bit k: server k's probe was answered. */
    uint32_t echo_xid;          /* Outstanding readiness echo, or 0. */
    uint32_t xid;

    /* Packet-in templates per client port: ARP request and TCP SYN. */
    struct ofpbuf *arp_pin[16];
    struct ofpbuf *syn_pin[16];
    size_t arp_frame_ofs, syn_frame_ofs;    /* Where their frames start. */

    /* Its clients: those numbered k, k + n_switches, k + 2 * n_switches...
     * if it is the k-th, sent in that order. */
    long long int next;         /* The next of them to send. */
    long long int oldest;       /* None of them before is waiting. */
    int waiting;                /* How many are in flight. */
    int window;                 /* Throughput mode: its share of --window. */
};

static struct bench_switch *switches;

static struct eth_addr
client_mac(long long int i)
{
    uint32_t n = first_client + i;
    return (struct eth_addr) { { { 0x02, 0x00, n >> 24, n >> 16, n >> 8,
                                   n } } };
}

static ovs_be32
client_ip(long long int i)
{
    return htonl(CLIENT_IP_BASE + first_client + i);
}

/* Returns the client with MAC 'mac', or -1. */
static long long int
client_by_mac(const uint8_t *mac)
{
    if (mac[0] != 2 || mac[1] != 0) {
        return -1;
    }
    long long int i = (long long int) get_be32(mac + 2) - first_client;
    return i >= 0 && i < n_clients ? i : -1;
}

static long long int
client_by_ip(uint32_t ip)
{
    long long int i = (long long int) ip - CLIENT_IP_BASE - first_client;
    return i >= 0 && i < n_clients ? i : -1;
}

static struct ofpbuf *
encode_packet_in(const struct dp_packet *packet, ofp_port_t port)
{
    struct ofputil_packet_in_private pin = {
        .base = {
            .packet = CONST_CAST(void *, dp_packet_data(packet)),
            .packet_len = dp_packet_size(packet),
            .reason = OFPR_NO_MATCH,
            .table_id = 0,
            .cookie = OVS_BE64_MAX,
        },
    };
    match_init_catchall(&pin.base.flow_metadata);
    match_set_in_port(&pin.base.flow_metadata, port);
    return ofputil_encode_packet_in_private(
        &pin, ofputil_protocol_from_ofp_version(version),
        OFPUTIL_PACKET_IN_STD);
}

/* The templates of client 0's frames, which clients patch. */
static void
make_templates(struct bench_switch *sw)
{
    uint64_t stub[256 / 8];
    struct dp_packet packet;

    for (int p = 0; p < n_client_ports; p++) {
        ofp_port_t port = u16_to_ofp(p + 1);

        dp_packet_use_stub(&packet, stub, sizeof stub);
        compose_arp(&packet, ARP_OP_REQUEST, client_mac(0), eth_addr_zero,
                    true, client_ip(0), vip);
        sw->arp_pin[p] = encode_packet_in(&packet, port);
        sw->arp_frame_ofs = sw->arp_pin[p]->size - dp_packet_size(&packet);
        dp_packet_uninit(&packet);

        /* A TCP SYN to the VIP's port 80. */
        dp_packet_use_stub(&packet, stub, sizeof stub);
        struct eth_header *eth = dp_packet_put_zeros(&packet, sizeof *eth);
        eth->eth_dst = lb_mac;
        eth->eth_src = client_mac(0);
        eth->eth_type = htons(ETH_TYPE_IP);
        struct ip_header *ip = dp_packet_put_zeros(&packet, sizeof *ip);
        ip->ip_ihl_ver = IP_IHL_VER(5, 4);
        ip->ip_tot_len = htons(IP_HEADER_LEN + TCP_HEADER_LEN);
        ip->ip_frag_off = htons(IP_DONT_FRAGMENT);
        ip->ip_ttl = 64;
        ip->ip_proto = IPPROTO_TCP;
        put_16aligned_be32(&ip->ip_src, client_ip(0));
        put_16aligned_be32(&ip->ip_dst, vip);
        ip->ip_csum = csum(ip, IP_HEADER_LEN);
        struct tcp_header *tcp = dp_packet_put_zeros(&packet, sizeof *tcp);
        tcp->tcp_src = htons(40000);
        tcp->tcp_dst = htons(80);
        tcp->tcp_ctl = TCP_CTL(TCP_SYN, 5);
        tcp->tcp_winsz = htons(64240);
        sw->syn_pin[p] = encode_packet_in(&packet, port);
        sw->syn_frame_ofs = sw->syn_pin[p]->size - dp_packet_size(&packet);
        dp_packet_uninit(&packet);
    }
}

/* Queues client i's packet-in 'which' (0 or 1) from 'template', whose
 * frame starts at 'frame', patched with the client's MAC (at the given
 * offsets in the frame) and IP. */
static void
put_client_packet_in(struct bench_switch *sw, const struct ofpbuf *template,
                     size_t frame, long long int i, int which,
                     const size_t mac_ofs[2],
                     size_t ip_ofs, bool ip_csum)
{
    size_t size = template->size;
    uint8_t *msg = lb_ofp_put(&sw->conn.bc.tx, template->data, size);
    struct eth_addr mac = client_mac(i);
    ovs_be32 ip = client_ip(i);

    ovs_be32 xid = htonl(CLIENT_XID | (i << 1) | which);
    memcpy(msg + offsetof(struct ofp_header, xid), &xid, sizeof xid);
    for (int k = 0; k < 2; k++) {
        if (mac_ofs[k]) {
            memcpy(msg + frame + mac_ofs[k], &mac, ETH_ADDR_LEN);
        }
    }
    memcpy(msg + frame + ip_ofs, &ip, sizeof ip);
    if (ip_csum) {
        /* The template's checksum, updated for the new source IP. */
        uint8_t *sum = msg + frame + ETH_HEADER_LEN + 10;
        ovs_be16 old_sum;
        memcpy(&old_sum, sum, sizeof old_sum);
        ovs_be16 new_sum = recalc_csum32(old_sum, client_ip(0), ip);
        memcpy(sum, &new_sum, sizeof new_sum);
    }
    msgs_sent++;
}

static void
send_client(long long int i, long long int when)
{
    struct bench_switch *sw = &switches[i % n_switches];
    int p = i % n_client_ports;

    /* ARP: source MAC in the Ethernet header and as sender, sender IP. */
    static const size_t arp_mac[2] = { 6, ETH_HEADER_LEN + 8 };
    put_client_packet_in(sw, sw->arp_pin[p], sw->arp_frame_ofs, i, 0, arp_mac,
                         ETH_HEADER_LEN + 14, false);
    /* SYN: source MAC, source IP. */
    static const size_t syn_mac[2] = { 6, 0 };
    put_client_packet_in(sw, sw->syn_pin[p], sw->syn_frame_ofs, i, 1, syn_mac,
                         ETH_HEADER_LEN + 12, true);

    clients[i].state = C_WAITING;
    clients[i].start = when;
    n_waiting++;
    sw->waiting++;
    sw->next = i + n_switches;
}

static void
client_event(long long int i, int flag)
{
    struct client *c = &clients[i];

    if (c->state != C_WAITING) {
        return;
    }
    c->flags |= flag;
    if (done_when == DONE_FIRST_REPLY
        || (c->flags & (F_C2S | F_S2C)) == (F_C2S | F_S2C)) {
        long long int lat = recv_time - c->start;
        c->state = C_DONE;
        latencies_from_send[n_done] = MIN(MAX(lat - c->lag, 0), UINT32_MAX);
        latencies[n_done++] = MIN(lat, UINT32_MAX);
        n_waiting--;
        switches[i % n_switches].waiting--;
    }
}

/* Reads a flow mod in place: which client's flow it is, if any. */
static void
read_flow_mod(const uint8_t *msg, size_t len)
{
    uint32_t nw_src = 0, nw_dst = 0;
    bool has_src = false, has_dst = false;

    if (version == OFP10_VERSION) {
        if (len < sizeof(struct ofp_header) + sizeof(struct ofp10_flow_mod)) {
            return;
        }
        const uint8_t *m = msg + sizeof(struct ofp_header);
        uint32_t wc = get_be32(m);
        if (get_be16(m + offsetof(struct ofp10_flow_mod, command))
            != OFPFC_ADD) {
            return;
        }
        has_src = !(wc & OFPFW10_NW_SRC_MASK);
        has_dst = !(wc & OFPFW10_NW_DST_MASK);
        nw_src = get_be32(m + offsetof(struct ofp10_match, nw_src));
        nw_dst = get_be32(m + offsetof(struct ofp10_match, nw_dst));
    } else {
        size_t ofs = sizeof(struct ofp_header) + sizeof(struct ofp11_flow_mod);
        if (len < ofs + 4
            || msg[sizeof(struct ofp_header)
                   + offsetof(struct ofp11_flow_mod, command)] != OFPFC_ADD) {
            return;
        }
        size_t match_end = ofs + get_be16(msg + ofs + 2);
        if (match_end > len) {
            return;
        }
        /* The OXM fields, each a 4-byte header and a value. */
        for (ofs += 4; ofs + 4 <= match_end; ) {
            uint32_t hdr = get_be32(msg + ofs);
            size_t field_len = hdr & 0xff;
            if (ofs + 4 + field_len > match_end) {
                break;
            }
            if (hdr == OXM_IPV4_SRC) {
                has_src = true;
                nw_src = get_be32(msg + ofs + 4);
            } else if (hdr == OXM_IPV4_DST) {
                has_dst = true;
                nw_dst = get_be32(msg + ofs + 4);
            }
            ofs += 4 + field_len;
        }
    }

    if (has_src && has_dst && nw_dst == ntohl(vip)) {
        long long int i = client_by_ip(nw_src);
        if (i >= 0) {
            client_event(i, F_C2S);
        }
    } else if (has_dst) {
        long long int i = client_by_ip(nw_dst);
        if (i >= 0) {
            client_event(i, F_S2C);
        }
    }
}

/* Answers a packet-out that carries a probe of one of the servers. */
static void
answer_probe(struct bench_switch *sw, const uint8_t *frame)
{
    ovs_be32 tpa;
    memcpy(&tpa, frame + ETH_HEADER_LEN + 24, sizeof tpa);
    for (size_t k = 0; k < n_servers; k++) {
        if (servers[k] == tpa) {
            struct eth_addr mac = { { { 0x04, 0, 0, 0, 0, k + 1 } } };
            struct eth_addr asker;
            ovs_be32 spa;
            uint64_t stub[128 / 8];
            struct dp_packet packet;

            memcpy(&asker, frame + ETH_HEADER_LEN + 8, ETH_ADDR_LEN);
            memcpy(&spa, frame + ETH_HEADER_LEN + 14, sizeof spa);
            dp_packet_use_stub(&packet, stub, sizeof stub);
            compose_arp(&packet, ARP_OP_REPLY, mac, asker, false, tpa, spa);
            conn_put_ofpbuf(&sw->conn,
                            encode_packet_in(&packet, u16_to_ofp(
                                                 n_client_ports + 1 + k)));
            dp_packet_uninit(&packet);
            sw->probed |= UINT64_C(1) << k;
            return;
        }
    }
}

/* Reads a packet-out in place: an answer for a client, or a probe. */
static void
read_packet_out(struct bench_switch *sw, const uint8_t *msg, size_t len)
{
    size_t hdr = (version == OFP10_VERSION
                  ? sizeof(struct ofp_header) + sizeof(struct ofp10_packet_out)
                  : sizeof(struct ofp_header)
                    + sizeof(struct ofp11_packet_out));
    if (len < hdr) {
        return;
    }
    size_t actions_len = get_be16(msg + hdr - (version == OFP10_VERSION
                                               ? 2 : 8));
    const uint8_t *frame = msg + hdr + actions_len;
    size_t frame_len = len - MIN(len, hdr + actions_len);
    if (frame_len < ETH_HEADER_LEN) {
        return;
    }

    long long int i = client_by_mac(frame + 6);        /* Source. */
    if (i < 0) {
        i = client_by_mac(frame);                       /* Destination. */
    }
    if (i >= 0) {
        client_event(i, 0);
    } else if (frame_len >= ETH_HEADER_LEN + ARP_ETH_HEADER_LEN
               && get_be16(frame + 12) == ETH_TYPE_ARP
               && get_be16(frame + ETH_HEADER_LEN + 6) == ARP_OP_REQUEST) {
        answer_probe(sw, frame);
    }
}

static void
reply_multipart(struct bench_switch *sw, const struct ofp_header *oh,
                enum ofptype type)
{
    struct ovs_list replies;

    ofpmp_init(&replies, oh);
    if (type == OFPTYPE_PORT_DESC_STATS_REQUEST) {
        for (int p = 1; p <= n_client_ports + (int) n_servers; p++) {
            struct ofputil_phy_port pp = {
                .port_no = u16_to_ofp(p),
                .hw_addr = { { { 0x06, 0, 0, 0, 0, p } } },
            };
            snprintf(pp.name, sizeof pp.name, "p%d", p);
            ofputil_append_port_desc_stats_reply(&pp, &replies);
        }
    }
    struct ofpbuf *msg;
    LIST_FOR_EACH_POP (msg, list_node, &replies) {
        conn_put_ofpbuf(&sw->conn, msg);
    }
}

static void
switch_handle(void *sw_, const struct ofp_header *oh, size_t len)
{
    struct bench_switch *sw = sw_;
    const uint8_t *msg = (const uint8_t *) oh;

    msgs_received++;
    /* The frequent messages, read in place. */
    if (done_when == DONE_BOTH_REPLIES
        && (oh->type == OFPT_FLOW_MOD || oh->type == OFPT_PACKET_OUT)) {
        uint32_t xid = ntohl(oh->xid);
        if (xid & CLIENT_XID && (xid & ~CLIENT_XID) >> 1 < n_clients) {
            client_event((xid & ~CLIENT_XID) >> 1, xid & 1 ? F_S2C : F_C2S);
        } else if (oh->type == OFPT_PACKET_OUT) {
            read_packet_out(sw, msg, len);
        }
        return;
    } else if (oh->type == OFPT_FLOW_MOD) {
        read_flow_mod(msg, len);
        return;
    } else if (oh->type == OFPT_PACKET_OUT) {
        read_packet_out(sw, msg, len);
        return;
    }

    enum ofptype type;
    if (oh->type == OFPT_HELLO) {
        sw->hello_seen = true;
        return;
    } else if (ofptype_decode(&type, oh)) {
        return;
    }

    if (type == OFPTYPE_ECHO_REQUEST) {
        conn_put_ofpbuf(&sw->conn, ofputil_encode_echo_reply(oh));
    } else if (type == OFPTYPE_ECHO_REPLY) {
        if (oh->xid == htonl(sw->echo_xid)) {
            sw->ready = true;
        }
    } else if (type == OFPTYPE_FEATURES_REQUEST) {
        struct ofputil_switch_features features = {
            .datapath_id = sw->dpid,
            .n_buffers = 0,
            .n_tables = 254,
        };
        struct ofpbuf *reply = ofputil_encode_switch_features(
            &features, ofputil_protocol_from_ofp_version(version), oh->xid);
        if (version == OFP10_VERSION) {
            for (int p = 1; p <= n_client_ports + (int) n_servers; p++) {
                struct ofputil_phy_port pp = { .port_no = u16_to_ofp(p) };
                snprintf(pp.name, sizeof pp.name, "p%d", p);
                ofputil_put_switch_features_port(&pp, reply);
            }
        }
        ofpmsg_update_length(reply);
        conn_put_ofpbuf(&sw->conn, reply);
    } else if (type == OFPTYPE_BARRIER_REQUEST) {
        conn_put_ofpbuf(&sw->conn, ofpraw_alloc_reply(
                            version == OFP10_VERSION
                            ? OFPRAW_OFPT10_BARRIER_REPLY
                            : OFPRAW_OFPT11_BARRIER_REPLY, oh, 0));
    } else if (type == OFPTYPE_ERROR) {
        n_errors++;
        if (n_errors <= 5) {
            char *s = ofp_to_string(oh, len, NULL, NULL, 1);
            fprintf(stderr, "ovs-balancer-bench: controller error: %s\n", s);
            free(s);
        }
    } else if (ofpmsg_is_stat_request(oh)) {
        reply_multipart(sw, oh, type);
    }
}

/* Connects to 'target' (unix:FILE or tcp:IP:PORT) with a socket of the
 * tool's own, so that the run can poll the switches' sockets itself and
 * read only those with something to read: with 64 switches, reading every
 * one in turn would cost the tool more than the controller's replies do.
 * Stores the socket in '*fdp'. */
static struct stream *
open_switch_stream(int *fdp)
{
    struct stream *stream = NULL;
    int fd = -1;
    int error;

    if (!strncmp(target, "unix:", 5)) {
        /* A relative name is in the run directory, as for OVS's unix:. */
        char *path = abs_file_name(ovs_rundir(), target + 5);
        fd = make_unix_socket(SOCK_STREAM, true, NULL, path);
        free(path);
        error = (fd < 0 ? -fd
                 : new_fd_stream(xstrdup(target), fd,
                                 check_connection_completion(fd), AF_UNIX,
                                 &stream));
    } else if (!strncmp(target, "tcp:", 4)) {
        error = inet_open_active(SOCK_STREAM, target + 4, OFP_PORT, NULL, &fd,
                                 DSCP_DEFAULT);
        if (!error || error == EAGAIN || error == EINPROGRESS) {
            int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            error = new_fd_stream(xstrdup(target), fd, error, AF_INET,
                                  &stream);
        }
    } else {
        ovs_fatal(0, "%s: not unix:FILE or tcp:IP:PORT", target);
    }
    error = stream_open_block(error, 10000, &stream);
    if (error) {
        ovs_fatal(error, "%s: cannot connect", target);
    }
    *fdp = fd;
    return stream;
}

static void
connect_switches(void)
{
    switches = xcalloc(n_switches, sizeof *switches);
    for (int i = 0; i < n_switches; i++) {
        struct bench_switch *sw = &switches[i];
        int fd;
        struct stream *stream = open_switch_stream(&fd);

        conn_init(&sw->conn, stream, target);
        sw->conn.fd = fd;
        sw->dpid = first_dpid + i;
        sw->next = sw->oldest = i;
        /* Each switch's clients are a closed loop of their own, as the
         * hosts behind a real switch are, so that a client set up on one
         * switch makes room for another on the same switch, and one
         * switch's replies do not make a message for every other. */
        sw->window = MAX(1, window / n_switches + (i < window % n_switches));
        make_templates(sw);
        conn_put_ofpbuf(&sw->conn, ofputil_encode_hello(1u << version));
    }

    /* Handshake: until every switch has a version, has answered what the
     * controller asked and has had an echo answered after its servers were
     * learned (then the controller has done everything before it). */
    long long int deadline = time_msec() + 30000;
    for (;;) {
        bool all_ready = true;
        for (int i = 0; i < n_switches; i++) {
            struct bench_switch *sw = &switches[i];
            conn_flush(&sw->conn);
            while (conn_recv(&sw->conn, switch_handle, sw)) {
                continue;
            }
            uint64_t all = n_servers ? UINT64_MAX >> (64 - n_servers) : 0;
            if (!sw->ready && !sw->echo_xid && sw->hello_seen
                && (sw->probed & all) == all) {
                sw->echo_xid = ++sw->xid;
                struct ofpbuf *echo = ofputil_encode_echo_request(version);
                ((struct ofp_header *) echo->data)->xid = htonl(sw->echo_xid);
                conn_put_ofpbuf(&sw->conn, echo);
            }
            conn_flush(&sw->conn);
            all_ready &= sw->ready;
        }
        if (all_ready) {
            break;
        } else if (time_msec() > deadline) {
            ovs_fatal(0, "%s: handshake not done after 30 s (are the "
                      "servers right?)", target);
        }
        for (int i = 0; i < n_switches; i++) {
            conn_wait(&switches[i].conn);
        }
        poll_timer_wait(100);
        poll_block();
    }
}

/* The run. */

static long long int run_start;         /* When the clients started. */
static double run_cpu;                  /* The tool's CPU seconds in it. */

/* CPU seconds this process has used. */
static double
cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
            + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

/* Throughput mode: whether 'sw' may have another client in flight. */
static bool
switch_has_room(const struct bench_switch *sw)
{
    return sw->next < n_clients && sw->waiting < sw->window;
}

/* Whether start_clients() would send a client now. */
static bool
can_start_now(void)
{
    if (mode == MODE_LATENCY) {
        return next_client < n_clients && !n_waiting;
    } else if (mode == MODE_THROUGHPUT) {
        for (int i = 0; i < n_switches; i++) {
            if (switch_has_room(&switches[i])) {
                return true;
            }
        }
    }
    return false;
}

static void
start_clients(long long int now)
{
    if (mode == MODE_RATE) {
        /* Open loop: every client goes at its scheduled time, whatever
         * the controller does; its latency counts from then. */
        long long int t0 = run_start;
        while (next_client < n_clients) {
            long long int when = t0 + next_client * (1e9 / rate);
            if (when > now) {
                break;
            }
            send_lag_max = MAX(send_lag_max, now - when);
            n_sent_late += now - when > 1000000;
            clients[next_client].lag = MIN(now - when, UINT32_MAX);
            send_client(next_client++, when);
        }
    } else if (mode == MODE_LATENCY) {
        if (can_start_now()) {
            send_client(next_client++, now);
        }
    } else {
        for (int i = 0; i < n_switches; i++) {
            struct bench_switch *sw = &switches[i];
            while (switch_has_room(sw)) {
                send_client(sw->next, now);
            }
        }
    }
}

static void
expire_clients(long long int now)
{
    for (int i = 0; i < n_switches; i++) {
        struct bench_switch *sw = &switches[i];

        for (; sw->oldest < sw->next; sw->oldest += n_switches) {
            struct client *c = &clients[sw->oldest];
            if (c->state != C_WAITING) {
                continue;
            }
            if (now - c->start < timeout_ms * 1000000LL) {
                break;
            }
            c->state = C_FAILED;
            n_failed++;
            n_waiting--;
            sw->waiting--;
        }
    }
}

static int
compare_u32(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *) a_, b = *(const uint32_t *) b_;
    return a < b ? -1 : a > b;
}

/* The 'p'th percentile of the 'n_done' sorted 'lat', in us. */
static double
percentile(const uint32_t *lat, double p)
{
    if (!n_done) {
        return 0;
    }
    size_t idx = MIN(n_done - 1, (size_t) (p / 100.0 * n_done));
    return lat[idx] / 1000.0;
}

static void
report(double seconds)
{
    qsort(latencies, n_done, sizeof *latencies, compare_u32);
    qsort(latencies_from_send, n_done, sizeof *latencies_from_send,
          compare_u32);
    double p50 = percentile(latencies, 50), p99 = percentile(latencies, 99);
    double max = percentile(latencies, 100);
    double sent_p50 = percentile(latencies_from_send, 50);
    double sent_p99 = percentile(latencies_from_send, 99);
    double sent_max = percentile(latencies_from_send, 100);
    double cps = n_done / seconds;
    const char *mode_name = (mode == MODE_THROUGHPUT ? "throughput"
                             : mode == MODE_LATENCY ? "latency" : "rate");

    printf("ovs-balancer-bench: %d switch%s, %s, %s mode",
           n_switches, n_switches == 1 ? "" : "es",
           ofputil_version_to_string(version), mode_name);
    if (mode == MODE_THROUGHPUT) {
        printf(" (window %d)", window);
    } else if (mode == MODE_RATE) {
        printf(" (%.0f clients/s offered)", rate);
    }
    printf(", done on %s\n", (done_when == DONE_FIRST_REPLY ? "first reply"
                              : done_when == DONE_BOTH_REPLIES
                              ? "both replies" : "both flows"));
    printf("  clients set up       %12lld in %.3f s = %.0f/s\n",
           n_done, seconds, cps);
    printf("  setup latency        p50 %.1f us, p99 %.1f us, max %.1f us\n",
           p50, p99, max);
    printf("  messages in          %12llu = %.0f/s (to the controller)\n",
           msgs_sent, msgs_sent / seconds);
    printf("  messages out         %12llu = %.0f/s (from the controller)\n",
           msgs_received, msgs_received / seconds);
    printf("  errors               %12lld timed out, %llu OpenFlow errors\n",
           n_failed, n_errors);
    if (mode == MODE_RATE) {
        printf("  sent late            %12lld over 1 ms late, at most %.1f us"
               "\n", n_sent_late, send_lag_max / 1000.0);
        printf("  latency from sending p50 %.1f us, p99 %.1f us, max %.1f us"
               "\n", sent_p50, sent_p99, sent_max);
    }
    /* Near 100%, the tool may be what limits the rate. */
    printf("  the tool's own CPU   %11.0f%% of a core\n",
           100 * run_cpu / seconds);

    if (json_file) {
        FILE *f = !strcmp(json_file, "-") ? stdout : fopen(json_file, "w");
        if (!f) {
            ovs_fatal(errno, "%s: cannot write", json_file);
        }
        fprintf(f, "{\"mode\": \"%s\", \"switches\": %d, \"version\": "
                "\"%s\", \"window\": %d, \"rate\": %.0f, \"clients\": %lld, "
                "\"set_up\": %lld, \"timed_out\": %lld, \"of_errors\": %llu, "
                "\"seconds\": %.6f, \"clients_per_sec\": %.1f, "
                "\"latency_us\": {\"p50\": %.2f, \"p99\": %.2f, "
                "\"max\": %.2f}, \"msgs_to_controller\": %llu, "
                "\"msgs_from_controller\": %llu, "
                "\"msgs_to_controller_per_sec\": %.1f, "
                "\"msgs_from_controller_per_sec\": %.1f, "
                "\"bench_cpu\": %.3f, \"sent_over_1ms_late\": %lld, "
                "\"send_lag_max_us\": %.1f, \"latency_from_send_us\": "
                "{\"p50\": %.2f, \"p99\": %.2f, \"max\": %.2f}}\n",
                mode_name, n_switches, ofputil_version_to_string(version),
                mode == MODE_THROUGHPUT ? window : 1, rate, n_clients,
                n_done, n_failed, n_errors, seconds, cps, p50, p99, max,
                msgs_sent, msgs_received, msgs_sent / seconds,
                msgs_received / seconds, run_cpu / seconds, n_sent_late,
                send_lag_max / 1000.0, sent_p50, sent_p99, sent_max);
        if (f != stdout) {
            fclose(f);
        }
    }
}

/* The switches' sockets, in an epoll set: with many switches, poll() on
 * them all on every turn of the loop would cost the tool more than the
 * messages do, and make it late sending. */
static int switch_set = -1;

static void
switch_set_update(struct bench_switch *sw)
{
    struct conn *c = &sw->conn;
    bool out = c->bc.tx.size > 0;
    if (c->polled_out != out) {
        struct epoll_event ev = {
            .events = EPOLLIN | (out ? EPOLLOUT : 0),
            .data.ptr = sw,
        };
        if (epoll_ctl(switch_set, EPOLL_CTL_MOD, c->fd, &ev)) {
            ovs_fatal(errno, "epoll_ctl failed");
        }
        c->polled_out = out;
    }
}

static void
switch_set_create(void)
{
    switch_set = epoll_create1(EPOLL_CLOEXEC);
    if (switch_set < 0) {
        ovs_fatal(errno, "epoll_create1 failed");
    }
    for (int i = 0; i < n_switches; i++) {
        struct bench_switch *sw = &switches[i];
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = sw };
        if (epoll_ctl(switch_set, EPOLL_CTL_ADD, sw->conn.fd, &ev)) {
            ovs_fatal(errno, "epoll_ctl failed");
        }
        sw->conn.polled_out = false;
    }
}

/* Waits up to 'wait_ms' for a switch's socket to have something to
 * read (or room for what is queued).  Returns how many have, each in
 * 'events' (room for all the switches). */
static int
poll_switches(struct epoll_event *events, int wait_ms)
{
    for (int i = 0; i < n_switches; i++) {
        switch_set_update(&switches[i]);
    }
    int n = epoll_wait(switch_set, events, n_switches, wait_ms);
    if (n < 0 && errno != EINTR) {
        ovs_fatal(errno, "epoll_wait failed");
    }
    /* OVS's fatal signal handlers, which making a unix socket installs,
     * only note a SIGINT or SIGTERM (and cut the wait short): here the
     * tool ends for it. */
    fatal_signal_run();
    return MAX(n, 0);
}

/* After the run, with --stay: the switches stay connected and answer the
 * controller (echo requests, its requests for their flows) until the tool
 * is killed or the controller goes, so that a test can look at what the
 * controller does next. */
static void
stay_connected(struct epoll_event *events)
{
    printf("staying connected until killed\n");
    fflush(stdout);
    staying = true;
    for (;;) {
        int n_ready = poll_switches(events, 1000);
        for (int k = 0; k < n_ready; k++) {
            struct bench_switch *sw = events[k].data.ptr;
            conn_recv(&sw->conn, switch_handle, sw);
            conn_flush(&sw->conn);
            if (sw->conn.closed) {
                return;
            }
        }
    }
}

static int
run_bench(void)
{
    clients = xcalloc(n_clients, sizeof *clients);
    latencies = xmalloc(n_clients * sizeof *latencies);
    latencies_from_send = xmalloc(n_clients * sizeof *latencies_from_send);
    connect_switches();
    msgs_sent = msgs_received = 0;

    struct epoll_event *events = xcalloc(n_switches, sizeof *events);
    int n_ready = 0;
    switch_set_create();
    long long int start = run_start = now_ns();
    double cpu_start = cpu_seconds();
    while (n_done + n_failed < n_clients) {
        long long int now = now_ns();

        start_clients(now);
        for (int i = 0; i < n_switches; i++) {
            conn_flush(&switches[i].conn);
        }
        for (int k = 0; k < n_ready; k++) {
            struct bench_switch *sw = events[k].data.ptr;

            /* A reply's latency ends when it was read: one clock reading
             * per read, not per reply, which would cost the tool more than
             * a reply does. */
            recv_time = now_ns();
            conn_recv(&sw->conn, switch_handle, sw);
            conn_flush(&sw->conn);
        }
        expire_clients(now);

        if (n_done + n_failed >= n_clients) {
            break;
        }
        int wait_ms = 100;
        if (mode == MODE_RATE && next_client < n_clients) {
            /* One clock reading: MIN() and MAX() evaluate their arguments
             * more than once, and a later reading could make the wait
             * negative, which epoll_wait() takes as forever. */
            long long int when = start + next_client * (1e9 / rate);
            long long int until_ms = (when - now_ns()) / 1000000;
            wait_ms = MAX(0, MIN(100, until_ms));
        } else if (can_start_now()) {
            wait_ms = 0;
        }
        n_ready = poll_switches(events, wait_ms);
    }
    run_cpu = cpu_seconds() - cpu_start;
    report((now_ns() - start) / 1e9);
    if (stay) {
        stay_connected(events);
    }
    free(events);
    return n_failed || n_errors ? 1 : 0;
}

/* The null controller: the ceiling.
 *
 * It does the least a reactive controller can do for a packet-in, as
 * cheaply as it can be done: one flow mod matching the packet's source MAC,
 * made by copying a template that OVS encoded once and patching the MAC and
 * the packet-in's xid (so that the bench knows which client it answers),
 * with the bench's batched reads and writes.  Nothing is parsed but the
 * packet-in's header, nothing is looked up, nothing is remembered. */

struct responder_conn {
    struct conn conn;
    enum ofp_version version;
    struct lb_tmpl flow_mod;    /* Matches a source MAC; outputs to 1. */
};

static void
encode_null_flow_mod(const union lb_tmpl_value values[], const void *aux,
                     struct ofpbuf *out)
{
    const enum ofp_version *v = aux;
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    ofpact_put_OUTPUT(&ofpacts)->port = u16_to_ofp(1);
    struct ofputil_flow_mod fm = {
        .priority = 100,
        .command = OFPFC_ADD,
        .idle_timeout = 60,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .ofpacts = ofpacts.data,
        .ofpacts_len = ofpacts.size,
    };
    struct match match;
    match_init_catchall(&match);
    match_set_dl_src(&match, values[0].mac);
    minimatch_init(&fm.match, &match);
    struct ofpbuf *msg = ofputil_encode_flow_mod(
        &fm, ofputil_protocol_from_ofp_version(*v));
    ofpbuf_put(out, msg->data, msg->size);
    ofpbuf_delete(msg);
    minimatch_destroy(&fm.match);
    ofpbuf_uninit(&ofpacts);
}

static void
responder_handle(void *rc_, const struct ofp_header *oh,
                 size_t len OVS_UNUSED)
{
    struct responder_conn *rc = rc_;

    msgs_received++;
    if (oh->type == OFPT_PACKET_IN && rc->flow_mod.usable) {
        struct lb_packet_in pin;
        if (lb_ofp_decode_packet_in(oh, &pin)
            || pin.packet_len < ETH_HEADER_LEN) {
            return;
        }
        union lb_tmpl_value mac;
        memcpy(&mac.mac, (const uint8_t *) pin.packet + ETH_ADDR_LEN,
               ETH_ADDR_LEN);
        uint8_t *fm = lb_tmpl_put(&rc->flow_mod, &mac, &rc->conn.bc.tx);
        memcpy(fm + offsetof(struct ofp_header, xid), &oh->xid,
               sizeof oh->xid);
        msgs_sent++;
    } else if (oh->type == OFPT_HELLO) {
        uint32_t versions;
        if (!ofputil_decode_hello(oh, &versions)
            || !(versions & (1u << OFP10_VERSION | 1u << OFP13_VERSION))) {
            ovs_fatal(0, "peer does not speak OpenFlow 1.0 or 1.3");
        }
        rc->version = (versions & (1u << OFP13_VERSION)
                       ? OFP13_VERSION : OFP10_VERSION);
        static const enum lb_tmpl_kind kinds[] = { LB_TMPL_MAC };
        lb_tmpl_init(&rc->flow_mod, kinds, 1, encode_null_flow_mod,
                     &rc->version);
        if (!rc->flow_mod.usable) {
            ovs_fatal(0, "the flow mod template does not check out");
        }
        conn_put_ofpbuf(&rc->conn,
                        ofpraw_alloc(OFPRAW_OFPT_FEATURES_REQUEST,
                                     rc->version, 0));
    } else if (oh->type == OFPT_ECHO_REQUEST) {
        conn_put_ofpbuf(&rc->conn, ofputil_encode_echo_reply(oh));
    }
}

static int
run_responder(void)
{
    struct listener *listener;
    int error = listener_open(target, &listener);
    if (error) {
        ovs_fatal(error, "%s: cannot listen", target);
    }
    if (!strncmp(target, "ptcp:", 5)) {
        printf("listening on port %d\n",
               ntohs(listener_get_bound_port(listener)));
        fflush(stdout);
    }

    /* As ovs-balancer does: the connections' sockets in an epoll set, and
     * only those that have something read. */
    int set = epoll_create1(EPOLL_CLOEXEC);
    if (set < 0) {
        ovs_fatal(errno, "epoll_create1 failed");
    }
    struct responder_conn **conns = NULL;
    struct epoll_event *events = NULL;
    size_t n_conns = 0, allocated = 0;
    long long int next_accept = LLONG_MIN;
    for (;;) {
        /* As ovs-balancer does (see its main()): a failed accept() costs
         * the CPU's softirq thread work that stalls a busy loop, so the
         * listener is tried at most every 10 ms. */
        bool accept_now = time_msec() >= next_accept;
        struct stream *stream;
        int fd;
        while (accept_now && !listener_accept(listener, &stream, &fd)) {
            if (fd < 0) {
                ovs_fatal(0, "%s: only punix: and ptcp: are supported",
                          target);
            }
            if (n_conns >= allocated) {
                conns = x2nrealloc(conns, &allocated, sizeof *conns);
                events = xrealloc(events, allocated * sizeof *events);
            }
            struct responder_conn *rc = xzalloc(sizeof *rc);
            conns[n_conns++] = rc;
            conn_init(&rc->conn, stream, "switch");
            rc->conn.fd = fd;
            struct epoll_event ev = { .events = EPOLLIN, .data.ptr = rc };
            if (epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev)) {
                ovs_fatal(errno, "epoll_ctl failed");
            }
            conn_put_ofpbuf(&rc->conn,
                            ofputil_encode_hello(1u << OFP10_VERSION
                                                 | 1u << OFP13_VERSION));
        }

        int n = n_conns ? epoll_wait(set, events, n_conns, 0) : 0;
        for (int k = 0; k < n; k++) {
            struct responder_conn *rc = events[k].data.ptr;
            conn_recv(&rc->conn, responder_handle, rc);
        }
        for (size_t i = 0; i < n_conns; ) {
            struct responder_conn *rc = conns[i];
            if (!rc->conn.closed) {
                conn_flush(&rc->conn);
            }
            if (rc->conn.closed) {
                epoll_ctl(set, EPOLL_CTL_DEL, rc->conn.fd, NULL);
                conn_destroy(&rc->conn);
                lb_tmpl_destroy(&rc->flow_mod);
                free(rc);
                conns[i] = conns[--n_conns];
            } else {
                i++;
            }
        }
        if (accept_now) {
            next_accept = time_msec() + 10;
            listener_wait(listener);
        } else {
            poll_timer_wait_until(next_accept);
        }
        if (n_conns) {
            poll_fd_wait(set, POLLIN);
        }
        for (size_t i = 0; i < n_conns; i++) {
            if (conns[i]->conn.bc.tx.size) {
                conn_wait(&conns[i]->conn);
            }
        }
        poll_block();
    }
}

/* Command line. */

OVS_NO_RETURN static void
usage(void)
{
    printf("%s: how fast an OpenFlow controller sets up new clients\n"
           "usage: %s [OPTIONS] CONTROLLER\n"
           "       %s --responder PASSIVE-METHOD\n"
           "where CONTROLLER is where the controller listens (tcp:IP:PORT or\n"
           "unix:FILE) and PASSIVE-METHOD where the responder listens.\n"
           "\nWorkload:\n"
           "  -n, --clients=N          clients to set up (10000)\n"
           "  --first-client=N         number clients from N (0)\n"
           "  -s, --switches=N         emulated switches (1)\n"
           "  --dpid=DPID              the first one's datapath ID, in hex\n"
           "                           (0000000000be0000)\n"
           "  -O, --protocol=VERSION   OpenFlow10 or OpenFlow13 "
           "(OpenFlow13)\n"
           "  --vip=IP                 the VIP (10.0.0.254)\n"
           "  --lb-mac=MAC             the controller's MAC for the VIP\n"
           "                           (00:00:00:00:00:fe)\n"
           "  --servers=IP[,IP]...     backends whose probes to answer\n"
           "                           (10.0.0.5,10.0.0.6,10.0.0.7; '' "
           "for none)\n"
           "  --client-ports=N         ports clients come from (4)\n"
           "\nMode:\n"
           "  --window=W               throughput: W clients in flight, "
           "shared\n                           among the switches, at least one "
           "each (1000)\n"
           "  --latency                one client at a time\n"
           "  --rate=R                 open loop at R clients/s\n"
           "  --done=WHEN              when a client is set up: "
           "both-flows (its\n"
           "                           two flows arrived), first-reply "
           "(anything\n"
           "                           for it), both-replies (both "
           "packet-ins\n"
           "                           answered, by xid)\n"
           "  --timeout=MS             a client not set up by then fails "
           "(10000)\n"
           "  --stay                   after the run, stay connected and "
           "answer\n"
           "                           the controller until killed\n"
           "\nOutput:\n"
           "  --json=FILE              also write the results as JSON "
           "('-': stdout)\n"
           "  -h, --help               display this help message\n",
           program_name, program_name, program_name);
    exit(EXIT_SUCCESS);
}

static long long int
parse_count(const char *option, const char *arg, long long int min,
            long long int max)
{
    long long int value;
    if (!str_to_llong(arg, 10, &value) || value < min || value > max) {
        ovs_fatal(0, "--%s: \"%s\" is not a number between %lld and %lld",
                  option, arg, min, max);
    }
    return value;
}

static void
parse_servers(const char *arg)
{
    /* A bitmap of 64 bits says which servers have answered. */
    enum { MAX_SERVERS = 64 };
    char *copy = xstrdup(arg), *save_ptr = NULL;
    size_t allocated = 0;

    n_servers = 0;
    for (char *s = strtok_r(copy, ",", &save_ptr); s;
         s = strtok_r(NULL, ",", &save_ptr)) {
        if (n_servers >= allocated) {
            servers = x2nrealloc(servers, &allocated, sizeof *servers);
        }
        if (!ip_parse(s, &servers[n_servers++])) {
            ovs_fatal(0, "--servers: \"%s\" is not an IPv4 address", s);
        } else if (n_servers > MAX_SERVERS) {
            ovs_fatal(0, "--servers: at most %d servers", MAX_SERVERS);
        }
    }
    free(copy);
}

static void
parse_options(int argc, char *argv[])
{
    enum {
        OPT_FIRST_CLIENT = UCHAR_MAX + 1,
        OPT_VIP, OPT_LB_MAC, OPT_SERVERS, OPT_CLIENT_PORTS, OPT_WINDOW,
        OPT_LATENCY, OPT_RATE, OPT_DONE, OPT_TIMEOUT, OPT_JSON,
        OPT_RESPONDER, OPT_DPID, OPT_STAY,
    };
    static const struct option long_options[] = {
        {"clients", required_argument, NULL, 'n'},
        {"first-client", required_argument, NULL, OPT_FIRST_CLIENT},
        {"switches", required_argument, NULL, 's'},
        {"dpid", required_argument, NULL, OPT_DPID},
        {"protocol", required_argument, NULL, 'O'},
        {"vip", required_argument, NULL, OPT_VIP},
        {"lb-mac", required_argument, NULL, OPT_LB_MAC},
        {"servers", required_argument, NULL, OPT_SERVERS},
        {"client-ports", required_argument, NULL, OPT_CLIENT_PORTS},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"latency", no_argument, NULL, OPT_LATENCY},
        {"rate", required_argument, NULL, OPT_RATE},
        {"done", required_argument, NULL, OPT_DONE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"json", required_argument, NULL, OPT_JSON},
        {"responder", no_argument, NULL, OPT_RESPONDER},
        {"stay", no_argument, NULL, OPT_STAY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    ip_parse("10.0.0.254", &vip);
    eth_addr_from_string("00:00:00:00:00:fe", &lb_mac);
    parse_servers("10.0.0.5,10.0.0.6,10.0.0.7");
    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'n':
            n_clients = parse_count("clients", optarg, 1, 100000000);
            break;
        case OPT_FIRST_CLIENT:
            first_client = parse_count("first-client", optarg, 0,
                                       100000000);
            break;
        case 's':
            n_switches = parse_count("switches", optarg, 1, 1024);
            break;
        case OPT_DPID:
            if (!dpid_from_string(optarg, &first_dpid)) {
                ovs_fatal(0, "--dpid: \"%s\" is not a datapath ID (16 hex "
                          "digits)", optarg);
            }
            break;
        case 'O':
            if (!strcmp(optarg, "OpenFlow10")) {
                version = OFP10_VERSION;
            } else if (!strcmp(optarg, "OpenFlow13")) {
                version = OFP13_VERSION;
            } else {
                ovs_fatal(0, "--protocol: use OpenFlow10 or OpenFlow13");
            }
            break;
        case OPT_VIP:
            if (!ip_parse(optarg, &vip)) {
                ovs_fatal(0, "--vip: \"%s\" is not an IPv4 address", optarg);
            }
            break;
        case OPT_LB_MAC:
            if (!eth_addr_from_string(optarg, &lb_mac)) {
                ovs_fatal(0, "--lb-mac: \"%s\" is not an Ethernet address",
                          optarg);
            }
            break;
        case OPT_SERVERS:
            parse_servers(optarg);
            break;
        case OPT_CLIENT_PORTS:
            n_client_ports = parse_count("client-ports", optarg, 1, 16);
            break;
        case OPT_WINDOW:
            mode = MODE_THROUGHPUT;
            window = parse_count("window", optarg, 1, 1000000);
            break;
        case OPT_LATENCY:
            mode = MODE_LATENCY;
            break;
        case OPT_RATE:
            mode = MODE_RATE;
            rate = parse_count("rate", optarg, 1, 100000000);
            break;
        case OPT_DONE:
            if (!strcmp(optarg, "both-flows")) {
                done_when = DONE_BOTH_FLOWS;
            } else if (!strcmp(optarg, "first-reply")) {
                done_when = DONE_FIRST_REPLY;
            } else if (!strcmp(optarg, "both-replies")) {
                done_when = DONE_BOTH_REPLIES;
            } else {
                ovs_fatal(0, "--done: use both-flows, first-reply or "
                          "both-replies");
            }
            break;
        case OPT_TIMEOUT:
            timeout_ms = parse_count("timeout", optarg, 1, 3600000);
            break;
        case OPT_JSON:
            json_file = optarg;
            break;
        case OPT_RESPONDER:
            responder = true;
            break;
        case OPT_STAY:
            stay = true;
            break;
        case 'h':
            usage();
        case '?':
            exit(EXIT_FAILURE);
        default:
            abort();
        }
    }
    free(short_options);

    if (optind != argc - 1) {
        ovs_fatal(0, "exactly one connection method is needed (use --help "
                  "for usage)");
    }
    target = argv[optind];
}

int
main(int argc, char *argv[])
{
    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_WARN);
    parse_options(argc, argv);
    fatal_ignore_sigpipe();
    return responder ? run_responder() : run_bench();
}

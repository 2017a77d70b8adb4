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

/* Unit tests for lib/, driven by tests/lb-unit.at: each command exercises
 * one part of the balancer module and prints what it did. */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command-line.h"
#include "flow.h"
#include "lib/lb-config.h"
#include "lib/lb-ofp.h"
#include "lib/lb-packet.h"
#include "lib/lb-scheduler.h"
#include "lib/lb-template.h"
#include "openflow/openflow.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "random.h"
#include "packets.h"
#include "unaligned.h"
#include "util.h"

/* service VIP SERVERS [SCHEDULER]: parses a service definition and prints
 * it, or the error. */
static void
test_service(struct ovs_cmdl_context *ctx)
{
    struct lb_config cfg;

    lb_config_init(&cfg);
    char *error = lb_config_add_service(&cfg, NULL, ctx->argv[1],
                                        ctx->argv[2],
                                        ctx->argc > 3 ? ctx->argv[3] : NULL);
    if (!error) {
        error = lb_config_check(&cfg);
    }
    if (error) {
        printf("error: %s\n", error);
        free(error);
    } else {
        const struct lb_service_config *svc = &cfg.services[0];
        printf("%s: vip "IP_FMT", %s, servers", svc->name,
               IP_ARGS(svc->vip), svc->scheduler->name);
        for (size_t i = 0; i < svc->n_backends; i++) {
            printf(" "IP_FMT, IP_ARGS(svc->backends[i]));
        }
        putchar('\n');
    }
    lb_config_destroy(&cfg);
}

/* mac MAC: parses an LB MAC and prints it, or the error. */
static void
test_mac(struct ovs_cmdl_context *ctx)
{
    struct lb_config cfg;

    lb_config_init(&cfg);
    char *error = lb_config_set_mac(&cfg, ctx->argv[1]);
    if (error) {
        printf("error: %s\n", error);
        free(error);
    } else {
        printf(ETH_ADDR_FMT"\n", ETH_ADDR_ARGS(cfg.lb_mac));
    }
    lb_config_destroy(&cfg);
}

/* schedule SCHEDULER USABLE N: makes N picks among the backends described
 * by USABLE, a string of 'y' and 'n' (one per backend, 'y' if usable), and
 * prints the chosen indexes, "-" where none was usable.  A '/' in USABLE
 * starts a new set of usability flags, taking effect after N picks. */
static void
test_schedule(struct ovs_cmdl_context *ctx)
{
    const struct lb_scheduler_class *class = lb_scheduler_find(ctx->argv[1]);
    if (!class) {
        ovs_fatal(0, "%s: unknown scheduler", ctx->argv[1]);
    }
    struct lb_scheduler *s = lb_scheduler_create(class);
    int n_picks = atoi(ctx->argv[3]);

    char *sets = xstrdup(ctx->argv[2]);
    char *save_ptr = NULL;
    for (char *set = strtok_r(sets, "/", &save_ptr); set;
         set = strtok_r(NULL, "/", &save_ptr)) {
        size_t n = strlen(set);
        struct lb_candidate *c = xcalloc(n, sizeof *c);
        for (size_t i = 0; i < n; i++) {
            c[i].usable = set[i] == 'y';
            c[i].weight = 1;
        }
        for (int i = 0; i < n_picks; i++) {
            size_t idx = lb_scheduler_pick(s, c, n, htonl(0x0a000001 + i));
            if (idx == SIZE_MAX) {
                printf(" -");
            } else {
                printf(" %"PRIuSIZE, idx);
            }
        }
        free(c);
    }
    putchar('\n');
    free(sets);
    lb_scheduler_destroy(s);
}

/* parse-packet HEX: parses the Ethernet frame given in hex (spaces
 * allowed) and prints what the balancer makes of it. */
static void
test_parse_packet(struct ovs_cmdl_context *ctx)
{
    struct ofpbuf frame;
    struct lb_packet pkt;

    ofpbuf_init(&frame, 0);
    if (ofpbuf_put_hex(&frame, ctx->argv[1], NULL)[0] != '\0') {
        ovs_fatal(0, "trailing garbage in packet data");
    }
    lb_packet_parse(frame.data, frame.size, &pkt);
    switch (pkt.kind) {
    case LB_PACKET_ARP:
        printf("arp op %"PRIu16" "ETH_ADDR_FMT" "IP_FMT" -> "ETH_ADDR_FMT" "
               IP_FMT"\n", pkt.arp_op, ETH_ADDR_ARGS(pkt.arp_sha),
               IP_ARGS(pkt.arp_spa), ETH_ADDR_ARGS(pkt.arp_tha),
               IP_ARGS(pkt.arp_tpa));
        break;
    case LB_PACKET_IPV4:
        printf("ipv4 "IP_FMT" -> "IP_FMT" proto %d%s%s\n",
               IP_ARGS(pkt.ip_src), IP_ARGS(pkt.ip_dst), pkt.ip_proto,
               pkt.ip_is_fragment ? " fragment" : "",
               pkt.ip_has_options ? " options" : "");
        break;
    case LB_PACKET_OTHER:
        printf("other 0x%04"PRIx16"\n", pkt.eth_type);
        break;
    case LB_PACKET_BAD:
        printf("bad: %s\n", pkt.error);
        break;
    }
    ofpbuf_uninit(&frame);
}

/* Template encoders for test_templates(): a flow mod and a packet-out
 * like the balancer's, and an ARP packet-out. */
enum { F_IN_PORT, F_MAC, F_IP, F_MAC2, F_IP2, F_OUT_PORT, N_F };

static void
put_actions(const union lb_tmpl_value v[], struct ofpbuf *ofpacts)
{
    struct eth_addr lb_mac = ETH_ADDR_C(00,00,00,00,00,fe);
    lb_ofp_put_rewrite(ofpacts, lb_mac, v[F_MAC2].mac, 0, v[F_IP2].ip);
    lb_ofp_put_output(ofpacts, v[F_OUT_PORT].port, v[F_IN_PORT].port);
}

static void
encode_flow(const union lb_tmpl_value v[], const void *ofp_,
            struct ofpbuf *out)
{
    struct lb_ofp ofp = *(const struct lb_ofp *) ofp_;
    struct ofpbuf ofpacts;
    struct match match;

    ofp.out = out;
    ofpbuf_init(&ofpacts, 0);
    put_actions(v, &ofpacts);
    match_init_catchall(&match);
    match_set_in_port(&match, v[F_IN_PORT].port);
    match_set_dl_type(&match, htons(ETH_TYPE_IP));
    match_set_dl_src(&match, v[F_MAC].mac);
    match_set_nw_src(&match, v[F_IP].ip);
    match_set_nw_dst(&match, htonl(0x0a0000fe));
    lb_ofp_flow_add(&ofp, &match, 200, 10, 0, true, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

static void
encode_packet_out(const union lb_tmpl_value v[], const void *ofp_,
                  struct ofpbuf *out)
{
    struct lb_ofp ofp = *(const struct lb_ofp *) ofp_;
    struct ofpbuf ofpacts;

    ofp.out = out;
    ofpbuf_init(&ofpacts, 0);
    put_actions(v, &ofpacts);
    lb_ofp_packet_out(&ofp, v[F_IN_PORT].port, NULL, 0, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

static void
encode_arp(const union lb_tmpl_value v[], const void *ofp_,
           struct ofpbuf *out)
{
    struct lb_ofp ofp = *(const struct lb_ofp *) ofp_;
    struct eth_addr lb_mac = ETH_ADDR_C(00,00,00,00,00,fe);

    ofp.out = out;
    lb_ofp_arp(&ofp, ARP_OP_REPLY, v[F_MAC].mac, lb_mac, v[F_IP].ip,
               v[F_MAC].mac, v[F_IP2].ip, v[F_IN_PORT].port,
               v[F_IN_PORT].port);
}

static void
random_values(union lb_tmpl_value v[N_F])
{
    v[F_IN_PORT].port = u16_to_ofp(1 + random_range(0xfeff));
    do {
        v[F_OUT_PORT].port = u16_to_ofp(1 + random_range(0xfeff));
    } while (v[F_OUT_PORT].port == v[F_IN_PORT].port);
    for (int i = F_MAC; i <= F_MAC2; i += F_MAC2 - F_MAC) {
        random_bytes(&v[i].mac, sizeof v[i].mac);
        v[i].mac.ea[0] &= ~1;
    }
    v[F_IP].ip = (OVS_FORCE ovs_be32) random_uint32();
    v[F_IP2].ip = (OVS_FORCE ovs_be32) random_uint32();
}

/* templates N: for OpenFlow 1.0 to 1.5 and three kinds of message, checks
 * that templates patched with N random sets of values give what OVS
 * encodes for them, byte for byte (xids aside). */
static void
test_templates(struct ovs_cmdl_context *ctx)
{
    static const enum lb_tmpl_kind kinds[N_F] = {
        LB_TMPL_PORT, LB_TMPL_MAC, LB_TMPL_IP, LB_TMPL_MAC, LB_TMPL_IP,
        LB_TMPL_PORT,
    };
    static lb_tmpl_encode_func *const encoders[] = {
        encode_flow, encode_packet_out, encode_arp,
    };
    int n = atoi(ctx->argv[1]);

    for (enum ofp_version v = OFP10_VERSION; v <= OFP15_VERSION; v++) {
        struct lb_ofp ofp = {
            .protocol = ofputil_protocol_from_ofp_version(v),
            .cookie = htonll(0x6f76736c62),
        };
        int n_usable = 0, n_same = 0;

        for (size_t e = 0; e < ARRAY_SIZE(encoders); e++) {
            struct lb_tmpl t;

            lb_tmpl_init(&t, kinds, N_F, encoders[e], &ofp);
            n_usable += t.usable;
            for (int i = 0; i < n && t.usable; i++) {
                union lb_tmpl_value values[N_F];
                struct ofpbuf a, b;

                random_values(values);
                ofpbuf_init(&a, 0);
                ofpbuf_init(&b, 0);
                lb_tmpl_put(&t, values, &a);
                lb_tmpl_encode(&t, values, &b);
                memset((uint8_t *) a.data + 4, 0, 4);
                memset((uint8_t *) b.data + 4, 0, 4);
                n_same += a.size == b.size && !memcmp(a.data, b.data, a.size);
                ofpbuf_uninit(&a);
                ofpbuf_uninit(&b);
            }
            lb_tmpl_destroy(&t);
        }
        printf("%s: %d of 3 templates usable, %d of %d messages identical\n",
               ofputil_version_to_string(v), n_usable, n_same, 3 * n);
    }
}

/* Returns a random input port: mostly a low port number, as switches have,
 * sometimes any normal port or one of the special ones (OFPP_LOCAL,
 * OFPP_CONTROLLER, ...). */
static ofp_port_t
random_in_port(void)
{
    switch (random_range(4)) {
    case 0:
        return u16_to_ofp(random_range(ofp_to_u16(OFPP_MAX)));
    case 1:
        return u16_to_ofp(ofp_to_u16(OFPP_MAX) + random_range(0x100));
    default:
        return u16_to_ofp(random_range(16));
    }
}

/* A random packet-in, as a switch would send it over 'version' in
 * 'format': a frame of random length from a random port, sometimes with
 * more metadata than the port. */
static struct ofpbuf *
random_packet_in(enum ofp_version version,
                 enum ofputil_packet_in_format format)
{
    struct ofputil_packet_in_private pin;
    uint8_t frame[256];

    memset(&pin, 0, sizeof pin);
    random_bytes(frame, sizeof frame);
    pin.base.packet = frame;
    pin.base.packet_len = random_range(sizeof frame);
    pin.base.reason = OFPR_NO_MATCH;
    pin.base.cookie = OVS_BE64_MAX;
    match_init_catchall(&pin.base.flow_metadata);
    match_set_in_port(&pin.base.flow_metadata, random_in_port());
    if (!random_range(4)) {
        match_set_metadata(&pin.base.flow_metadata,
                           htonll(random_uint64()));
    }
    if (!random_range(4)) {
        match_set_tun_id(&pin.base.flow_metadata, htonll(random_uint64()));
    }
    return ofputil_encode_packet_in_private(
        &pin, ofputil_protocol_from_ofp_version(version), format);
}

/* Sets the input port of 'msg', a standard packet-in with only the input
 * port as metadata, to 'port' as it stands in the message, valid or not: 16
 * bits in OpenFlow 1.0, 32 in an OXM match from 1.2 on. */
static void
set_raw_in_port(struct ofpbuf *msg, enum ofp_version v, uint32_t port)
{
    uint8_t *p = msg->data;

    if (v == OFP10_VERSION) {
        put_unaligned_be16((ovs_be16 *) (p + 14), htons(port));
    } else if (v >= OFP12_VERSION) {
        /* Header, fixed part, cookie from 1.3 on, match and OXM headers. */
        size_t ofs = 8 + 8 + (v >= OFP13_VERSION ? 8 : 0) + 4 + 4;
        put_unaligned_be32((ovs_be32 *) (p + ofs), htonl(port));
    }
}

/* packet-ins N: for OpenFlow 1.0 to 1.5, decodes N random packet-ins in
 * each of OVS's three formats, as many again with a byte of their first 48
 * changed, and standard ones whose input port is at the edges of the valid
 * ranges, with lb_ofp_decode_packet_in() and with OVS's
 * ofputil_decode_packet_in(), and counts the messages on which the two
 * agree (same error, or same port, frame and length) and those read
 * without OVS's decoder. */
static void
test_packet_ins(struct ovs_cmdl_context *ctx)
{
    static const uint32_t edge_ports[] = {
        0, 0xfeff, 0xff00, 0xff01, 0xfff8, 0xfffe, 0xffff, 0x10000,
        0xfffffeff, 0xffffff00, 0xfffffffe, 0xffffffff,
    };
    int n = atoi(ctx->argv[1]);
    int n_edges = ARRAY_SIZE(edge_ports);

    for (enum ofp_version v = OFP10_VERSION; v <= OFP15_VERSION; v++) {
        int n_msgs = 0, n_agree = 0, n_fast = 0;

        for (int i = 0; i < 6 * n + n_edges; i++) {
            struct ofpbuf *msg;

            if (i < 6 * n) {
                msg = random_packet_in(v, i % 3);
                if (i >= 3 * n) {
                    size_t ofs = random_range(MIN(msg->size, 48));
                    ((uint8_t *) msg->data)[ofs] ^= 1 + random_range(255);

                    /* A connection frames messages by their length, so a
                     * message never claims more bytes than it has. */
                    struct ofp_header *oh = msg->data;
                    if (ntohs(oh->length) > msg->size) {
                        oh->length = htons(msg->size);
                    }
                }
            } else {
                struct ofputil_packet_in_private pin;
                uint8_t frame[60] = { 0 };

                memset(&pin, 0, sizeof pin);
                pin.base.packet = frame;
                pin.base.packet_len = sizeof frame;
                pin.base.cookie = OVS_BE64_MAX;
                match_init_catchall(&pin.base.flow_metadata);
                match_set_in_port(&pin.base.flow_metadata, u16_to_ofp(1));
                msg = ofputil_encode_packet_in_private(
                    &pin, ofputil_protocol_from_ofp_version(v),
                    OFPUTIL_PACKET_IN_STD);
                set_raw_in_port(msg, v, edge_ports[i - 6 * n]);
            }

            /* The balancer sees only what ofptype_decode() calls a
             * packet-in. */
            enum ofptype type;
            if (ofptype_decode(&type, msg->data)
                || type != OFPTYPE_PACKET_IN) {
                ofpbuf_delete(msg);
                continue;
            }

            struct ofputil_packet_in opi;
            struct lb_packet_in lpi;
            size_t total_len;
            enum ofperr error = ofputil_decode_packet_in(
                msg->data, true, NULL, NULL, &opi, &total_len, NULL, NULL);
            enum ofperr lb_error = lb_ofp_decode_packet_in(msg->data, &lpi);

            n_msgs++;
            if (error || lb_error) {
                n_agree += error == lb_error;
            } else {
                n_agree += (lpi.in_port == opi.flow_metadata.flow.in_port.ofp_port
                            && lpi.packet == opi.packet
                            && lpi.packet_len == opi.packet_len
                            && lpi.total_len == total_len);
                n_fast += lpi.fast;
            }
            ofpbuf_delete(msg);
        }
        printf("%s: %s of %d packet-ins decoded alike, %s read directly\n",
               ofputil_version_to_string(v),
               n_agree == n_msgs ? "all" : "NOT all", n_msgs,
               n_fast > n_msgs / 10 ? "many" : "few");
    }
}

static const struct ovs_cmdl_command commands[] = {
    {"service", "VIP SERVERS [SCHEDULER]", 2, 3, test_service, OVS_RO},
    {"mac", "MAC", 1, 1, test_mac, OVS_RO},
    {"schedule", "SCHEDULER USABLE N", 3, 3, test_schedule, OVS_RO},
    {"parse-packet", "HEX", 1, 1, test_parse_packet, OVS_RO},
    {"templates", "N", 1, 1, test_templates, OVS_RO},
    {"packet-ins", "N", 1, 1, test_packet_ins, OVS_RO},
    {NULL, NULL, 0, 0, NULL, OVS_RO},
};

int
main(int argc, char *argv[])
{
    set_program_name(argv[0]);
    struct ovs_cmdl_context ctx = {
        .argc = argc - 1,
        .argv = argv + 1,
    };
    ovs_cmdl_run_command(&ctx, commands);
    return 0;
}

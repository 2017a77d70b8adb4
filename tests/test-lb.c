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

/* Unit tests for lib/, driven by the testsuite: each command exercises one
 * part of the balancer module and prints what it did.  "test-lb run" drives
 * the whole module (lb-controller) from a script on virtual time against
 * emulated switches, and prints the flows it would install, as OVN's
 * northd tests check flows without packets. */

#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command-line.h"
#include "dp-packet.h"
#include "flow.h"
#include "hash.h"
#include "lib/lb-ports.h"
#include "lib/lb-config.h"
#include "lib/lb-controller.h"
#include "lib/lb-flows.h"
#include "lib/lb-ofp.h"
#include "lib/lb-packet.h"
#include "lib/lb-scheduler.h"
#include "lib/lb-pool.h"
#include "lib/lb-service.h"
#include "lib/lb-sessions.h"
#include "lib/lb-switch.h"
#include "lib/lb-table.h"
#include "lib/lb-template.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-connection.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-monitor.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "packets.h"
#include "simap.h"
#include "svec.h"
#include "unaligned.h"
#include "util.h"

/* config SPEC...: parses each SPEC, a service as --service takes it or
 * "lab VIP SERVERS" for --vip and --servers, checks them together and
 * prints them, or the first error. */
static void
test_config(struct ovs_cmdl_context *ctx)
{
    struct lb_config cfg;
    char *error = NULL;

    lb_config_init(&cfg);
    for (int i = 1; i < ctx->argc && !error; i++) {
        const char *spec = ctx->argv[i];
        if (!strncmp(spec, "lab ", 4)) {
            /* "lab VIP SERVERS", the servers to the end. */
            char *vip = xstrdup(spec + 4);
            char *servers = vip + strcspn(vip, " ");
            if (*servers) {
                *servers++ = '\0';
            }
            error = lb_config_add_lab_service(&cfg, vip, servers);
            free(vip);
        } else {
            error = lb_config_add_service(&cfg, spec);
        }
    }
    if (!error) {
        error = lb_config_check(&cfg);
    }
    if (error) {
        printf("error: %s\n", error);
        free(error);
    } else {
        for (size_t i = 0; i < cfg.n_services; i++) {
            struct ds s = DS_EMPTY_INITIALIZER;
            lb_service_config_format(&cfg.services[i], &s);
            printf("%s\n", ds_cstr(&s));
            ds_destroy(&s);
        }
    }
    lb_config_destroy(&cfg);
}

/* set NAME VALUE: sets one setting and prints the error, if any. */
static void
test_set(struct ovs_cmdl_context *ctx)
{
    struct lb_config cfg;

    lb_config_init(&cfg);
    char *error = lb_config_set(&cfg, ctx->argv[1], ctx->argv[2]);
    printf("%s\n", error ? error : "ok");
    free(error);
    lb_config_destroy(&cfg);
}

/* Schedulers. */

/* Fills 'm' with the members described by 'spec', comma-separated weights,
 * each followed by "x" if the member is not usable.  Member i is 10.0.0.i+1
 * port 80.  Returns the number of members. */
static size_t
parse_members(const char *spec, struct lb_sched_member **m)
{
    char *copy = xstrdup(spec), *save_ptr = NULL;
    size_t n = 0, allocated = 0;

    *m = NULL;
    for (char *w = strtok_r(copy, ",", &save_ptr); w;
         w = strtok_r(NULL, ",", &save_ptr)) {
        if (n >= allocated) {
            *m = x2nrealloc(*m, &allocated, sizeof **m);
        }
        (*m)[n] = (struct lb_sched_member) {
            .ip = htonl(0x0a000001 + n),
            .port = 80,
            .weight = atoi(w),
            .usable = !strchr(w, 'x') && atoi(w) > 0,
        };
        n++;
    }
    free(copy);
    return n;
}

static uint32_t
client_hash(long long int i)
{
    return lb_sched_hash(htonl(0x0a010000 + i), 0);
}

/* schedule SCHEDULER MEMBERS N: makes N picks among MEMBERS (see
 * parse_members()), each new session counting for the member picked, and
 * prints the chosen indexes, "-" where none was usable.  A '/' in MEMBERS
 * starts a new set of members, taking effect after N picks. */
static void
test_schedule(struct ovs_cmdl_context *ctx)
{
    const struct lb_scheduler_class *class = lb_scheduler_find(ctx->argv[1]);
    if (!class) {
        ovs_fatal(0, "%s: unknown scheduler", ctx->argv[1]);
    }
    struct lb_scheduler *s = lb_scheduler_create(class);
    int n_picks = atoi(ctx->argv[3]);
    long long int client = 0;

    char *sets = xstrdup(ctx->argv[2]);
    char *save_ptr = NULL;
    size_t *sessions = NULL, n_sessions = 0;
    for (char *set = strtok_r(sets, "/", &save_ptr); set;
         set = strtok_r(NULL, "/", &save_ptr)) {
        struct lb_sched_member *m;
        size_t n = parse_members(set, &m);

        /* Members keep their sessions from one set to the next. */
        for (size_t i = 0; i < MIN(n, n_sessions); i++) {
            m[i].n_sessions = sessions[i];
        }
        lb_scheduler_reconfigure(s, m, n);
        for (int i = 0; i < n_picks; i++) {
            size_t idx = lb_scheduler_pick(s, m, n, client_hash(client++));
            if (idx == SIZE_MAX) {
                printf(" -");
            } else {
                printf(" %"PRIuSIZE, idx);
                m[idx].n_sessions++;
            }
        }
        sessions = xrealloc(sessions, n * sizeof *sessions);
        for (size_t i = 0; i < n; i++) {
            sessions[i] = m[i].n_sessions;
        }
        n_sessions = n;
        free(m);
    }
    putchar('\n');
    free(sessions);
    free(sets);
    lb_scheduler_destroy(s);
}

/* distribution SCHEDULER WEIGHTS N: gives N clients (10.1.0.0 and up) a
 * member each among members with WEIGHTS (comma-separated), and prints each
 * member's share against its weight's, and the largest difference as a
 * fraction of the weight's share. */
static void
test_distribution(struct ovs_cmdl_context *ctx)
{
    struct lb_scheduler *s = lb_scheduler_create(
        lb_scheduler_find(ctx->argv[1]));
    struct lb_sched_member *m;
    size_t n = parse_members(ctx->argv[2], &m);
    long long int n_clients = atoll(ctx->argv[3]);
    unsigned int total_weight = 0;

    for (size_t i = 0; i < n; i++) {
        total_weight += m[i].weight;
    }
    lb_scheduler_reconfigure(s, m, n);
    for (long long int i = 0; i < n_clients; i++) {
        size_t idx = lb_scheduler_pick(s, m, n, client_hash(i));
        ovs_assert(idx != SIZE_MAX);
        m[idx].n_sessions++;
    }

    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double share = (double) m[i].n_sessions / n_clients;
        double expected = (double) m[i].weight / total_weight;
        double off = fabs(share - expected) / expected;

        printf("member %"PRIuSIZE" weight %u: %5.2f%% (weight's share "
               "%5.2f%%)\n", i, m[i].weight, 100 * share, 100 * expected);
        worst = MAX(worst, off);
    }
    printf("largest difference: %.2f%% of the weight's share\n",
           100 * worst);
    free(m);
    lb_scheduler_destroy(s);
}

/* Returns the fraction of 'n_clients' whose member by 's' with the 'n'
 * members 'm' is not the one in 'before'. */
static double
moved_fraction(struct lb_scheduler *s, const struct lb_sched_member m[],
               size_t n, const size_t before[], long long int n_clients)
{
    long long int moved = 0;

    lb_scheduler_reconfigure(s, m, n);
    for (long long int c = 0; c < n_clients; c++) {
        moved += lb_scheduler_pick(s, m, n, client_hash(c)) != before[c];
    }
    return (double) moved / n_clients;
}

/* disruption N CLIENTS: with Maglev over N members of weight 1, removes
 * each member in turn, and then adds an N+1th, and prints the largest
 * fraction of CLIENTS whose member changed, against the bound 1/N + 2%. */
static void
test_disruption(struct ovs_cmdl_context *ctx)
{
    size_t n = atoi(ctx->argv[1]);
    long long int n_clients = atoll(ctx->argv[2]);
    struct lb_sched_member *m = xcalloc(n + 1, sizeof *m);
    size_t *before = xmalloc(n_clients * sizeof *before);
    struct lb_scheduler *s = lb_scheduler_create(&lb_sched_mh_class);

    for (size_t i = 0; i <= n; i++) {
        m[i] = (struct lb_sched_member) {
            .ip = htonl(0x0a000001 + i), .port = 80, .weight = 1,
            .usable = i < n,
        };
    }
    lb_scheduler_reconfigure(s, m, n + 1);
    for (long long int c = 0; c < n_clients; c++) {
        before[c] = lb_scheduler_pick(s, m, n + 1, client_hash(c));
    }

    double worst_remove = 0;
    for (size_t gone = 0; gone < n; gone++) {
        m[gone].usable = false;
        worst_remove = MAX(worst_remove,
                           moved_fraction(s, m, n + 1, before, n_clients));
        m[gone].usable = true;
    }
    m[n].usable = true;
    double added = moved_fraction(s, m, n + 1, before, n_clients);

    double bound = 1.0 / n + 0.02;
    printf("removing one of %"PRIuSIZE": at most %.2f%% moved (bound "
           "%.2f%%): %s\n", n, 100 * worst_remove, 100 * bound,
           worst_remove <= bound ? "ok" : "TOO MANY");
    bound = 1.0 / (n + 1) + 0.02;
    printf("adding one to %"PRIuSIZE": %.2f%% moved (bound %.2f%%): %s\n",
           n, 100 * added, 100 * bound, added <= bound ? "ok" : "TOO MANY");
    lb_scheduler_destroy(s);
    free(before);
    free(m);
}

/* mh-order N CLIENTS: builds Maglev's table for N members of weights 1 to
 * N, listed in order and in reverse order, and counts the CLIENTS that get
 * the same member (by address) from both. */
static void
test_mh_order(struct ovs_cmdl_context *ctx)
{
    size_t n = atoi(ctx->argv[1]);
    long long int n_clients = atoll(ctx->argv[2]);
    struct lb_sched_member *fwd = xcalloc(n, sizeof *fwd);
    struct lb_sched_member *rev = xcalloc(n, sizeof *rev);
    struct lb_scheduler *a = lb_scheduler_create(&lb_sched_mh_class);
    struct lb_scheduler *b = lb_scheduler_create(&lb_sched_mh_class);

    for (size_t i = 0; i < n; i++) {
        fwd[i] = (struct lb_sched_member) {
            .ip = htonl(0x0a000001 + i), .port = 80, .weight = i + 1,
            .usable = true,
        };
        rev[n - 1 - i] = fwd[i];
    }
    lb_scheduler_reconfigure(a, fwd, n);
    lb_scheduler_reconfigure(b, rev, n);

    long long int same = 0;
    for (long long int c = 0; c < n_clients; c++) {
        size_t i = lb_scheduler_pick(a, fwd, n, client_hash(c));
        size_t j = lb_scheduler_pick(b, rev, n, client_hash(c));
        same += fwd[i].ip == rev[j].ip;
    }
    printf("members in reverse order: the same member for %lld of %lld "
           "clients\n", same, n_clients);
    lb_scheduler_destroy(a);
    lb_scheduler_destroy(b);
    free(fwd);
    free(rev);
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
        printf("ipv4 "IP_FMT" -> "IP_FMT" proto %d%s%s", IP_ARGS(pkt.ip_src),
               IP_ARGS(pkt.ip_dst), pkt.ip_proto,
               pkt.ip_is_fragment ? " fragment" : "",
               pkt.ip_has_options ? " options" : "");
        if (pkt.has_ports) {
            printf(" ports %"PRIu16" -> %"PRIu16, pkt.l4_src, pkt.l4_dst);
        } else if (pkt.is_icmp) {
            printf(" icmp %d/%d", pkt.icmp_type, pkt.icmp_code);
        }
        putchar('\n');
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

/* Templates. */

/* A random binding for a session of 'svc', for test_templates(). */
static void
random_binding(struct lb_binding *b, const struct lb_service_config *svc)
{
    uint8_t proto = svc->proto;
    bool per_connection = svc->affinity == LB_AFFINITY_CONNECTION;

    memset(b, 0, sizeof *b);
    b->vip = svc->vip;
    b->proto = proto;
    b->vip_port = htons(svc->port);
    b->client_ofport = u16_to_ofp(1 + random_range(0xfeff));
    do {
        b->backend_ofport = u16_to_ofp(1 + random_range(0xfeff));
    } while (b->backend_ofport == b->client_ofport);
    random_bytes(&b->client_mac, sizeof b->client_mac);
    random_bytes(&b->backend_mac, sizeof b->backend_mac);
    b->client_mac.ea[0] &= ~1;
    b->backend_mac.ea[0] &= ~1;
    b->client_ip = (OVS_FORCE ovs_be32) random_uint32();
    b->backend_ip = (OVS_FORCE ovs_be32) random_uint32();
    if (proto) {
        b->backend_port = htons(1 + random_range(0xfffe));
        if (per_connection) {
            b->client_port = htons(1 + random_range(0xfffe));
        }
    }
}

/* Appends to 'out' 'b''s messages encoded in full by OVS's encoders. */
static void
encode_binding(const struct lb_binding_tmpl *t, const struct lb_binding *b,
               struct ofpbuf *out)
{
    struct lb_ofp ofp = t->ofp;
    struct ofpbuf ofpacts;
    struct match match;

    ofp.out = out;
    ofpbuf_init(&ofpacts, 0);
    for (int dir = LB_C2S; dir <= LB_S2C; dir++) {
        ofpbuf_clear(&ofpacts);
        lb_binding_match(b, dir, &match);
        lb_binding_put_actions(b, dir, t->lb_mac, &ofpacts);
        lb_ofp_flow_add(&ofp, &match, LB_PRIO_SESSION, t->idle_timeout,
                        t->hard_timeout, true, &ofpacts);
    }
    ofpbuf_clear(&ofpacts);
    lb_binding_put_actions(b, LB_C2S, t->lb_mac, &ofpacts);
    size_t ofs = out->size;
    lb_ofp_packet_out(&ofp, b->client_ofport, NULL, 0, &ofpacts);
    ofpbuf_put(out, "packet", 6);
    lb_ofp_end_message(out, ofs);
    ofpbuf_uninit(&ofpacts);
}

/* Clears the xid of each message in 'buf'. */
static void
clear_xids(struct ofpbuf *buf)
{
    struct ofpbuf rx = ofpbuf_const_initializer(buf->data, buf->size);
    struct ofpbuf aligned;
    const struct ofp_header *oh;
    int error;

    ofpbuf_init(&aligned, 0);
    while ((oh = lb_ofp_frame(&rx, &aligned, &error))) {
        size_t ofs = (const uint8_t *) rx.data - (const uint8_t *) buf->data
                     - ntohs(oh->length);
        memset((uint8_t *) buf->data + ofs + 4, 0, 4);
    }
    ofpbuf_uninit(&aligned);
}

/* templates N: for OpenFlow 1.0 to 1.5 and whole-IP, tcp and per-connection
 * udp services, checks that a service's templates patched with N random
 * bindings give what OVS encodes for them, byte for byte (xids aside). */
static void
test_templates(struct ovs_cmdl_context *ctx)
{
    static const char *const specs[] = {
        "lab 10.0.0.254 10.0.0.5",
        "web 10.0.0.254:80 10.0.0.5:8080",
        "dns 10.0.0.254:53 10.0.0.5 udp affinity=connection",
    };
    int n = atoi(ctx->argv[1]);

    for (enum ofp_version v = OFP10_VERSION; v <= OFP15_VERSION; v++) {
        struct lb_ofp ofp = {
            .protocol = ofputil_protocol_from_ofp_version(v),
            .cookie = htonll(LB_DEFAULT_COOKIE),
        };
        int n_usable = 0, n_same = 0;

        for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
            struct lb_config cfg;
            struct lb_binding_tmpl t;

            lb_config_init(&cfg);
            char *error = (i ? lb_config_add_service(&cfg, specs[i])
                           : lb_config_add_lab_service(&cfg, "10.0.0.254",
                                                       "10.0.0.5"));
            ovs_assert(!error);
            const struct lb_service_config *svc = &cfg.services[0];
            lb_binding_tmpl_init(&t, &ofp, &cfg, svc);
            n_usable += (t.c2s_flow.usable + t.s2c_flow.usable
                         + t.c2s_packet_out.usable + t.new_session.usable);
            for (int k = 0; k < n; k++) {
                struct lb_binding b;
                struct ofpbuf a, c, e;

                random_binding(&b, svc);
                ofpbuf_init(&a, 0);
                ofpbuf_init(&c, 0);
                ofpbuf_init(&e, 0);
                lb_binding_install(&t, &b, &a);
                lb_binding_packet_out(&t, &b, "packet", 6, &a);
                lb_binding_install_packet_out(&t, &b, "packet", 6, &c);
                encode_binding(&t, &b, &e);
                clear_xids(&a);
                clear_xids(&c);
                clear_xids(&e);
                n_same += (a.size == e.size && !memcmp(a.data, e.data, a.size)
                           && c.size == e.size
                           && !memcmp(c.data, e.data, c.size));
                ofpbuf_uninit(&a);
                ofpbuf_uninit(&c);
                ofpbuf_uninit(&e);
            }
            lb_binding_tmpl_destroy(&t);
            lb_config_destroy(&cfg);
        }
        printf("%s: %d of %d templates usable, %d of %d bindings "
               "identical\n", ofputil_version_to_string(v), n_usable,
               4 * (int) ARRAY_SIZE(specs), n_same,
               n * (int) ARRAY_SIZE(specs));
    }
}

/* Packet-ins. */

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
    pin.base.cookie = (random_range(2) ? OVS_BE64_MAX
                       : (OVS_FORCE ovs_be64) random_uint64());
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

/* table N: adds N random keys to an lb_table (entries from an lb_pool),
 * removing one at random every third insertion, through its growths and the
 * moves after them, and checks after every operation that the count is
 * right and, every N/64 operations and at the end, that every key present
 * is found once and no removed key is found.  Prints the most entries, the
 * buckets, and how many growths happened with entries still moving. */
struct table_entry {
    struct hmap_node node;
    uint32_t key;
    bool present;
};

static size_t
table_lookups(const struct lb_table *t, struct table_entry **all, size_t n)
{
    size_t errors = 0;
    for (size_t i = 0; i < n; i++) {
        size_t found = 0;
        struct table_entry *e;
        LB_TABLE_FOR_EACH_WITH_HASH (e, node, hash_int(all[i]->key, 0), t) {
            found += e == all[i];
        }
        errors += found != all[i]->present;
    }
    return errors;
}

static void
test_table(struct ovs_cmdl_context *ctx)
{
    int n = atoi(ctx->argv[1]);
    struct table_entry **all = xmalloc(n * sizeof *all);
    struct lb_pool pool;
    struct lb_table t;
    size_t n_all = 0, n_present = 0, most = 0, errors = 0, moving = 0;

    random_set_seed(1);
    lb_pool_init(&pool, sizeof **all);
    lb_table_init(&t);
    lb_table_reserve(&t, 16);
    for (int i = 0; i < n; i++) {
        struct table_entry *e = lb_pool_alloc(&pool);
        e->key = random_uint32();
        e->present = true;
        all[n_all++] = e;
        size_t mask = t.cur.mask;
        bool was_moving = hmap_count(&t.old) > 0;
        lb_table_insert(&t, &e->node, hash_int(e->key, 0));
        moving += was_moving && t.cur.mask != mask;
        n_present++;

        if (i % 3 == 2) {
            struct table_entry *victim = all[random_range(n_all)];
            if (victim->present) {
                lb_table_remove(&t, &victim->node);
                victim->present = false;
                n_present--;
            }
        }
        most = MAX(most, n_present);
        errors += lb_table_count(&t) != n_present;
        if (i % MAX(1, n / 64) == 0) {
            errors += table_lookups(&t, all, n_all);
        }
    }
    errors += table_lookups(&t, all, n_all);
    lb_table_settle(&t);
    errors += table_lookups(&t, all, n_all) + (hmap_count(&t.old) != 0);

    printf("%"PRIuSIZE" entries at most, %"PRIuSIZE" buckets for %"PRIuSIZE
           ", %"PRIuSIZE" growths while moving, %"PRIuSIZE" errors\n", most,
           t.cur.mask + 1, lb_table_count(&t), moving, errors);
    lb_table_destroy(&t);
    lb_pool_destroy(&pool);
    free(all);
}

/* table-walk N M BUCKETS: in a table with memory set aside for N entries
 * (lb_table_reserve_ahead()) that holds M, walks with lb_table_walk() in
 * slices of at most BUCKETS buckets each, as a resync does, each slice
 * first moving up to BUCKETS buckets of what a growth left to move
 * (lb_table_settle_some()) and walking only once nothing is left.  Prints
 * the buckets, the slices it took (and how many only moved), and the
 * entries seen other than once. */
static void
test_table_walk(struct ovs_cmdl_context *ctx)
{
    int n = atoi(ctx->argv[1]);
    int m = atoi(ctx->argv[2]);
    size_t slice = atoi(ctx->argv[3]);
    struct table_entry *all = xcalloc(MAX(m, 1), sizeof *all);
    size_t *seen = xcalloc(MAX(m, 1), sizeof *seen);
    struct lb_table t;

    lb_table_init(&t);
    lb_table_reserve_ahead(&t, n);
    for (int i = 0; i < m; i++) {
        all[i].key = i;
        lb_table_insert(&t, &all[i].node, hash_int(i, 0));
    }

    struct hmap_position pos = { 0, 0 };
    size_t slices = 0, moving = 0, wrong = 0;
    while (!lb_table_walk_done(&t, &pos)) {
        size_t n_buckets = slice;
        struct hmap_node *node;

        slices++;
        if (!lb_table_settle_some(&t, slice)) {
            moving++;
            continue;
        }
        while ((node = lb_table_walk(&t, &pos, &n_buckets))) {
            seen[CONTAINER_OF(node, struct table_entry, node) - all]++;
        }
    }
    for (int i = 0; i < m; i++) {
        wrong += seen[i] != 1;
    }
    printf("%d entries in %"PRIuSIZE" buckets: %"PRIuSIZE" slices (%"
           PRIuSIZE" moving a growth's rest), %"PRIuSIZE" entries not seen "
           "once\n", m, lb_table_buckets(&t), slices, moving, wrong);
    lb_table_destroy(&t);
    free(seen);
    free(all);
}

/* reserve N: sets memory aside for N entries in an lb_pool and an
 * lb_table (lb_pool_reserve(), lb_table_reserve_ahead()), then takes N
 * entries and inserts them, and checks that the pool added no block and
 * the table made no bucket array meanwhile; hands the table over to an
 * empty one (lb_table_swap(), as a switch takes the reserved table) and
 * looks every entry up there; then adds 2N more, beyond what was reserved
 * (the table grows).
 * Prints the blocks and buckets, what was made while filling, and the
 * errors. */
static void
test_reserve(struct ovs_cmdl_context *ctx)
{
    int n = atoi(ctx->argv[1]);
    struct table_entry **all = xmalloc(3 * n * sizeof *all);
    struct lb_table reserved, taken;
    struct lb_pool pool;
    size_t made = 0, errors = 0;

    lb_pool_init(&pool, sizeof **all);
    lb_pool_reserve(&pool, n);
    size_t blocks = ovs_list_size(&pool.blocks);
    lb_table_init(&reserved);
    lb_table_reserve_ahead(&reserved, n);
    size_t buckets = lb_table_buckets(&reserved);

    for (int i = 0; i < n; i++) {
        struct table_entry *e = lb_pool_alloc(&pool);
        e->key = i;
        e->present = true;
        all[i] = e;
        lb_table_insert(&reserved, &e->node, hash_int(e->key, 0));
        made += (reserved.next != NULL
                 || lb_table_buckets(&reserved) != buckets);
    }
    made += ovs_list_size(&pool.blocks) != blocks;

    lb_table_init(&taken);
    lb_table_swap(&taken, &reserved);
    errors += lb_table_count(&reserved) != 0;
    errors += lb_table_count(&taken) != n;
    errors += table_lookups(&taken, all, n);

    for (int i = n; i < 3 * n; i++) {
        struct table_entry *e = lb_pool_alloc(&pool);
        e->key = i;
        e->present = true;
        all[i] = e;
        lb_table_insert(&taken, &e->node, hash_int(e->key, 0));
    }
    errors += table_lookups(&taken, all, 3 * n);
    for (int i = 0; i < 3 * n; i++) {
        for (int j = MAX(0, i - 8); j < i; j++) {
            errors += all[i] == all[j];
        }
    }

    printf("%d entries in %"PRIuSIZE" blocks and %"PRIuSIZE" buckets set "
           "aside, %"PRIuSIZE" made while filling them; %d more: %"PRIuSIZE
           " blocks, %"PRIuSIZE" buckets; %"PRIuSIZE" errors\n", n, blocks,
           buckets, made, 2 * n, ovs_list_size(&pool.blocks),
           lb_table_buckets(&taken), errors);
    lb_table_destroy(&taken);
    lb_table_destroy(&reserved);
    lb_pool_destroy(&pool);
    free(all);
}

/* reserve-sessions N: as ovs-balancer --reserve-clients=N does, sets memory
 * aside for N clients; of two switches' sessions, the first takes the
 * reserved client table and the second gets a small one; N clients on the
 * first take no more memory from the pool, and are all found; when the
 * first goes, a third switch gets its table.  Prints the buckets of the
 * tables, the pool's capacity before and after the clients, and the
 * clients found. */
static void
test_reserve_sessions(struct ovs_cmdl_context *ctx)
{
    int n = atoi(ctx->argv[1]);
    struct simap before = SIMAP_INITIALIZER(&before);
    struct simap after = SIMAP_INITIALIZER(&after);
    struct lb_sessions first, second, third;
    size_t found = 0;

    lb_sessions_reserve(n);
    lb_sessions_init(&first, 10 * n, false, 60);
    lb_sessions_init(&second, 10 * n, false, 60);
    lb_sessions_get_memory_usage(&before);
    for (int i = 0; i < n; i++) {
        lb_sessions_add_client(&first, htonl(0x0a010000 + i), eth_addr_zero,
                               u16_to_ofp(1), 0);
    }
    lb_sessions_get_memory_usage(&after);
    for (int i = 0; i < n; i++) {
        ovs_be32 ip = htonl(0x0a010000 + i);
        found += lb_sessions_find_client(&first, ip) != NULL;
    }
    size_t first_buckets = lb_table_buckets(&first.clients);
    lb_sessions_destroy(&first);
    lb_sessions_init(&third, 10 * n, false, 60);

    printf("first switch's client table %"PRIuSIZE" buckets, second's %"
           PRIuSIZE"; client-pool %u -> %u for %d clients, %"PRIuSIZE
           " found; after the first went, the third's %"PRIuSIZE"\n",
           first_buckets, lb_table_buckets(&second.clients),
           simap_get(&before, "client-pool"), simap_get(&after, "client-pool"),
           n, found, lb_table_buckets(&third.clients));
    lb_sessions_destroy(&second);
    lb_sessions_destroy(&third);
    simap_destroy(&before);
    simap_destroy(&after);
}

/* sessions N: N random operations on the sessions of 16 clients in two
 * services per connection, 40 ports each: a packet from a client's port
 * either finds its session or makes one; in growing phases every fourth
 * operation forgets a session at random, in draining phases every one
 * forgets three, four phases of each in turn.  Clients pass 8 sessions
 * (their sessions then go into the sessions table too) and fall back to
 * none.  Every operation checks the count, and every 64th and the last
 * that each session there is found, by address and through its client,
 * and that no other is.  Prints the most sessions, the most a client had,
 * how often a client's sessions went into the table and how often they
 * all went, and the errors. */
#define SESSIONS_CLIENTS 16
#define SESSIONS_PORTS 40

static size_t
sessions_lookups(const struct lb_sessions *s, struct lb_service *svcs[2],
                 struct lb_session *ref[][2][SESSIONS_PORTS])
{
    size_t errors = 0;
    for (int c = 0; c < SESSIONS_CLIENTS; c++) {
        ovs_be32 ip = htonl(0x0a010000 + c);
        const struct lb_client *client = lb_sessions_find_client(s, ip);
        for (int v = 0; v < 2; v++) {
            for (int p = 0; p < SESSIONS_PORTS; p++) {
                ovs_be16 port = htons(1000 + p);
                const struct lb_session *want = ref[c][v][p];
                errors += lb_sessions_find(s, svcs[v], ip, port) != want;
                errors += (client
                           ? lb_sessions_find_of_client(s, client, svcs[v],
                                                        port)
                           : NULL) != want;
            }
        }
    }
    return errors;
}

static void
test_sessions(struct ovs_cmdl_context *ctx)
{
    static struct lb_session *ref[SESSIONS_CLIENTS][2][SESSIONS_PORTS];
    int n = atoi(ctx->argv[1]);
    struct lb_service *svcs[2];
    struct lb_services services;
    struct lb_sessions s;
    struct lb_config cfg;
    size_t n_ref = 0, most = 0, most_per_client = 0, errors = 0;
    size_t n_hashed = 0, n_emptied = 0;

    lb_config_init(&cfg);
    ovs_assert(!lb_config_add_service(&cfg, "a 10.0.0.254:53 10.0.0.5,"
                                      "10.0.0.7 udp affinity=connection"));
    ovs_assert(!lb_config_add_service(&cfg, "b 10.0.0.254:80 10.0.0.5 "
                                      "affinity=connection"));
    lb_services_init(&services);
    for (int v = 0; v < 2; v++) {
        svcs[v] = lb_services_add(&services, &cfg.services[v]);
    }
    lb_sessions_init(&s, 1000000, false, 60);

    random_set_seed(1);
    for (int i = 0; i < n; i++) {
        int c = random_range(SESSIONS_CLIENTS);
        int v = random_range(2);
        int p = random_range(SESSIONS_PORTS);
        ovs_be32 ip = htonl(0x0a010000 + c);
        ovs_be16 port = htons(1000 + p);

        struct lb_client *client = lb_sessions_find_client(&s, ip);
        if (!client) {
            client = lb_sessions_add_client(&s, ip, eth_addr_zero,
                                            u16_to_ofp(1), 0);
        }
        struct lb_session *session = lb_sessions_find_of_client(
            &s, client, svcs[v], port);
        errors += session != ref[c][v][p];
        if (!session) {
            struct lb_member *m = svcs[v]->members[p % svcs[v]->n_members];
            bool was_hashed = client->sessions_hashed;
            ref[c][v][p] = lb_sessions_add(&s, m, client, port, 0);
            n_hashed += !was_hashed && client->sessions_hashed;
            n_ref++;
        }
        most_per_client = MAX(most_per_client, client->n_sessions);

        bool draining = (i / MAX(1, n / 8)) % 2;
        int n_forget = draining ? 3 : i % 4 == 3;
        for (int k = 0; k < n_forget; k++) {
            /* Forget one at random: any place while growing, one that has
             * a session (if one is found soon) while draining. */
            int fc, fv, fp, tries = 0;
            do {
                fc = random_range(SESSIONS_CLIENTS);
                fv = random_range(2);
                fp = random_range(SESSIONS_PORTS);
            } while (draining && !ref[fc][fv][fp] && ++tries < 100);
            if (ref[fc][fv][fp]) {
                struct lb_client *fclient = ref[fc][fv][fp]->client;
                lb_sessions_remove(&s, ref[fc][fv][fp], 0);
                ref[fc][fv][fp] = NULL;
                n_ref--;
                /* (Clients stay: they were seen less than the client
                 * timeout ago.) */
                n_emptied += !fclient->n_sessions;
            }
        }
        most = MAX(most, n_ref);
        errors += lb_sessions_count(&s) != n_ref;
        if (i % 64 == 0) {
            errors += sessions_lookups(&s, svcs, ref);
        }
    }
    errors += sessions_lookups(&s, svcs, ref);

    printf("%"PRIuSIZE" sessions at most, %"PRIuSIZE" of one client at "
           "most, %"PRIuSIZE" times into the table, %"PRIuSIZE" times none "
           "left, %"PRIuSIZE" errors\n", most, most_per_client, n_hashed,
           n_emptied, errors);
    lb_sessions_destroy(&s);
    lb_services_destroy(&services);
    lb_config_destroy(&cfg);
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

            /* A connection hands on packet-ins 4 bytes off 8 as they are
             * (see lb_ofp_frame()): decoded there too, they must say the
             * same. */
            uint64_t *shifted = xmalloc(msg->size + 8);
            const struct ofp_header *off4
                = memcpy((uint8_t *) shifted + 4, msg->data, msg->size);
            struct lb_packet_in lpi4;
            enum ofperr lb_error4 = lb_ofp_decode_packet_in(off4, &lpi4);

            n_msgs++;
            if (error || lb_error || lb_error4) {
                n_agree += error == lb_error && error == lb_error4;
            } else {
                const struct flow *f = &opi.flow_metadata.flow;
                n_agree += (lpi.in_port == f->in_port.ofp_port
                            && lpi.packet == opi.packet
                            && lpi.packet_len == opi.packet_len
                            && lpi.total_len == total_len
                            && lpi.cookie == opi.cookie
                            && lpi4.in_port == lpi.in_port
                            && lpi4.packet_len == lpi.packet_len
                            && !memcmp(lpi4.packet, lpi.packet,
                                       lpi.packet_len)
                            && lpi4.total_len == lpi.total_len
                            && lpi4.cookie == lpi.cookie
                            && lpi4.fast == lpi.fast);
                n_fast += lpi.fast;
            }
            free(shifted);
            ofpbuf_delete(msg);
        }
        printf("%s: %s of %d packet-ins decoded alike, %s read directly\n",
               ofputil_version_to_string(v),
               n_agree == n_msgs ? "all" : "NOT all", n_msgs,
               n_fast > n_msgs / 10 ? "many" : "few");
    }
}

/* "run": the balancer against emulated switches, from a script.
 *
 * Each emulated switch keeps a flow table that the balancer's flow mods
 * change as a switch's would, answers its flow stats requests from it, and
 * records the packets it is told to send. */

struct fake_flow {
    struct ovs_list node;       /* In fake_switch's 'flows'... */
    struct hmap_node index_node;    /* ...and its 'index'. */
    struct match match;
    int priority;
    ovs_be64 cookie;
    uint16_t idle_timeout, hard_timeout;
    enum ofputil_flow_mod_flags flags;
    struct ofpact *ofpacts;
    size_t ofpacts_len;
    long long int created;      /* When added, in virtual ms. */
};

struct fake_switch {
    uint64_t dpid;
    enum ofputil_protocol protocol;
    bool has_monitor;           /* Does it take flow monitors? */
    bool monitoring;            /* Has the balancer asked for one? */
    bool defer_stats;           /* Answer flow stats only when told? */
    struct ovs_list stats_replies;  /* Flow stats answers not sent yet. */
    bool defer_monitor;         /* Answer the flow monitor when told? */
    struct ovs_list monitor_replies;    /* Its answer, not sent yet. */
    struct lb_ports ports;
    struct ofpbuf out;          /* What the balancer sent, unread. */
    struct ovs_list flows;      /* "struct fake_flow"s, oldest first... */
    struct hmap index;          /* ...and by match and priority. */
    struct svec sent;           /* Packets sent, formatted, not printed. */
    size_t n_flow_mods;
    size_t n_stats_requests;
    struct lb_switch *lb;       /* NULL while disconnected. */

    /* Takes the packet-outs instead of recording them, if nonnull. */
    void (*on_packet_out)(struct fake_switch *, const struct ofp_header *);
};

#define MAX_FAKE_SWITCHES 8
static struct fake_switch fake_switches[MAX_FAKE_SWITCHES];
static struct lb_controller *controller;
static struct lb_config script_cfg;
static long long int now = 1000000;

static void
add_fake_flow(struct fake_switch *fs, struct fake_flow *f)
{
    ovs_list_push_back(&fs->flows, &f->node);
    hmap_insert(&fs->index, &f->index_node,
                match_hash(&f->match, f->priority));
}

static void
free_fake_flow(struct fake_switch *fs, struct fake_flow *f)
{
    ovs_list_remove(&f->node);
    hmap_remove(&fs->index, &f->index_node);
    free(f->ofpacts);
    free(f);
}

static struct fake_flow *
find_fake_flow(struct fake_switch *fs, const struct match *match,
               int priority)
{
    struct fake_flow *f;

    HMAP_FOR_EACH_WITH_HASH (f, index_node, match_hash(match, priority),
                             &fs->index) {
        if (f->priority == priority && match_equal(&f->match, match)) {
            return f;
        }
    }
    return NULL;
}

/* Appends to 's' the packet 'data' in the style of ovs-ofctl's flow
 * syntax, with only the fields the balancer sets or reads. */
static void
format_packet(const void *data, size_t size, struct ds *s)
{
    struct dp_packet packet;
    struct flow flow;

    dp_packet_use_const(&packet, data, size);
    flow_extract(&packet, &flow);
    if (flow.dl_type == htons(ETH_TYPE_ARP)) {
        ds_put_format(s, "arp,dl_src="ETH_ADDR_FMT",dl_dst="ETH_ADDR_FMT
                      ",arp_spa="IP_FMT",arp_tpa="IP_FMT",arp_op=%d,arp_sha="
                      ETH_ADDR_FMT",arp_tha="ETH_ADDR_FMT,
                      ETH_ADDR_ARGS(flow.dl_src), ETH_ADDR_ARGS(flow.dl_dst),
                      IP_ARGS(flow.nw_src), IP_ARGS(flow.nw_dst),
                      flow.nw_proto, ETH_ADDR_ARGS(flow.arp_sha),
                      ETH_ADDR_ARGS(flow.arp_tha));
    } else if (flow.dl_type == htons(ETH_TYPE_IP)) {
        const char *proto = (flow.nw_proto == IPPROTO_TCP ? "tcp"
                             : flow.nw_proto == IPPROTO_UDP ? "udp"
                             : flow.nw_proto == IPPROTO_ICMP ? "icmp"
                             : "ip");
        ds_put_format(s, "%s,dl_src="ETH_ADDR_FMT",dl_dst="ETH_ADDR_FMT
                      ",nw_src="IP_FMT",nw_dst="IP_FMT, proto,
                      ETH_ADDR_ARGS(flow.dl_src), ETH_ADDR_ARGS(flow.dl_dst),
                      IP_ARGS(flow.nw_src), IP_ARGS(flow.nw_dst));
        if (flow.nw_proto == IPPROTO_ICMP) {
            ds_put_format(s, ",icmp_type=%d,icmp_code=%d",
                          ntohs(flow.tp_src), ntohs(flow.tp_dst));
        } else if (flow.nw_proto == IPPROTO_TCP
                   || flow.nw_proto == IPPROTO_UDP) {
            ds_put_format(s, ",tp_src=%d,tp_dst=%d", ntohs(flow.tp_src),
                          ntohs(flow.tp_dst));
        } else {
            ds_put_format(s, ",nw_proto=%d", flow.nw_proto);
        }
    } else {
        ds_put_format(s, "dl_type=0x%04x", ntohs(flow.dl_type));
    }
}

/* Appends to 'replies' 'fs''s answer to flow stats request 'request', from
 * its table as it is now. */
static void
compose_flow_stats(struct fake_switch *fs, const struct ofp_header *request,
                   struct ovs_list *replies)
{
    struct ofputil_flow_stats_request fsr;
    struct ovs_list parts;
    struct fake_flow *f;

    ovs_assert(!ofputil_decode_flow_stats_request(&fsr, request, NULL,
                                                  NULL));
    ofpmp_init(&parts, request);
    LIST_FOR_EACH (f, node, &fs->flows) {
        if ((f->cookie & fsr.cookie_mask) != (fsr.cookie & fsr.cookie_mask)) {
            continue;
        }
        struct ofputil_flow_stats st = {
            .match = f->match,
            .cookie = f->cookie,
            .table_id = 0,
            .priority = f->priority,
            .idle_timeout = f->idle_timeout,
            .hard_timeout = f->hard_timeout,
            .duration_sec = (now - f->created) / 1000,
            .duration_nsec = (now - f->created) % 1000 * 1000000,
            .idle_age = -1,
            .hard_age = -1,
            .packet_count = 0,
            .byte_count = 0,
            .ofpacts = f->ofpacts,
            .ofpacts_len = f->ofpacts_len,
            .flags = f->flags,
        };
        ofputil_append_flow_stats_reply(&st, &parts, NULL);
    }

    struct ofpbuf *reply;
    LIST_FOR_EACH_POP (reply, list_node, &parts) {
        ofpmsg_update_length(reply);
        ovs_list_push_back(replies, &reply->list_node);
    }
}

/* Gives the balancer the flow stats replies in 'replies', and frees
 * them. */
static void
send_flow_stats(struct fake_switch *fs, struct ovs_list *replies)
{
    struct ofpbuf *reply;

    LIST_FOR_EACH_POP (reply, list_node, replies) {
        if (fs->lb) {
            lb_switch_flow_stats_reply(fs->lb, reply->data, now);
        }
        ofpbuf_delete(reply);
    }
}

/* Tells the balancer, if it monitors 'fs''s flows, that another
 * controller made 'event' happen to 'f'. */
static void
send_flow_update(struct fake_switch *fs, const struct fake_flow *f,
                 enum ofp_flow_update_event event)
{
    if (!fs->monitoring || !fs->lb) {
        return;
    }
    struct ofputil_flow_update fu = {
        .event = event,
        .reason = OFPRR_DELETE,
        .idle_timeout = f->idle_timeout,
        .hard_timeout = f->hard_timeout,
        .table_id = 0,
        .priority = f->priority,
        .cookie = f->cookie,
        .match = f->match,
        .ofpacts = f->ofpacts,
        .ofpacts_len = f->ofpacts_len,
    };
    struct ovs_list replies;
    struct ofpbuf *msg;

    ofputil_start_flow_update(&replies, fs->protocol);
    ofputil_append_flow_update(&fu, &replies, NULL);
    LIST_FOR_EACH_POP (msg, list_node, &replies) {
        ofpmsg_update_length(msg);
        lb_switch_flow_monitor(fs->lb, msg->data, now);
        ofpbuf_delete(msg);
    }
}

/* Tells the balancer that 'f' went, for 'reason', if it asked. */
static void
send_flow_removed(struct fake_switch *fs, const struct fake_flow *f,
                  enum ofp_flow_removed_reason reason)
{
    if (!(f->flags & OFPUTIL_FF_SEND_FLOW_REM) || !fs->lb) {
        return;
    }
    struct ofputil_flow_removed fr = {
        .match = f->match,
        .cookie = f->cookie,
        .priority = f->priority,
        .reason = reason,
        .table_id = 0,
        .duration_sec = (now - f->created) / 1000,
        .duration_nsec = (now - f->created) % 1000 * 1000000,
        .idle_timeout = f->idle_timeout,
        .hard_timeout = f->hard_timeout,
        .packet_count = 1,
        .byte_count = 64,
    };
    struct ofpbuf *msg = ofputil_encode_flow_removed(&fr, fs->protocol);
    ofpmsg_update_length(msg);
    lb_switch_flow_removed(fs->lb, msg->data, now);
    ofpbuf_delete(msg);
}

/* Sends 'fs''s answer to the flow monitor request. */
static void
send_monitor_replies(struct fake_switch *fs)
{
    struct ofpbuf *msg;

    LIST_FOR_EACH_POP (msg, list_node, &fs->monitor_replies) {
        ofpmsg_update_length(msg);
        if (fs->lb) {
            lb_switch_flow_monitor(fs->lb, msg->data, now);
        }
        ofpbuf_delete(msg);
    }
}

/* The flow monitor request 'oh': answered, or refused if 'fs' has none. */
static void
reply_flow_monitor(struct fake_switch *fs, const struct ofp_header *oh)
{
    struct ofpbuf *msg;

    if (fs->has_monitor) {
        fs->monitoring = true;
        ofpbuf_list_delete(&fs->monitor_replies);
        ofpmp_init(&fs->monitor_replies, oh);
        if (!fs->defer_monitor) {
            send_monitor_replies(fs);
        }
    } else {
        msg = ofperr_encode_reply(OFPERR_OFPBRC_BAD_STAT, oh);
        ofpmsg_update_length(msg);
        if (fs->lb) {
            lb_switch_error(fs->lb, msg->data, now);
        }
        ofpbuf_delete(msg);
    }
}

/* Another controller adds the flow described by 'string' (as ovs-ofctl
 * add-flow takes it, cookie included). */
static void
add_foreign_flow(struct fake_switch *fs, const char *string)
{
    enum ofputil_protocol usable;
    struct ofputil_flow_mod fm;
    struct match match;

    char *error = parse_ofp_str(&fm, OFPFC_ADD, string, NULL, NULL,
                                &usable);
    if (error) {
        ovs_fatal(0, "add-flow: %s", error);
    }
    minimatch_expand(&fm.match, &match);
    struct fake_flow *f = find_fake_flow(fs, &match, fm.priority);
    enum ofp_flow_update_event event = f ? OFPFME_MODIFIED : OFPFME_ADDED;
    if (f) {
        free_fake_flow(fs, f);
    }
    f = xzalloc(sizeof *f);
    f->match = match;
    f->priority = fm.priority;
    f->cookie = fm.new_cookie;
    f->ofpacts = xmemdup(fm.ofpacts, fm.ofpacts_len);
    f->ofpacts_len = fm.ofpacts_len;
    f->created = now;
    add_fake_flow(fs, f);
    send_flow_update(fs, f, event);
    minimatch_destroy(&fm.match);
    free(CONST_CAST(struct ofpact *, fm.ofpacts));
}

/* Another controller deletes every flow, as "ovs-ofctl del-flows" does. */
static void
delete_all_flows(struct fake_switch *fs)
{
    struct fake_flow *f;

    LIST_FOR_EACH_SAFE (f, node, &fs->flows) {
        /* Out of the table before the balancer hears of it. */
        ovs_list_remove(&f->node);
        hmap_remove(&fs->index, &f->index_node);
        send_flow_update(fs, f, OFPFME_REMOVED);
        send_flow_removed(fs, f, OFPRR_DELETE);
        free(f->ofpacts);
        free(f);
    }
}

static void
apply_flow_mod(struct fake_switch *fs, const struct ofp_header *oh)
{
    struct ofputil_flow_mod fm;
    struct ofpbuf ofpacts;
    struct match match;

    ofpbuf_init(&ofpacts, 0);
    ovs_assert(!ofputil_decode_flow_mod(&fm, oh, fs->protocol, NULL, NULL,
                                        &ofpacts, OFPP_MAX, 255));
    minimatch_expand(&fm.match, &match);
    fs->n_flow_mods++;

    struct fake_flow *f = find_fake_flow(fs, &match, fm.priority);
    if (fm.command == OFPFC_ADD) {
        if (f) {
            free_fake_flow(fs, f);
        }
        f = xzalloc(sizeof *f);
        f->match = match;
        f->priority = fm.priority;
        f->cookie = fm.new_cookie;
        f->idle_timeout = fm.idle_timeout;
        f->hard_timeout = fm.hard_timeout;
        f->flags = fm.flags;
        f->ofpacts = xmemdup(ofpacts.data, ofpacts.size);
        f->ofpacts_len = ofpacts.size;
        f->created = now;
        add_fake_flow(fs, f);
    } else if (fm.command == OFPFC_DELETE_STRICT) {
        if (f && (f->cookie & fm.cookie_mask) == (fm.cookie
                                                   & fm.cookie_mask)) {
            free_fake_flow(fs, f);
        } else if (getenv("TEST_LB_DEBUG")) {
            struct ds s = DS_EMPTY_INITIALIZER;
            match_format(&match, NULL, &s, fm.priority);
            fprintf(stderr, "delete of missing flow %s\n", ds_cstr(&s));
            ds_destroy(&s);
        }
    } else {
        ovs_fatal(0, "unexpected flow mod command %d", fm.command);
    }
    minimatch_destroy(&fm.match);
    ofpbuf_uninit(&ofpacts);
}

static void
record_packet_out(struct fake_switch *fs, const struct ofp_header *oh)
{
    struct ofputil_packet_out po;
    struct ofpbuf ofpacts;
    struct ds s = DS_EMPTY_INITIALIZER;

    ofpbuf_init(&ofpacts, 0);
    ovs_assert(!ofputil_decode_packet_out(&po, oh, NULL, &ofpacts));
    ds_put_format(&s, "packet-out in_port=%"PRIu16" ",
                  ofp_to_u16(po.flow_metadata.flow.in_port.ofp_port));
    format_packet(po.packet, po.packet_len, &s);
    ds_put_cstr(&s, " actions=");
    struct ofpact_format_params fp = { .s = &s };
    ofpacts_format(po.ofpacts, po.ofpacts_len, &fp);
    svec_add_nocopy(&fs->sent, ds_steal_cstr(&s));
    ofpbuf_uninit(&ofpacts);
}

/* Does what a switch does with everything the balancer sent to 'fs',
 * until it sends no more. */
static void
process_output(struct fake_switch *fs)
{
    while (fs->out.size) {
        struct ofpbuf rx = ofpbuf_const_initializer(
            xmemdup(fs->out.data, fs->out.size), fs->out.size);
        void *base = rx.data;
        struct ofpbuf aligned;
        const struct ofp_header *oh;
        int error;

        ofpbuf_clear(&fs->out);
        ofpbuf_init(&aligned, 0);
        while ((oh = lb_ofp_frame(&rx, &aligned, &error))) {
            enum ofptype type;

            ovs_assert(!ofptype_decode(&type, oh));
            if (type == OFPTYPE_FLOW_MOD) {
                apply_flow_mod(fs, oh);
            } else if (type == OFPTYPE_PACKET_OUT && fs->on_packet_out) {
                fs->on_packet_out(fs, oh);
            } else if (type == OFPTYPE_PACKET_OUT) {
                record_packet_out(fs, oh);
            } else if (type == OFPTYPE_FLOW_STATS_REQUEST) {
                /* The answer is the table as it is when asked, also when
                 * it is sent later, as a switch's would be. */
                fs->n_stats_requests++;
                compose_flow_stats(fs, oh, &fs->stats_replies);
                if (!fs->defer_stats) {
                    send_flow_stats(fs, &fs->stats_replies);
                }
            } else if (type == OFPTYPE_FLOW_MONITOR_STATS_REQUEST) {
                reply_flow_monitor(fs, oh);
            } else {
                ovs_fatal(0, "unexpected message %s",
                          ofptype_get_name(type));
            }
        }
        ovs_assert(!error && !rx.size);
        ofpbuf_uninit(&aligned);
        free(base);
    }
}

static void
process_all_output(void)
{
    for (int i = 0; i < MAX_FAKE_SWITCHES; i++) {
        if (fake_switches[i].dpid) {
            process_output(&fake_switches[i]);
        }
    }
}

static struct fake_switch *
get_fake_switch(const char *dpid_s)
{
    int dpid = atoi(dpid_s);

    if (dpid < 1 || dpid > MAX_FAKE_SWITCHES) {
        ovs_fatal(0, "switch %s: use 1 to %d", dpid_s, MAX_FAKE_SWITCHES);
    }
    struct fake_switch *fs = &fake_switches[dpid - 1];
    if (!fs->dpid) {
        fs->dpid = dpid;
        lb_ports_clear(&fs->ports);
        ofpbuf_init(&fs->out, 0);
        ovs_list_init(&fs->flows);
        hmap_init(&fs->index);
        ovs_list_init(&fs->stats_replies);
        ovs_list_init(&fs->monitor_replies);
        svec_init(&fs->sent);
    }
    return fs;
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Prints 'fs''s flows as "ovs-ofctl dump-flows" does, sorted, with their
 * cookie if it is not the balancer's. */
static void
print_flows(struct fake_switch *fs)
{
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    struct fake_flow *f;

    LIST_FOR_EACH (f, node, &fs->flows) {
        struct ds s = DS_EMPTY_INITIALIZER;

        if (f->cookie != htonll(script_cfg.cookie)) {
            ds_put_format(&s, "cookie=%#"PRIx64", ", ntohll(f->cookie));
        }
        if (f->idle_timeout) {
            ds_put_format(&s, "idle_timeout=%d, ", f->idle_timeout);
        }
        if (f->hard_timeout) {
            ds_put_format(&s, "hard_timeout=%d, ", f->hard_timeout);
        }
        match_format(&f->match, NULL, &s, f->priority);
        ds_put_cstr(&s, " actions=");
        struct ofpact_format_params fp = { .s = &s };
        ofpacts_format(f->ofpacts, f->ofpacts_len, &fp);
        svec_add_nocopy(&lines, ds_steal_cstr(&s));
    }
    if (lines.n) {              /* qsort() may not be given NULL. */
        qsort(lines.names, lines.n, sizeof *lines.names, compare_strings);
    }
    for (size_t i = 0; i < lines.n; i++) {
        printf("%s\n", lines.names[i]);
    }
    svec_destroy(&lines);
}

static void
packet_in(struct fake_switch *fs, int port, const struct dp_packet *packet)
{
    struct ofputil_packet_in_private pin = {
        .base = {
            .packet = CONST_CAST(void *, dp_packet_data(packet)),
            .packet_len = dp_packet_size(packet),
            .reason = OFPR_ACTION,
            .cookie = htonll(LB_DEFAULT_COOKIE),
        },
    };
    match_init_catchall(&pin.base.flow_metadata);
    match_set_in_port(&pin.base.flow_metadata, u16_to_ofp(port));
    struct ofpbuf *msg = ofputil_encode_packet_in_private(
        &pin, fs->protocol, OFPUTIL_PACKET_IN_STD);
    ofpmsg_update_length(msg);
    if (fs->lb) {
        lb_switch_packet_in(fs->lb, msg->data, now);
    }
    ofpbuf_delete(msg);
}

/* The switch's flows with an idle timeout expire, as if idle, at least the
 * timeout after they were added: they go, and the balancer hears of those
 * with send_flow_rem. */
static void
expire_flows(struct fake_switch *fs)
{
    struct fake_flow *f;

    LIST_FOR_EACH_SAFE (f, node, &fs->flows) {
        if (f->idle_timeout) {
            now = MAX(now, f->created + f->idle_timeout * 1000LL);
            send_flow_removed(fs, f, OFPRR_IDLE_TIMEOUT);
            free_fake_flow(fs, f);
        }
    }
}

static void
run_line(char *line, int line_number)
{
    struct svec words = SVEC_EMPTY_INITIALIZER;
    char *rest;

    svec_parse_words(&words, line);
    if (!words.n || words.names[0][0] == '#') {
        svec_destroy(&words);
        return;
    }
    const char *cmd = words.names[0];
    rest = line + strspn(line, " \t");
    rest += strlen(cmd);
    rest += strspn(rest, " \t");

#define NEED(N)                                                         \
    if (words.n < (N) + 1) {                                            \
        ovs_fatal(0, "line %d: %s needs %d arguments", line_number, cmd, \
                  (N));                                                 \
    }

    struct fake_switch *fs = NULL;
    if (!strcmp(cmd, "service")) {
        char *error = lb_config_add_service(&script_cfg, rest);
        if (error) {
            printf("error: %s\n", error);
            free(error);
        }
    } else if (!strcmp(cmd, "lab")) {
        NEED(2);
        char *error = lb_config_add_lab_service(&script_cfg, words.names[1],
                                                words.names[2]);
        if (error) {
            printf("error: %s\n", error);
            free(error);
        }
    } else if (!strcmp(cmd, "set")) {
        for (size_t i = 1; i < words.n; i++) {
            char *eq = strchr(words.names[i], '=');
            if (!eq) {
                ovs_fatal(0, "line %d: set NAME=VALUE...", line_number);
            }
            *eq = '\0';
            char *error = lb_config_set(&script_cfg, words.names[i], eq + 1);
            if (error) {
                printf("error: %s\n", error);
                free(error);
            }
        }
    } else if (!strcmp(cmd, "clear-services")) {
        struct lb_config fresh;
        lb_config_clone(&fresh, &script_cfg);
        lb_config_destroy(&fresh);
        for (size_t i = 0; i < script_cfg.n_services; i++) {
            lb_service_config_destroy(&script_cfg.services[i]);
        }
        script_cfg.n_services = 0;
    } else if (!strcmp(cmd, "apply")) {
        char *error = lb_controller_reconfigure(controller, &script_cfg,
                                                now);
        if (error) {
            printf("error: %s\n", error);
            free(error);
        }
    } else if (!strcmp(cmd, "restart")) {
        /* The balancer restarts with the configuration so far; the
         * switches keep their flows and reconnect when told to. */
        lb_controller_destroy(controller);
        controller = lb_controller_create();
        for (int i = 0; i < MAX_FAKE_SWITCHES; i++) {
            fake_switches[i].lb = NULL;
        }
        char *error = lb_controller_reconfigure(controller, &script_cfg,
                                                now);
        if (error) {
            printf("error: %s\n", error);
            free(error);
        }
    } else if (!strcmp(cmd, "connect")) {
        /* connect DPID VERSION N_PORTS [no-monitor] [defer-stats]
         *         [defer-monitor] */
        NEED(3);
        fs = get_fake_switch(words.names[1]);
        fs->has_monitor = true;
        fs->defer_stats = false;
        fs->defer_monitor = false;
        for (size_t i = 4; i < words.n; i++) {
            if (!strcmp(words.names[i], "no-monitor")) {
                fs->has_monitor = false;
            } else if (!strcmp(words.names[i], "defer-stats")) {
                fs->defer_stats = true;
            } else if (!strcmp(words.names[i], "defer-monitor")) {
                fs->defer_monitor = true;
            } else {
                ovs_fatal(0, "line %d: bad option %s", line_number,
                          words.names[i]);
            }
        }
        fs->monitoring = false;
        enum ofp_version v = ofputil_version_from_string(words.names[2]);
        if (!v) {
            ovs_fatal(0, "line %d: bad version %s", line_number,
                      words.names[2]);
        }
        fs->protocol = ofputil_protocol_from_ofp_version(v);
        lb_ports_clear(&fs->ports);
        for (int p = 1; p <= atoi(words.names[3]); p++) {
            lb_ports_add(&fs->ports, u16_to_ofp(p));
        }
        char *via = xasprintf("%s on fake", words.names[2]);
        fs->lb = lb_controller_connect(controller, fs->dpid, fs->protocol,
                                       &fs->ports, &fs->out, via, now);
        free(via);
    } else if (!strcmp(cmd, "stats")) {
        /* stats DPID: sends the answers to the flow stats requests. */
        NEED(1);
        fs = get_fake_switch(words.names[1]);
        send_flow_stats(fs, &fs->stats_replies);
    } else if (!strcmp(cmd, "monitor")) {
        /* monitor DPID: sends the answer to the flow monitor request. */
        NEED(1);
        send_monitor_replies(get_fake_switch(words.names[1]));
    } else if (!strcmp(cmd, "disconnect")) {
        NEED(1);
        fs = get_fake_switch(words.names[1]);
        lb_controller_disconnect(controller, fs->dpid, now);
        fs->lb = NULL;
        ofpbuf_clear(&fs->out);
        ofpbuf_list_delete(&fs->stats_replies);
        ofpbuf_list_delete(&fs->monitor_replies);
    } else if (!strcmp(cmd, "packet")) {
        /* packet DPID PORT FLOW */
        NEED(3);
        fs = get_fake_switch(words.names[1]);
        struct flow flow;
        char *error = parse_ofp_exact_flow(&flow, NULL, NULL, words.names[3],
                                           NULL);
        if (error) {
            ovs_fatal(0, "line %d: %s", line_number, error);
        }
        struct dp_packet packet;
        dp_packet_init(&packet, 0);
        flow_compose(&packet, &flow, NULL, 64);
        packet_in(fs, atoi(words.names[2]), &packet);
        dp_packet_uninit(&packet);
    } else if (!strcmp(cmd, "arp-reply")) {
        /* arp-reply DPID PORT SPA SHA TPA: an answer to a probe. */
        NEED(5);
        fs = get_fake_switch(words.names[1]);
        struct eth_addr sha, lb_mac = script_cfg.lb_mac;
        ovs_be32 spa, tpa;
        if (!eth_addr_from_string(words.names[4], &sha)
            || !ip_parse(words.names[3], &spa)
            || !ip_parse(words.names[5], &tpa)) {
            ovs_fatal(0, "line %d: arp-reply DPID PORT SPA SHA TPA",
                      line_number);
        }
        struct dp_packet packet;
        dp_packet_init(&packet, 0);
        compose_arp(&packet, ARP_OP_REPLY, sha, lb_mac, false, spa, tpa);
        packet_in(fs, atoi(words.names[2]), &packet);
        dp_packet_uninit(&packet);
    } else if (!strcmp(cmd, "warp")) {
        NEED(1);
        long long int until = now + atoll(words.names[1]);
        /* Step through the timers on the way, as the daemon would. */
        for (;;) {
            long long int next = lb_controller_next_timer(controller);
            now = MIN(until, MAX(now, next));
            lb_controller_run(controller, now);
            process_all_output();
            if (now >= until
                && lb_controller_next_timer(controller) > now) {
                break;          /* (Work in slices is all done.) */
            }
        }
    } else if (!strcmp(cmd, "del-flows")) {
        NEED(1);
        delete_all_flows(get_fake_switch(words.names[1]));
    } else if (!strcmp(cmd, "add-flow")) {
        /* add-flow DPID FLOW */
        NEED(2);
        fs = get_fake_switch(words.names[1]);
        add_foreign_flow(fs, rest + strlen(words.names[1])
                         + strspn(rest + strlen(words.names[1]), " \t"));
    } else if (!strcmp(cmd, "expire")) {
        NEED(1);
        fs = get_fake_switch(words.names[1]);
        expire_flows(fs);
    } else if (!strcmp(cmd, "flow-mods")) {
        /* flow-mods DPID: how many the switch got since the last time. */
        NEED(1);
        fs = get_fake_switch(words.names[1]);
        printf("flow-mods %"PRIuSIZE"\n", fs->n_flow_mods);
        fs->n_flow_mods = 0;
    } else if (!strcmp(cmd, "stats-requests")) {
        /* stats-requests DPID: how many flow stats requests the switch got
         * since the last time (a read-back or an audit each). */
        NEED(1);
        fs = get_fake_switch(words.names[1]);
        printf("stats-requests %"PRIuSIZE"\n", fs->n_stats_requests);
        fs->n_stats_requests = 0;
    } else if (!strcmp(cmd, "flows")) {
        NEED(1);
        print_flows(get_fake_switch(words.names[1]));
    } else if (!strcmp(cmd, "sent")) {
        NEED(1);
        /* Sorted: the order of the packets a switch is told to send does
         * not matter, and the probes' order is a hash table's. */
        fs = get_fake_switch(words.names[1]);
        svec_sort(&fs->sent);
        for (size_t i = 0; i < fs->sent.n; i++) {
            printf("%s\n", fs->sent.names[i]);
        }
        svec_clear(&fs->sent);
    } else if (!strcmp(cmd, "show")) {
        struct ds s = DS_EMPTY_INITIALIZER;
        /* With the clients, unless asked otherwise. */
        const char **args = xmalloc((words.n + 1) * sizeof *args);
        size_t n_args = 0;
        args[n_args++] = "--clients";
        for (size_t i = 1; i < words.n; i++) {
            args[n_args++] = words.names[i];
        }
        char *error = lb_controller_show(controller, n_args, args, &s);
        free(args);
        fputs(error ? error : ds_cstr(&s), stdout);
        free(error);
        ds_destroy(&s);
    } else if (!strcmp(cmd, "echo")) {
        printf("%s\n", rest);
    } else {
        ovs_fatal(0, "line %d: unknown command %s", line_number, cmd);
    }
#undef NEED

    process_all_output();
    svec_destroy(&words);
    fflush(stdout);
}

/* run: reads a script from stdin, one command per line:
 *
 *   service SPEC            adds a service, as --service=SPEC
 *   lab VIP SERVERS         adds the lab's service, as --vip and --servers
 *   set NAME=VALUE...       a setting, as --NAME=VALUE
 *   clear-services          forgets the services added so far
 *   apply                   makes all of that the configuration
 *   restart                 the balancer restarts with that configuration
 *   connect DPID VERSION N [no-monitor] [defer-stats] [defer-monitor]
 *                           switch DPID (1-8) connects over VERSION with
 *                           ports 1 to N, with the flows it still has;
 *                           it takes flow monitors unless no-monitor, and
 *                           with defer-stats sends its answers to flow
 *                           stats requests (its flows when asked) only at
 *                           "stats DPID", and with defer-monitor its
 *                           answer to the flow monitor request only at
 *                           "monitor DPID"
 *   disconnect DPID
 *   packet DPID PORT FLOW   a packet-in of the packet FLOW describes (as
 *                           ovs-ofctl compose-packet takes it) from PORT
 *   stats DPID              a switch connected with "defer-stats"
 *                           sends its answers to the balancer's flow stats
 *                           requests
 *   arp-reply DPID PORT SPA SHA TPA   a backend answers a probe
 *   warp MSECS              time passes, and the timers run
 *   expire DPID             the flows with idle timeouts expire
 *   del-flows DPID          another controller deletes all flows
 *   add-flow DPID FLOW      another controller adds FLOW (as ovs-ofctl
 *                           add-flow takes it)
 *   flows DPID              prints the switch's flows, sorted
 *   flow-mods DPID          prints how many flow mods the switch took
 *                           since the last time asked
 *   stats-requests DPID     prints how many flow stats requests it got
 *                           since the last time asked
 *   sent DPID               prints the packets sent since last asked,
 *                           sorted
 *   show [ARG...]           prints "lb/show --clients [ARG...]"
 *   echo TEXT               prints TEXT
 *
 * Every switch does at once what the balancer sends it. */
static void
test_run(struct ovs_cmdl_context *ctx)
{
    char line[4096];
    int line_number = 0;

    /* Logs go to stderr if asked for with -v. */
    if (ctx->argc < 2 || strcmp(ctx->argv[1], "-v")) {
        vlog_set_verbosity("off");
    }
    lb_config_init(&script_cfg);
    controller = lb_controller_create();
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        run_line(line, ++line_number);
    }

    lb_controller_destroy(controller);
    lb_config_destroy(&script_cfg);
    for (int i = 0; i < MAX_FAKE_SWITCHES; i++) {
        struct fake_switch *fs = &fake_switches[i];
        if (fs->dpid) {
            struct fake_flow *f;
            LIST_FOR_EACH_SAFE (f, node, &fs->flows) {
                free_fake_flow(fs, f);
            }
            hmap_destroy(&fs->index);
            ofpbuf_list_delete(&fs->stats_replies);
            ofpbuf_list_delete(&fs->monitor_replies);
            ofpbuf_uninit(&fs->out);
            svec_destroy(&fs->sent);
        }
    }
}

/* CPU time, in nanoseconds, that this thread has used. */
static long long int
thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* For check-cost: the balancer's CPU time so far, and the SYNs seen. */
static long long int check_cost_ns;
static int check_cost_syns;

/* Answers a packet-out that is a health check's SYN, as its backend
 * would, with a SYN-ACK. */
static void
answer_syn(struct fake_switch *fs, const struct ofp_header *oh)
{
    struct ofputil_packet_out po;
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 0);
    ovs_assert(!ofputil_decode_packet_out(&po, oh, NULL, &ofpacts));

    struct lb_packet pkt;
    lb_packet_parse(po.packet, po.packet_len, &pkt);
    const struct ofpact *a = ofpacts.data;
    if (pkt.kind == LB_PACKET_IPV4 && pkt.ip_proto == IPPROTO_TCP
        && pkt.tcp_flags == TCP_SYN && a->type == OFPACT_OUTPUT) {
        const struct tcp_header *tcp = (const void *)
            ((const uint8_t *) po.packet + pkt.l4_ofs);
        struct eth_addr src, dst;
        memcpy(&dst, po.packet, ETH_ADDR_LEN);
        memcpy(&src, (const uint8_t *) po.packet + 6, ETH_ADDR_LEN);
        struct lb_ofp_l4 l4 = {
            .eth_src = dst, .eth_dst = src,
            .ip_src = pkt.ip_dst, .ip_dst = pkt.ip_src,
            .src_port = pkt.l4_dst, .dst_port = pkt.l4_src,
        };
        struct ofpbuf reply;
        struct lb_ofp emu = { .protocol = fs->protocol, .out = &reply };
        ofpbuf_init(&reply, 0);
        lb_ofp_tcp(&emu, &l4, TCP_SYN | TCP_ACK, 1000,
                   ntohl(get_16aligned_be32(&tcp->tcp_seq)) + 1, 65535,
                   NULL, 0, OFPP_CONTROLLER, OFPP_CONTROLLER);

        /* The frame composed by lb-ofp, as a packet-in from the backend's
         * port. */
        struct ofputil_packet_out reply_po;
        struct ofpbuf reply_acts;
        ofpbuf_init(&reply_acts, 0);
        ovs_assert(!ofputil_decode_packet_out(&reply_po, reply.data, NULL,
                                              &reply_acts));
        struct dp_packet packet;
        dp_packet_use_const(&packet, reply_po.packet, reply_po.packet_len);
        int port = ofp_to_u16(ofpact_get_OUTPUT(a)->port);
        long long int start = thread_cpu_ns();
        packet_in(fs, port, &packet);
        check_cost_ns += thread_cpu_ns() - start;
        ofpbuf_uninit(&reply_acts);
        ofpbuf_uninit(&reply);
        check_cost_syns++;
    }
    ofpbuf_uninit(&ofpacts);
}

/* role-requests: the role requests ovs-balancer --ha sends, in every
 * version, as OVS's own decoder reads them. */
static void
test_role_requests(struct ovs_cmdl_context *ctx OVS_UNUSED)
{
    static const enum ofp12_controller_role roles[] = {
        OFPCR12_ROLE_PRIMARY, OFPCR12_ROLE_SECONDARY,
    };

    for (enum ofp_version v = OFP10_VERSION; v <= OFP15_VERSION; v++) {
        for (size_t i = 0; i < ARRAY_SIZE(roles); i++) {
            struct ofpbuf *msg = lb_ofp_encode_role_request(v, roles[i], 7);
            struct ofputil_role_request rr;
            enum ofperr error = ofputil_decode_role_message(msg->data, &rr);

            printf("%s: ", ofputil_version_to_string(v));
            if (error) {
                printf("%s\n", ofperr_to_string(error));
            } else {
                printf("%s", rr.role == OFPCR12_ROLE_PRIMARY ? "primary"
                       : rr.role == OFPCR12_ROLE_SECONDARY ? "secondary"
                       : "other");
                if (rr.have_generation_id) {
                    printf(" generation %"PRIu64, rr.generation_id);
                }
                putchar('\n');
            }
            ofpbuf_delete(msg);
        }
    }
}

/* check-cost N SECONDS: N backends with tcp checks every second, answered
 * at once, for SECONDS of virtual time; prints the balancer's CPU time per
 * check (its own work: composing, parsing, timers; not the socket I/O). */
static void
test_check_cost(struct ovs_cmdl_context *ctx)
{
    int n = atoi(ctx->argv[1]);
    int seconds = atoi(ctx->argv[2]);
    struct ds spec = DS_EMPTY_INITIALIZER;

    vlog_set_verbosity("off");
    ds_put_cstr(&spec, "web 10.0.0.254:80 ");
    for (int k = 0; k < n; k++) {
        ds_put_format(&spec, "%s10.1.%d.%d", k ? "," : "", k / 250,
                      k % 250 + 1);
    }
    ds_put_cstr(&spec, " health=tcp interval=1 timeout=1");
    lb_config_init(&script_cfg);
    char *error = lb_config_add_service(&script_cfg, ds_cstr(&spec));
    ovs_assert(!error);
    script_cfg.probe_interval = 3600;
    controller = lb_controller_create();
    error = lb_controller_reconfigure(controller, &script_cfg, now);
    ovs_assert(!error);

    struct fake_switch *fs = get_fake_switch("1");
    fs->protocol = OFPUTIL_P_OF13_OXM;
    for (int p = 1; p <= n + 1; p++) {
        lb_ports_add(&fs->ports, u16_to_ofp(p));
    }
    fs->has_monitor = true;
    fs->lb = lb_controller_connect(controller, 1, fs->protocol, &fs->ports,
                                   &fs->out, "fake", now);
    process_output(fs);         /* The flows read back: resync over. */
    for (int k = 0; k < n; k++) {
        struct eth_addr mac = ETH_ADDR_C(04, 00, 00, 00, 00, 00);
        ovs_be32 ip = htonl((10 << 24) | (1 << 16) | ((k / 250) << 8)
                            | (k % 250 + 1));
        struct dp_packet packet;
        mac.ea[4] = k >> 8;
        mac.ea[5] = k;
        dp_packet_init(&packet, 0);
        compose_arp(&packet, ARP_OP_REPLY, mac, script_cfg.lb_mac, false,
                    ip, htonl(0x0a0000fe));
        packet_in(fs, k + 1, &packet);
        dp_packet_uninit(&packet);
    }
    process_output(fs);

    long long int until = now + seconds * 1000LL;
    fs->on_packet_out = answer_syn;
    check_cost_ns = 0;
    check_cost_syns = 0;
    /* (The first interval only spreads the checks.) */
    while (now < until) {
        long long int next = lb_controller_next_timer(controller);
        now = MIN(until, MAX(now, next));
        long long int start = thread_cpu_ns();
        lb_controller_run(controller, now);
        check_cost_ns += thread_cpu_ns() - start;
        process_output(fs);
    }
    int n_checks = check_cost_syns;
    double us = n_checks ? check_cost_ns / 1000.0 / n_checks : 0;
    printf("%d backends, %d checks in %d s: %.2f us of CPU per check, "
           "%.3f%% of a core at %d checks a second\n", n, n_checks,
           seconds, us, us * n / 1e6 * 100, n);

    lb_controller_destroy(controller);
    lb_config_destroy(&script_cfg);
    ds_destroy(&spec);
}

static const struct ovs_cmdl_command commands[] = {
    {"config", "SPEC...", 1, INT_MAX, test_config, OVS_RO},
    {"set", "NAME VALUE", 2, 2, test_set, OVS_RO},
    {"schedule", "SCHEDULER MEMBERS N", 3, 3, test_schedule, OVS_RO},
    {"distribution", "SCHEDULER WEIGHTS N", 3, 3, test_distribution, OVS_RO},
    {"disruption", "N CLIENTS", 2, 2, test_disruption, OVS_RO},
    {"mh-order", "N CLIENTS", 2, 2, test_mh_order, OVS_RO},
    {"parse-packet", "HEX", 1, 1, test_parse_packet, OVS_RO},
    {"templates", "N", 1, 1, test_templates, OVS_RO},
    {"packet-ins", "N", 1, 1, test_packet_ins, OVS_RO},
    {"table", "N", 1, 1, test_table, OVS_RO},
    {"sessions", "N", 1, 1, test_sessions, OVS_RO},
    {"reserve", "N", 1, 1, test_reserve, OVS_RO},
    {"table-walk", "N M BUCKETS", 3, 3, test_table_walk, OVS_RO},
    {"reserve-sessions", "N", 1, 1, test_reserve_sessions, OVS_RO},
    {"run", "[-v]", 0, 1, test_run, OVS_RO},
    {"check-cost", "N SECONDS", 2, 2, test_check_cost, OVS_RO},
    {"role-requests", "", 0, 0, test_role_requests, OVS_RO},
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

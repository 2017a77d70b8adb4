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
#include "lib/lb-switch.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>

#include "flow.h"
#include "hash.h"
#include "hmapx.h"
#include "lib/lb-config.h"
#include "lib/lb-ofp.h"
#include "lib/lb-packet.h"
#include "lib/lb-scheduler.h"
#include "lib/lb-switch-private.h"
#include "lib/lb-template.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-monitor.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_switch);

/* Bad input can come at any rate, so its warnings are rate limited. */
static struct vlog_rate_limit bad_rl = VLOG_RATE_LIMIT_INIT(5, 20);
static struct vlog_rate_limit dbg_rl = VLOG_RATE_LIMIT_INIT(60, 600);

/* One line per decision, but a flood of new clients must not become a
 * flood of log lines: past LB_DECISIONS_LOGGED in a second, decisions are
 * counted and the count is logged.  (OVS's rate limiter takes a lock, too
 * dear to ask for every new client.) */
#define LB_DECISIONS_LOGGED 100

/* A flow the switch removed within this long after the balancer last sent
 * its replacement is the old one: the replacement is in place. */
#define LB_REINSTALL_MS 1000

/* Most packet-ins held while the balancer reads back its flows. */
#define LB_MAX_HELD 256

/* Most ICMP unreachables a service sends per second. */
#define LB_MAX_REJECTS 100

/* A mapping's messages, described by their varying fields. */
enum {
    MV_CLIENT_PORT, MV_CLIENT_MAC, MV_CLIENT_IP,
    MV_SERVER_MAC, MV_SERVER_IP, MV_SERVER_PORT,
    N_MV
};
static const enum lb_tmpl_kind mapping_kinds[N_MV] = {
    LB_TMPL_PORT, LB_TMPL_MAC, LB_TMPL_IP, LB_TMPL_MAC, LB_TMPL_IP,
    LB_TMPL_PORT,
};

/* An ARP reply from the LB MAC, described by its varying fields. */
enum { AV_PORT, AV_MAC, AV_SPA, AV_TPA, N_AV };
static const enum lb_tmpl_kind arp_reply_kinds[N_AV] = {
    LB_TMPL_PORT, LB_TMPL_MAC, LB_TMPL_IP, LB_TMPL_IP,
};

static void lb_switch_probe(struct lb_switch *);
static void destroy_templates(struct lb_switch *);
static void handle_packet_in(struct lb_switch *, const struct ofp_header *,
                             long long int now);
static bool is_valid_message(const struct lb_switch *,
                             const struct ofp_header *, enum ofptype);

uint32_t
lb_hash_ip(ovs_be32 ip)
{
    return hash_int((OVS_FORCE uint32_t) ip, 0);
}

struct lb_switch *
lb_switch_create(const struct lb_config *cfg, uint64_t dpid)
{
    struct lb_switch *sw = xzalloc(sizeof *sw);

    sw->cfg = cfg;
    sw->dpid = dpid;
    snprintf(sw->name, sizeof sw->name, "%016"PRIx64, dpid);
    sw->ofp.cookie = htonll(cfg->cookie);
    hmap_init(&sw->backends);
    /* The tables get all the buckets they may need now, about 8 bytes per
     * client of --max-clients: growing a table of a million clients would
     * stop the balancer for tens of milliseconds. */
    hmap_init(&sw->clients);
    hmap_reserve(&sw->clients, cfg->max_clients);
    ovs_list_init(&sw->idle_clients);
    ovs_list_init(&sw->idle_mappings);
    ovs_list_init(&sw->held);
    ovs_list_init(&sw->resync_later);

    sw->n_services = cfg->n_services;
    sw->services = xcalloc(cfg->n_services, sizeof *sw->services);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct lb_service_config *sc = &cfg->services[i];
        struct lb_service *svc = &sw->services[i];

        svc->cfg = sc;
        svc->sw = sw;
        svc->members = xcalloc(sc->n_backends, sizeof *svc->members);
        svc->candidates = xcalloc(sc->n_backends, sizeof *svc->candidates);
        svc->scheduler = lb_scheduler_create(sc->scheduler);
        hmap_init(&svc->mappings);
        hmap_reserve(&svc->mappings, cfg->max_clients);

        for (size_t j = 0; j < sc->n_backends; j++) {
            struct lb_backend *b = lb_find_backend(sw, sc->backends[j]);
            if (!b) {
                b = xzalloc(sizeof *b);
                b->ip = sc->backends[j];
                b->probe_spa = sc->vip;
                b->state = LB_BACKEND_UNKNOWN;
                hmap_insert(&sw->backends, &b->node, lb_hash_ip(b->ip));
            }
            svc->members[j].backend = b;
        }
    }
    return sw;
}

static void
lb_switch_drop_held(struct lb_switch *sw)
{
    struct ofpbuf *msg;

    LIST_FOR_EACH_POP (msg, list_node, &sw->held) {
        ofpbuf_delete(msg);
    }
    sw->n_held = 0;
}

void
lb_switch_destroy(struct lb_switch *sw)
{
    if (!sw) {
        return;
    }
    destroy_templates(sw);
    for (size_t i = 0; i < sw->n_services; i++) {
        struct lb_service *svc = &sw->services[i];
        struct lb_mapping *m;

        HMAP_FOR_EACH_POP (m, node, &svc->mappings) {
            free(m);
        }
        hmap_destroy(&svc->mappings);
        lb_scheduler_destroy(svc->scheduler);
        free(svc->members);
        free(svc->candidates);
    }
    free(sw->services);

    struct lb_client *client;
    HMAP_FOR_EACH_POP (client, node, &sw->clients) {
        free(client);
    }
    hmap_destroy(&sw->clients);

    struct lb_backend *b;
    HMAP_FOR_EACH_POP (b, node, &sw->backends) {
        free(b);
    }
    hmap_destroy(&sw->backends);
    lb_switch_drop_held(sw);
    lb_resync_abort(sw);
    free(sw);
}

uint64_t
lb_switch_get_dpid(const struct lb_switch *sw)
{
    return sw->dpid;
}

bool
lb_switch_is_connected(const struct lb_switch *sw)
{
    return sw->connected;
}

size_t
lb_switch_count_clients(const struct lb_switch *sw)
{
    return hmap_count(&sw->clients);
}

/* Lookups. */

struct lb_backend *
lb_find_backend(const struct lb_switch *sw, ovs_be32 ip)
{
    struct lb_backend *b;

    HMAP_FOR_EACH_WITH_HASH (b, node, lb_hash_ip(ip), &sw->backends) {
        if (b->ip == ip) {
            return b;
        }
    }
    return NULL;
}

struct lb_service *
lb_find_service(const struct lb_switch *sw, ovs_be32 vip)
{
    for (size_t i = 0; i < sw->n_services; i++) {
        if (sw->services[i].cfg->vip == vip) {
            return &sw->services[i];
        }
    }
    return NULL;
}

struct lb_client *
lb_find_client(const struct lb_switch *sw, ovs_be32 ip)
{
    struct lb_client *client;

    HMAP_FOR_EACH_WITH_HASH (client, node, lb_hash_ip(ip), &sw->clients) {
        if (client->ip == ip) {
            return client;
        }
    }
    return NULL;
}

struct lb_mapping *
lb_find_mapping(const struct lb_service *svc, ovs_be32 client_ip)
{
    struct lb_mapping *m;

    HMAP_FOR_EACH_WITH_HASH (m, node, lb_hash_ip(client_ip),
                             &svc->mappings) {
        if (m->client->ip == client_ip) {
            return m;
        }
    }
    return NULL;
}

struct lb_member *
lb_service_find_member(struct lb_service *svc, const struct lb_backend *b)
{
    for (size_t i = 0; i < svc->cfg->n_backends; i++) {
        if (svc->members[i].backend == b) {
            return &svc->members[i];
        }
    }
    return NULL;
}

/* Connection. */

static void
put_punt_flow(struct lb_switch *sw, uint16_t dl_type, ovs_be32 nw_src,
              ovs_be32 nw_dst, const struct ofpbuf *ofpacts)
{
    struct match match;

    match_init_catchall(&match);
    match_set_dl_type(&match, htons(dl_type));
    if (nw_src) {
        match_set_nw_src(&match, nw_src);
    }
    if (nw_dst) {
        match_set_nw_dst(&match, nw_dst);
    }
    lb_ofp_flow_add(&sw->ofp, &match, LB_PRIO_PUNT, 0, 0, false, ofpacts);
}

/* Installs the flows that do not depend on clients: the fallback for other
 * traffic, and the rules that send the balancer what it must see.  Adding
 * a flow that is already there only replaces it. */
static void
install_base_flows(struct lb_switch *sw)
{
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts;
    struct match match;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);

    /* Everything else: forwarded as by a normal switch, or dropped.  This
     * also replaces OpenFlow 1.0's default of sending misses to the
     * controller and OpenFlow 1.3's of dropping them. */
    if (sw->cfg->fallback == LB_FALLBACK_NORMAL) {
        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_NORMAL;
    }
    match_init_catchall(&match);
    lb_ofp_flow_add(&sw->ofp, &match, LB_PRIO_FALLBACK, 0, 0, false,
                    &ofpacts);

    ofpbuf_clear(&ofpacts);
    lb_ofp_put_controller(&ofpacts);
    for (size_t i = 0; i < sw->n_services; i++) {
        ovs_be32 vip = sw->services[i].cfg->vip;

        /* ARP for the VIP (clients asking, backends answering probes), ARP
         * from anyone claiming it, and clients' packets without flows. */
        put_punt_flow(sw, ETH_TYPE_ARP, 0, vip, &ofpacts);
        put_punt_flow(sw, ETH_TYPE_ARP, vip, 0, &ofpacts);
        put_punt_flow(sw, ETH_TYPE_IP, 0, vip, &ofpacts);
    }

    struct lb_backend *b;
    HMAP_FOR_EACH (b, node, &sw->backends) {
        /* The backends' ARP, and their packets no client flow covers. */
        put_punt_flow(sw, ETH_TYPE_ARP, b->ip, 0, &ofpacts);
        put_punt_flow(sw, ETH_TYPE_IP, b->ip, 0, &ofpacts);
    }
    ofpbuf_uninit(&ofpacts);
}

static void encode_c2s_flow(const union lb_tmpl_value[], const void *,
                            struct ofpbuf *);
static void encode_s2c_flow(const union lb_tmpl_value[], const void *,
                            struct ofpbuf *);
static void encode_c2s_packet_out(const union lb_tmpl_value[], const void *,
                                  struct ofpbuf *);
static void encode_arp_reply(const union lb_tmpl_value[], const void *,
                             struct ofpbuf *);

static void
destroy_templates(struct lb_switch *sw)
{
    for (size_t i = 0; i < sw->n_services; i++) {
        struct lb_service *svc = &sw->services[i];

        lb_tmpl_destroy(&svc->c2s_flow);
        lb_tmpl_destroy(&svc->s2c_flow);
        lb_tmpl_destroy(&svc->c2s_packet_out);
    }
    lb_tmpl_destroy(&sw->arp_reply);
}

/* Makes the templates of the messages sent for every new client, in the
 * switch's OpenFlow version. */
static void
build_templates(struct lb_switch *sw)
{
    destroy_templates(sw);
    for (size_t i = 0; i < sw->n_services; i++) {
        struct lb_service *svc = &sw->services[i];

        lb_tmpl_init(&svc->c2s_flow, mapping_kinds, N_MV, encode_c2s_flow,
                     svc);
        lb_tmpl_init(&svc->s2c_flow, mapping_kinds, N_MV, encode_s2c_flow,
                     svc);
        lb_tmpl_init(&svc->c2s_packet_out, mapping_kinds, N_MV,
                     encode_c2s_packet_out, svc);
    }
    lb_tmpl_init(&sw->arp_reply, arp_reply_kinds, N_AV, encode_arp_reply,
                 sw);
}

void
lb_mapping_set_flows(struct lb_switch *sw, struct lb_mapping *m,
                     unsigned int flows, long long int now)
{
    if (m->flows && !flows) {
        m->idle_since = now;
        ovs_list_push_back(&sw->idle_mappings, &m->idle_node);
    } else if (!m->flows && flows) {
        ovs_list_remove(&m->idle_node);
    }
    m->flows = flows;
}

/* The switch has connected (or reconnected) and speaks 'protocol'.  The
 * base flows go in, the backends are asked for, and the balancer reads back
 * the flows it finds there with its cookie, so that clients keep their
 * servers across a reconnection of the switch or a restart of the
 * balancer. */
void
lb_switch_connected(struct lb_switch *sw, enum ofputil_protocol protocol,
                    const struct hmapx *ports, long long int now,
                    struct ofpbuf *out)
{
    sw->connected = true;
    sw->ports = ports;
    sw->ofp.protocol = protocol;
    sw->ofp.out = out;

    build_templates(sw);
    install_base_flows(sw);
    lb_resync_start(sw);

    struct lb_backend *b;
    HMAP_FOR_EACH (b, node, &sw->backends) {
        b->answered = false;
        b->misses = 0;
    }
    lb_switch_probe(sw);
    sw->next_probe = now + sw->cfg->probe_interval * 1000LL;
}

void
lb_switch_disconnected(struct lb_switch *sw, long long int now OVS_UNUSED)
{
    sw->connected = false;
    sw->ports = NULL;
    sw->ofp.out = NULL;
    lb_resync_abort(sw);
    lb_switch_drop_held(sw);
}

/* The last part of the flow stats the resync asked for has come: the
 * packets that waited for it can be handled now. */
void
lb_switch_flow_stats_reply(struct lb_switch *sw, const struct ofp_header *oh,
                           long long int now, struct ofpbuf *out)
{
    sw->ofp.out = out;
    if (!sw->resyncing
        || !is_valid_message(sw, oh, OFPTYPE_FLOW_STATS_REPLY)) {
        return;
    }
    lb_resync_reply(sw, oh, now);
    if (!sw->resyncing) {
        struct ovs_list held;
        struct ofpbuf *msg;

        ovs_list_move(&held, &sw->held);
        sw->n_held = 0;
        LIST_FOR_EACH_POP (msg, list_node, &held) {
            handle_packet_in(sw, msg->data, now);
            ofpbuf_delete(msg);
        }
    }
}

/* Clients and mappings. */

struct lb_client *
lb_add_client(struct lb_switch *sw, ovs_be32 ip, struct eth_addr mac,
              ofp_port_t port, long long int now)
{
    struct lb_client *client = xzalloc(sizeof *client);

    client->ip = ip;
    client->mac = mac;
    client->port = port;
    client->last_seen = now;
    hmap_insert(&sw->clients, &client->node, lb_hash_ip(ip));
    ovs_list_push_back(&sw->idle_clients, &client->idle_node);
    return client;
}

static void
destroy_client(struct lb_switch *sw, struct lb_client *client)
{
    hmap_remove(&sw->clients, &client->node);
    if (!client->n_mappings) {
        ovs_list_remove(&client->idle_node);
    }
    free(client);
}

struct lb_mapping *
lb_add_mapping(struct lb_switch *sw, struct lb_service *svc,
               struct lb_client *client, struct lb_member *member,
               long long int now)
{
    struct lb_mapping *m = xzalloc(sizeof *m);

    m->service = svc;
    m->client = client;
    m->member = member;
    member->n_clients++;
    hmap_insert(&svc->mappings, &m->node, lb_hash_ip(client->ip));
    if (!client->n_mappings++) {
        ovs_list_remove(&client->idle_node);
    }
    /* A new mapping has no flows yet. */
    m->idle_since = now;
    ovs_list_push_back(&sw->idle_mappings, &m->idle_node);
    return m;
}

/* Forgets 'm'.  Its client goes too if it has no other mapping and has not
 * been heard from for the client timeout ('force' makes it go anyway). */
static void
destroy_mapping(struct lb_switch *sw, struct lb_mapping *m, bool force,
                long long int now)
{
    struct lb_client *client = m->client;

    hmap_remove(&m->service->mappings, &m->node);
    if (!m->flows) {
        ovs_list_remove(&m->idle_node);
    }
    m->member->n_clients--;
    free(m);

    if (!--client->n_mappings) {
        if (force
            || client->last_seen + sw->cfg->client_timeout * 1000LL <= now) {
            hmap_remove(&sw->clients, &client->node);
            free(client);
        } else {
            ovs_list_push_back(&sw->idle_clients, &client->idle_node);
        }
    }
}

/* Frees a client entry for a new client, by the configured overflow
 * policy: the idle client or idle mapping least recently used goes; clients
 * whose flows are in use never do.  Returns false if nothing can go. */
static bool
make_room(struct lb_switch *sw, long long int now)
{
    if (sw->cfg->overflow != LB_OVERFLOW_EVICT) {
        return false;
    }
    if (!ovs_list_is_empty(&sw->idle_clients)) {
        struct lb_client *c = CONTAINER_OF(ovs_list_front(&sw->idle_clients),
                                           struct lb_client, idle_node);
        VLOG_DBG("%s: evicted client "IP_FMT, sw->name, IP_ARGS(c->ip));
        destroy_client(sw, c);
        return true;
    }
    while (!ovs_list_is_empty(&sw->idle_mappings)) {
        struct lb_mapping *m = CONTAINER_OF(
            ovs_list_front(&sw->idle_mappings), struct lb_mapping, idle_node);
        bool last = m->client->n_mappings == 1;

        VLOG_DBG("%s: evicted client "IP_FMT" of server "IP_FMT, sw->name,
                 IP_ARGS(m->client->ip), IP_ARGS(m->member->backend->ip));
        destroy_mapping(sw, m, true, now);
        if (last) {
            return true;
        }
    }
    return false;
}

/* Returns the client with 'ip', learning it as being at 'mac' on 'port' if
 * it is new.  Returns NULL, and warns, if 'ip' is already known elsewhere
 * (a client cannot take over another's address) or there is no room. */
static struct lb_client *
learn_client(struct lb_switch *sw, ovs_be32 ip, struct eth_addr mac,
             ofp_port_t port, long long int now)
{
    struct lb_client *client = lb_find_client(sw, ip);

    if (!client) {
        if (hmap_count(&sw->clients) >= sw->cfg->max_clients
            && !make_room(sw, now)) {
            VLOG_WARN_RL(&bad_rl, "%s: client table full (%"PRIuSIZE
                         " clients), refused new client "IP_FMT, sw->name,
                         hmap_count(&sw->clients), IP_ARGS(ip));
            return NULL;
        }
        client = lb_add_client(sw, ip, mac, port, now);
        VLOG_DBG("%s: client "IP_FMT" is at "ETH_ADDR_FMT" on port %"PRIu16,
                 sw->name, IP_ARGS(ip), ETH_ADDR_ARGS(mac), ofp_to_u16(port));
    } else if (!eth_addr_equals(mac, client->mac) || port != client->port) {
        VLOG_WARN_RL(&bad_rl, "%s: ignored packet from "ETH_ADDR_FMT" on "
                     "port %"PRIu16" claiming client "IP_FMT" (it is "
                     ETH_ADDR_FMT" on port %"PRIu16")", sw->name,
                     ETH_ADDR_ARGS(mac), ofp_to_u16(port), IP_ARGS(ip),
                     ETH_ADDR_ARGS(client->mac), ofp_to_u16(client->port));
        return NULL;
    } else if (!client->n_mappings) {
        /* Keep 'idle_clients' in the order of 'last_seen'. */
        ovs_list_remove(&client->idle_node);
        ovs_list_push_back(&sw->idle_clients, &client->idle_node);
    }
    client->last_seen = now;
    return client;
}

/* Returns true if a decision made at 'now' may be logged. */
static bool
log_decision(struct lb_switch *sw, long long int now)
{
    long long int second = now / 1000;

    if (second != sw->log_second) {
        if (sw->n_unlogged) {
            VLOG_INFO("%s: %u more decisions in %lld s not logged", sw->name,
                      sw->n_unlogged, second - sw->log_second);
        }
        sw->log_second = second;
        sw->n_logged = sw->n_unlogged = 0;
    }
    if (sw->n_logged < LB_DECISIONS_LOGGED) {
        sw->n_logged++;
        return true;
    }
    sw->n_unlogged++;
    return false;
}

/* Says, once, whether 'svc' has a server up. */
static void
service_set_available(struct lb_switch *sw, struct lb_service *svc,
                      bool available)
{
    if (svc->unavailable == !available) {
        return;
    }
    svc->unavailable = !available;
    if (available) {
        VLOG_INFO("%s: service %s has a server up again", sw->name,
                  svc->cfg->name);
    } else {
        VLOG_WARN("%s: service %s has no server up, %s its traffic",
                  sw->name, svc->cfg->name,
                  sw->cfg->no_backend == LB_NO_BACKEND_REJECT
                  ? "rejecting" : "dropping");
    }
}

static struct lb_mapping *
create_mapping(struct lb_switch *sw, struct lb_service *svc,
               struct lb_client *client, long long int now)
{
    size_t n = svc->cfg->n_backends;

    for (size_t i = 0; i < n; i++) {
        const struct lb_member *member = &svc->members[i];
        svc->candidates[i] = (struct lb_candidate) {
            .usable = member->backend->state == LB_BACKEND_UP,
            .weight = 1,
            .n_clients = member->n_clients,
        };
    }
    size_t idx = lb_scheduler_pick(svc->scheduler, svc->candidates, n,
                                   client->ip);
    service_set_available(sw, svc, idx != SIZE_MAX);
    if (idx == SIZE_MAX) {
        return NULL;
    }

    struct lb_mapping *m = lb_add_mapping(sw, svc, client, &svc->members[idx],
                                          now);
    if (log_decision(sw, now)) {
        VLOG_INFO("%s: client "IP_FMT" -> server "IP_FMT" (%s)", sw->name,
                  IP_ARGS(client->ip), IP_ARGS(m->member->backend->ip),
                  svc->cfg->scheduler->description);
    }
    return m;
}

static void
mapping_values(const struct lb_mapping *m, union lb_tmpl_value v[N_MV])
{
    const struct lb_backend *b = m->member->backend;
    const struct lb_client *c = m->client;

    v[MV_CLIENT_PORT].port = c->port;
    v[MV_CLIENT_MAC].mac = c->mac;
    v[MV_CLIENT_IP].ip = c->ip;
    v[MV_SERVER_MAC].mac = b->mac;
    v[MV_SERVER_IP].ip = b->ip;
    v[MV_SERVER_PORT].port = b->port;
}

/* The match of a mapping's flow in direction 'dir'. */
static void
mapping_match(const struct lb_service *svc, const union lb_tmpl_value v[],
              enum lb_flow_dir dir, struct match *match)
{
    match_init_catchall(match);
    match_set_dl_type(match, htons(ETH_TYPE_IP));
    if (dir == LB_C2S) {
        match_set_in_port(match, v[MV_CLIENT_PORT].port);
        match_set_dl_src(match, v[MV_CLIENT_MAC].mac);
        match_set_nw_src(match, v[MV_CLIENT_IP].ip);
        match_set_nw_dst(match, svc->cfg->vip);
    } else {
        match_set_in_port(match, v[MV_SERVER_PORT].port);
        match_set_nw_src(match, v[MV_SERVER_IP].ip);
        match_set_nw_dst(match, v[MV_CLIENT_IP].ip);
    }
}

/* The actions that take a client's packet to its server. */
static void
put_c2s_actions(const struct lb_switch *sw, const union lb_tmpl_value v[],
                struct ofpbuf *ofpacts)
{
    lb_ofp_put_rewrite(ofpacts, sw->cfg->lb_mac, v[MV_SERVER_MAC].mac, 0,
                       v[MV_SERVER_IP].ip);
    lb_ofp_put_output(ofpacts, v[MV_SERVER_PORT].port,
                      v[MV_CLIENT_PORT].port);
}

/* The actions that take a server's packet to its client, from the VIP. */
static void
put_s2c_actions(const struct lb_service *svc, const union lb_tmpl_value v[],
                struct ofpbuf *ofpacts)
{
    lb_ofp_put_rewrite(ofpacts, svc->sw->cfg->lb_mac, v[MV_CLIENT_MAC].mac,
                       svc->cfg->vip, 0);
    lb_ofp_put_output(ofpacts, v[MV_CLIENT_PORT].port,
                      v[MV_SERVER_PORT].port);
}

/* Template encoders for the mapping's messages ('svc_' is its service). */

static void
encode_mapping_flow(const union lb_tmpl_value v[], const struct lb_service *svc,
                    enum lb_flow_dir dir, struct ofpbuf *out)
{
    const struct lb_switch *sw = svc->sw;
    struct lb_ofp ofp = sw->ofp;
    uint64_t stub[128 / 8];
    struct ofpbuf ofpacts;
    struct match match;

    ofp.out = out;
    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    mapping_match(svc, v, dir, &match);
    if (dir == LB_C2S) {
        put_c2s_actions(sw, v, &ofpacts);
    } else {
        put_s2c_actions(svc, v, &ofpacts);
    }
    lb_ofp_flow_add(&ofp, &match, LB_PRIO_CLIENT, sw->cfg->idle_timeout,
                    sw->cfg->hard_timeout, true, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

static void
encode_c2s_flow(const union lb_tmpl_value v[], const void *svc,
                struct ofpbuf *out)
{
    encode_mapping_flow(v, svc, LB_C2S, out);
}

static void
encode_s2c_flow(const union lb_tmpl_value v[], const void *svc,
                struct ofpbuf *out)
{
    encode_mapping_flow(v, svc, LB_S2C, out);
}

/* A packet-out of a client's packet to its server, without the packet. */
static void
encode_c2s_packet_out(const union lb_tmpl_value v[], const void *svc_,
                      struct ofpbuf *out)
{
    const struct lb_service *svc = svc_;
    struct lb_ofp ofp = svc->sw->ofp;
    uint64_t stub[128 / 8];
    struct ofpbuf ofpacts;

    ofp.out = out;
    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    put_c2s_actions(svc->sw, v, &ofpacts);
    lb_ofp_packet_out(&ofp, v[MV_CLIENT_PORT].port, NULL, 0, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

/* Appends one of a mapping's messages from template 't' and returns its
 * offset in 'out'.  OVS encodes an output to the input port (a client and
 * a server behind one port) differently, so that goes the long way. */
static size_t
put_mapping_message(const struct lb_tmpl *t, const union lb_tmpl_value v[],
                    struct ofpbuf *out)
{
    size_t ofs = out->size;

    if (v[MV_CLIENT_PORT].port == v[MV_SERVER_PORT].port) {
        lb_tmpl_encode(t, v, out);
    } else {
        lb_tmpl_put(t, v, out);
    }
    return ofs;
}

/* Sends both of 'm''s flows, unless they were sent a moment ago: packets
 * that were on their way before the flows landed come up too, and need
 * only be forwarded. */
static void
install_mapping(struct lb_switch *sw, struct lb_mapping *m, long long int now)
{
    if (m->flows == LB_FLOWS_BOTH && now - m->installed_at < LB_REINSTALL_MS) {
        return;
    }

    union lb_tmpl_value v[N_MV];
    mapping_values(m, v);
    put_mapping_message(&m->service->c2s_flow, v, sw->ofp.out);
    put_mapping_message(&m->service->s2c_flow, v, sw->ofp.out);

    m->installed_at = now;
    lb_mapping_set_flows(sw, m, LB_FLOWS_BOTH, now);
    VLOG_DBG("%s: installed flows "IP_FMT" <-> "IP_FMT, sw->name,
             IP_ARGS(m->client->ip), IP_ARGS(m->member->backend->ip));
}

/* Deletes 'm''s flows from the switch and forgets 'm'. */
static void
uninstall_mapping(struct lb_switch *sw, struct lb_mapping *m,
                  long long int now)
{
    if (m->flows && sw->connected) {
        union lb_tmpl_value v[N_MV];

        mapping_values(m, v);
        for (int dir = LB_C2S; dir <= LB_S2C; dir++) {
            struct match match;

            mapping_match(m->service, v, dir, &match);
            lb_ofp_flow_delete_strict(&sw->ofp, &match, LB_PRIO_CLIENT);
        }
    }
    destroy_mapping(sw, m, false, now);
}

/* Backends. */

/* Asks every backend who it is, with a flooded ARP request from the LB MAC
 * and the VIP.  Those that were up and did not answer the last probe count
 * a miss. */
static void
lb_switch_probe(struct lb_switch *sw)
{
    struct lb_backend *b;

    HMAP_FOR_EACH (b, node, &sw->backends) {
        lb_ofp_arp(&sw->ofp, ARP_OP_REQUEST, eth_addr_broadcast,
                   sw->cfg->lb_mac, b->probe_spa, eth_addr_zero, b->ip,
                   OFPP_CONTROLLER, OFPP_FLOOD);
        b->answered = false;
    }
}

static void
backend_down(struct lb_switch *sw, struct lb_backend *b, long long int now)
{
    size_t n_moved = 0;

    b->state = LB_BACKEND_DOWN;
    for (size_t i = 0; i < sw->n_services; i++) {
        struct lb_service *svc = &sw->services[i];
        struct lb_mapping *m;

        HMAP_FOR_EACH_SAFE (m, node, &svc->mappings) {
            if (m->member->backend == b) {
                uninstall_mapping(sw, m, now);
                n_moved++;
            }
        }
    }
    VLOG_WARN("%s: server "IP_FMT" is down (%d probes unanswered), "
              "%"PRIuSIZE" client%s will go to other servers", sw->name,
              IP_ARGS(b->ip), b->misses, n_moved, n_moved == 1 ? "" : "s");
}

/* Counts a miss for each backend that was up and did not answer the last
 * probe, and takes down those that have missed too many. */
static void
count_misses(struct lb_switch *sw, long long int now)
{
    struct lb_backend *b;

    HMAP_FOR_EACH (b, node, &sw->backends) {
        if (b->state == LB_BACKEND_UP && !b->answered
            && ++b->misses >= sw->cfg->probe_misses) {
            backend_down(sw, b, now);
        }
    }
}

static void
learn_backend(struct lb_switch *sw, struct lb_backend *b,
              struct eth_addr mac, ofp_port_t port)
{
    if (b->state == LB_BACKEND_UP) {
        if (eth_addr_equals(mac, b->mac) && port == b->port) {
            b->answered = true;
            b->misses = 0;
        } else {
            /* The identity a server answered with stands while it answers:
             * another host claiming its address must not take its traffic.
             * The server may come back as someone else only after it was
             * down. */
            VLOG_WARN_RL(&bad_rl, "%s: ignored ARP reply claiming server "
                         IP_FMT" for "ETH_ADDR_FMT" on port %"PRIu16" (it is "
                         ETH_ADDR_FMT" on port %"PRIu16")", sw->name,
                         IP_ARGS(b->ip), ETH_ADDR_ARGS(mac), ofp_to_u16(port),
                         ETH_ADDR_ARGS(b->mac), ofp_to_u16(b->port));
        }
        return;
    }

    if (b->state == LB_BACKEND_DOWN) {
        VLOG_INFO("%s: server "IP_FMT" is up again, at "ETH_ADDR_FMT
                  " on port %"PRIu16, sw->name, IP_ARGS(b->ip),
                  ETH_ADDR_ARGS(mac), ofp_to_u16(port));
    } else {
        VLOG_INFO("%s: server "IP_FMT" is at "ETH_ADDR_FMT" on port %"PRIu16,
                  sw->name, IP_ARGS(b->ip), ETH_ADDR_ARGS(mac),
                  ofp_to_u16(port));
    }
    b->state = LB_BACKEND_UP;
    b->mac = mac;
    b->port = port;
    b->answered = true;
    b->misses = 0;
}

/* Forwarding. */

/* Lets the switch handle a packet the balancer has no business with as it
 * would any other: forwarded normally, or dropped. */
static void
pass_packet(struct lb_switch *sw, ofp_port_t in_port, const void *packet,
            size_t size)
{
    if (sw->cfg->fallback == LB_FALLBACK_NORMAL) {
        uint64_t stub[64 / 8];
        struct ofpbuf ofpacts;

        ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_NORMAL;
        lb_ofp_packet_out(&sw->ofp, in_port, packet, size, &ofpacts);
        ofpbuf_uninit(&ofpacts);
    }
}

/* The template encoder of an ARP reply ('sw_' is the switch): that the
 * port's host at the MAC and AV_TPA is told AV_SPA is at the LB MAC. */
static void
encode_arp_reply(const union lb_tmpl_value v[], const void *sw_,
                 struct ofpbuf *out)
{
    const struct lb_switch *sw = sw_;
    struct lb_ofp ofp = sw->ofp;

    ofp.out = out;
    lb_ofp_arp(&ofp, ARP_OP_REPLY, v[AV_MAC].mac, sw->cfg->lb_mac,
               v[AV_SPA].ip, v[AV_MAC].mac, v[AV_TPA].ip, v[AV_PORT].port,
               v[AV_PORT].port);
}

static void
reply_arp(struct lb_switch *sw, const struct lb_packet *pkt,
          ofp_port_t in_port)
{
    union lb_tmpl_value v[N_AV];

    v[AV_PORT].port = in_port;
    v[AV_MAC].mac = pkt->arp_sha;
    v[AV_SPA].ip = pkt->arp_tpa;
    v[AV_TPA].ip = pkt->arp_spa;
    lb_tmpl_put(&sw->arp_reply, v, sw->ofp.out);
    VLOG_DBG("%s: told "IP_FMT" on port %"PRIu16" that "IP_FMT" is at "
             ETH_ADDR_FMT, sw->name, IP_ARGS(pkt->arp_spa),
             ofp_to_u16(in_port), IP_ARGS(pkt->arp_tpa),
             ETH_ADDR_ARGS(sw->cfg->lb_mac));
}

/* Is 'pkt' an answer to one of the balancer's probes of 'b'? */
static bool
is_probe_reply(const struct lb_switch *sw, const struct lb_backend *b,
               const struct lb_packet *pkt)
{
    return (pkt->arp_op == ARP_OP_REPLY
            && pkt->arp_tpa == b->probe_spa
            && eth_addr_equals(pkt->arp_tha, sw->cfg->lb_mac)
            && eth_addr_equals(pkt->eth_dst, sw->cfg->lb_mac));
}

static void
handle_arp(struct lb_switch *sw, const struct lb_packet *pkt,
           ofp_port_t in_port, const void *packet, size_t size,
           long long int now)
{
    struct lb_backend *backend = lb_find_backend(sw, pkt->arp_spa);
    struct lb_service *svc = lb_find_service(sw, pkt->arp_tpa);

    if (lb_find_service(sw, pkt->arp_spa)) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped ARP from "ETH_ADDR_FMT" on port "
                     "%"PRIu16" claiming the VIP "IP_FMT, sw->name,
                     ETH_ADDR_ARGS(pkt->arp_sha), ofp_to_u16(in_port),
                     IP_ARGS(pkt->arp_spa));
        return;
    }
    if (!eth_addr_equals(pkt->arp_sha, pkt->eth_src)) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped ARP on port %"PRIu16" whose "
                     "sender "ETH_ADDR_FMT" is not its source "ETH_ADDR_FMT,
                     sw->name, ofp_to_u16(in_port),
                     ETH_ADDR_ARGS(pkt->arp_sha), ETH_ADDR_ARGS(pkt->eth_src));
        return;
    }
    if (backend && backend->state == LB_BACKEND_UP
        && (!eth_addr_equals(pkt->arp_sha, backend->mac)
            || in_port != backend->port)
        && !is_probe_reply(sw, backend, pkt)) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped ARP from "ETH_ADDR_FMT" on port "
                     "%"PRIu16" claiming server "IP_FMT, sw->name,
                     ETH_ADDR_ARGS(pkt->arp_sha), ofp_to_u16(in_port),
                     IP_ARGS(pkt->arp_spa));
        return;
    }

    if (pkt->arp_op == ARP_OP_REPLY) {
        if (backend && is_probe_reply(sw, backend, pkt)) {
            learn_backend(sw, backend, pkt->arp_sha, in_port);
        } else {
            pass_packet(sw, in_port, packet, size);
        }
    } else if (svc) {
        /* Someone asks for the VIP: the balancer answers for it.  Backends
         * and address probes (sender 0.0.0.0) are answered too, but are not
         * clients. */
        if (!backend && pkt->arp_spa != htonl(0)) {
            if (!learn_client(sw, pkt->arp_spa, pkt->arp_sha, in_port,
                              now)) {
                return;
            }
        }
        reply_arp(sw, pkt, in_port);
    } else if (backend && pkt->arp_spa != pkt->arp_tpa
               && lb_find_client(sw, pkt->arp_tpa)) {
        /* A server looks for a client: its replies must come through the
         * balancer, so the balancer answers for the client. */
        reply_arp(sw, pkt, in_port);
    } else {
        pass_packet(sw, in_port, packet, size);
    }
}

/* Answers a packet to a VIP that has no server up with ICMP host
 * unreachable, from the VIP, at most LB_MAX_REJECTS times a second. */
static void
reject(struct lb_switch *sw, struct lb_service *svc,
       const struct lb_packet *pkt, ofp_port_t in_port, const void *packet,
       size_t size, long long int now)
{
    if (now / 1000 != svc->reject_second) {
        svc->reject_second = now / 1000;
        svc->n_rejects = 0;
    }
    if (svc->n_rejects++ < LB_MAX_REJECTS && !pkt->ip_is_fragment) {
        lb_ofp_icmp_unreachable(&sw->ofp, sw->cfg->lb_mac, pkt->eth_src,
                                svc->cfg->vip, pkt->ip_src,
                                (const uint8_t *) packet + ETH_HEADER_LEN,
                                size - ETH_HEADER_LEN, in_port);
    }
}

/* A client's packet to a VIP. */
static void
balance(struct lb_switch *sw, struct lb_service *svc,
        const struct lb_packet *pkt, ofp_port_t in_port, const void *packet,
        size_t size, long long int now)
{
    struct lb_client *client = learn_client(sw, pkt->ip_src, pkt->eth_src,
                                            in_port, now);
    if (!client) {
        return;
    }

    struct lb_mapping *m = lb_find_mapping(svc, client->ip);
    if (!m) {
        m = create_mapping(sw, svc, client, now);
        if (!m) {
            if (sw->cfg->no_backend == LB_NO_BACKEND_REJECT) {
                reject(sw, svc, pkt, in_port, packet, size, now);
            }
            return;
        }
    }
    install_mapping(sw, m, now);

    /* Send the packet on, so that nothing is lost while the flows land: the
     * packet-out without a packet, then the packet. */
    union lb_tmpl_value v[N_MV];
    struct ofpbuf *out = sw->ofp.out;

    mapping_values(m, v);
    size_t ofs = put_mapping_message(&svc->c2s_packet_out, v, out);
    ofpbuf_put(out, packet, size);
    lb_ofp_end_message(out, ofs);
}

/* A backend's packet that no client flow took: if it is for a client of
 * that backend, the server-to-client flow is missing; otherwise it is the
 * server's own traffic. */
static void
handle_backend_packet(struct lb_switch *sw, struct lb_backend *backend,
                      const struct lb_packet *pkt, ofp_port_t in_port,
                      const void *packet, size_t size, long long int now)
{
    struct lb_client *client = lb_find_client(sw, pkt->ip_dst);
    uint64_t stub[128 / 8];
    struct ofpbuf ofpacts;

    if (backend->state == LB_BACKEND_UP
        && (in_port != backend->port
            || !eth_addr_equals(pkt->eth_src, backend->mac))) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped packet from "ETH_ADDR_FMT" on "
                     "port %"PRIu16" claiming server "IP_FMT, sw->name,
                     ETH_ADDR_ARGS(pkt->eth_src), ofp_to_u16(in_port),
                     IP_ARGS(backend->ip));
        return;
    }

    if (client && backend->state == LB_BACKEND_UP) {
        for (size_t i = 0; i < sw->n_services; i++) {
            struct lb_mapping *m = lb_find_mapping(&sw->services[i],
                                                   client->ip);

            if (m && m->member->backend == backend) {
                union lb_tmpl_value v[N_MV];

                install_mapping(sw, m, now);
                mapping_values(m, v);
                ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
                put_s2c_actions(m->service, v, &ofpacts);
                lb_ofp_packet_out(&sw->ofp, in_port, packet, size, &ofpacts);
                ofpbuf_uninit(&ofpacts);
                return;
            }
        }
    }

    if (sw->cfg->fallback == LB_FALLBACK_DROP) {
        return;
    }

    /* The server talks to a host of its own.  If that host is a client, the
     * server knows it by the LB MAC (the balancer answered its ARP), so the
     * frame is relayed to the client's real MAC; otherwise it is forwarded
     * normally.  Either way a flow spares the controller the rest. */
    struct match match;
    match_init_catchall(&match);
    match_set_in_port(&match, in_port);
    match_set_dl_type(&match, htons(ETH_TYPE_IP));
    match_set_nw_src(&match, pkt->ip_src);
    match_set_nw_dst(&match, pkt->ip_dst);

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    if (client) {
        lb_ofp_put_rewrite(&ofpacts, sw->cfg->lb_mac, client->mac, 0, 0);
        lb_ofp_put_output(&ofpacts, client->port, in_port);
    } else {
        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_NORMAL;
    }
    lb_ofp_flow_add(&sw->ofp, &match, LB_PRIO_PASS, sw->cfg->idle_timeout,
                    0, false, &ofpacts);
    lb_ofp_packet_out(&sw->ofp, in_port, packet, size, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

static void
handle_ipv4(struct lb_switch *sw, const struct lb_packet *pkt,
            ofp_port_t in_port, const void *packet, size_t size,
            long long int now)
{
    struct lb_service *svc = lb_find_service(sw, pkt->ip_dst);
    struct lb_backend *backend = lb_find_backend(sw, pkt->ip_src);

    if (svc) {
        ovs_be32 src = pkt->ip_src;
        if (backend) {
            VLOG_WARN_RL(&bad_rl, "%s: dropped packet from server "IP_FMT
                         " to the VIP "IP_FMT" (servers are not balanced)",
                         sw->name, IP_ARGS(src), IP_ARGS(pkt->ip_dst));
        } else if (!src || ip_is_multicast(src) || src == OVS_BE32_MAX
                   || lb_find_service(sw, src)) {
            VLOG_WARN_RL(&bad_rl, "%s: dropped packet to the VIP from "
                         "invalid source "IP_FMT, sw->name, IP_ARGS(src));
        } else {
            balance(sw, svc, pkt, in_port, packet, size, now);
        }
    } else if (backend) {
        handle_backend_packet(sw, backend, pkt, in_port, packet, size, now);
    } else {
        pass_packet(sw, in_port, packet, size);
    }
}

/* OVS's decoders assert that a message is of the type they decode, so a
 * message that claims to be one is checked before it is decoded. */
static bool
is_valid_message(const struct lb_switch *sw, const struct ofp_header *oh,
                 enum ofptype expected)
{
    enum ofptype type;
    enum ofperr error = ofptype_decode(&type, oh);

    if (error || type != expected) {
        VLOG_WARN_RL(&bad_rl, "%s: malformed %s (%s)", sw->name,
                     ofptype_get_name(expected),
                     error ? ofperr_to_string(error) : "another type");
        return false;
    }
    return true;
}

static void
handle_packet_in(struct lb_switch *sw, const struct ofp_header *oh,
                 long long int now)
{
    struct lb_packet_in pi;
    enum ofperr error = lb_ofp_decode_packet_in(oh, &pi);

    if (error) {
        VLOG_WARN_RL(&bad_rl, "%s: undecodable packet-in (%s)", sw->name,
                     ofperr_to_string(error));
        return;
    }

    ofp_port_t in_port = pi.in_port;
    if (!sw->ports
        || !hmapx_contains(sw->ports, (void *) (uintptr_t) in_port)) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped packet from port %"PRIu16
                     ", which the switch has not reported", sw->name,
                     ofp_to_u16(in_port));
        return;
    }
    if (pi.packet_len < pi.total_len) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped packet from port %"PRIu16
                     " that the switch truncated to %"PRIuSIZE" of %"PRIuSIZE
                     " bytes", sw->name, ofp_to_u16(in_port), pi.packet_len,
                     pi.total_len);
        return;
    }

    struct lb_packet pkt;
    lb_packet_parse(pi.packet, pi.packet_len, &pkt);
    if (pkt.kind == LB_PACKET_BAD) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped malformed packet from port "
                     "%"PRIu16": %s", sw->name, ofp_to_u16(in_port),
                     pkt.error);
        return;
    } else if (pkt.kind == LB_PACKET_OTHER) {
        VLOG_DBG_RL(&dbg_rl, "%s: ignored packet with ethertype 0x%04"PRIx16
                    " from port %"PRIu16, sw->name, pkt.eth_type,
                    ofp_to_u16(in_port));
        return;
    } else if (eth_addr_is_multicast(pkt.eth_src)) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped packet from port %"PRIu16" with "
                     "multicast source "ETH_ADDR_FMT, sw->name,
                     ofp_to_u16(in_port), ETH_ADDR_ARGS(pkt.eth_src));
        return;
    }

    if (pkt.kind == LB_PACKET_ARP) {
        handle_arp(sw, &pkt, in_port, pi.packet, pi.packet_len, now);
    } else {
        handle_ipv4(sw, &pkt, in_port, pi.packet, pi.packet_len, now);
    }
}

void
lb_switch_packet_in(struct lb_switch *sw, const struct ofp_header *oh,
                    long long int now, struct ofpbuf *out)
{
    sw->ofp.out = out;
    if (!sw->resyncing) {
        handle_packet_in(sw, oh, now);
    } else if (sw->n_held < LB_MAX_HELD) {
        struct ofpbuf *copy = ofpbuf_clone_data(oh, ntohs(oh->length));
        ovs_list_push_back(&sw->held, &copy->list_node);
        sw->n_held++;
    } else {
        VLOG_WARN_RL(&bad_rl, "%s: dropped packet-in while reading back "
                     "flows (%d already waiting)", sw->name, LB_MAX_HELD);
    }
}

/* The switch removed one of a mapping's flows: idle or hard timeout, or
 * deleted. */
void
lb_switch_flow_removed(struct lb_switch *sw, const struct ofp_header *oh,
                       long long int now)
{
    struct ofputil_flow_removed fr;

    if (!is_valid_message(sw, oh, OFPTYPE_FLOW_REMOVED)) {
        return;
    }
    enum ofperr error = ofputil_decode_flow_removed(&fr, oh);
    if (error) {
        VLOG_WARN_RL(&bad_rl, "%s: undecodable flow removed message (%s)",
                     sw->name, ofperr_to_string(error));
        return;
    }
    if (fr.cookie != sw->ofp.cookie || fr.priority != LB_PRIO_CLIENT) {
        return;
    }

    ovs_be32 src = fr.match.flow.nw_src;
    ovs_be32 dst = fr.match.flow.nw_dst;
    struct lb_mapping *m = NULL;
    enum lb_flow_dir dir;

    struct lb_service *svc = lb_find_service(sw, dst);
    if (svc) {
        m = lb_find_mapping(svc, src);
        dir = LB_C2S;
    } else {
        for (size_t i = 0; i < sw->n_services && !m; i++) {
            m = lb_find_mapping(&sw->services[i], dst);
            if (m && m->member->backend->ip != src) {
                m = NULL;
            }
        }
        dir = LB_S2C;
    }
    if (!m) {
        return;
    }
    m->seen &= ~LB_FLOW_BIT(dir);
    if (!(m->flows & LB_FLOW_BIT(dir))) {
        return;
    }

    /* A flow older than the last installation is one that expired just
     * before its replacement landed: the replacement is still there. */
    long long int age = fr.duration_sec == UINT32_MAX
                        ? 0 : fr.duration_sec * 1000LL
                              + fr.duration_nsec / 1000000;
    if (now - age + 50 < m->installed_at) {
        return;
    }

    lb_mapping_set_flows(sw, m, m->flows & ~LB_FLOW_BIT(dir), now);
    VLOG_DBG("%s: switch removed flow "IP_FMT" -> "IP_FMT" (reason %d)",
             sw->name, IP_ARGS(src), IP_ARGS(dst), fr.reason);
}

/* Timers. */

void
lb_switch_run(struct lb_switch *sw, long long int now, struct ofpbuf *out)
{
    sw->ofp.out = out;
    if (sw->connected && now >= sw->next_probe) {
        count_misses(sw, now);
        lb_switch_probe(sw);
        sw->next_probe = now + sw->cfg->probe_interval * 1000LL;
    }

    long long int timeout = sw->cfg->client_timeout * 1000LL;
    struct lb_mapping *m;
    LIST_FOR_EACH_SAFE (m, idle_node, &sw->idle_mappings) {
        if (m->idle_since > now - timeout) {
            break;
        }
        if (log_decision(sw, now)) {
            VLOG_INFO("%s: forgot that client "IP_FMT" is on server "IP_FMT
                      " (no flows for %d s)", sw->name,
                      IP_ARGS(m->client->ip),
                      IP_ARGS(m->member->backend->ip),
                      sw->cfg->client_timeout);
        }
        destroy_mapping(sw, m, false, now);
    }

    struct lb_client *client;
    LIST_FOR_EACH_SAFE (client, idle_node, &sw->idle_clients) {
        if (client->last_seen > now - timeout) {
            break;
        }
        VLOG_DBG("%s: forgot client "IP_FMT, sw->name, IP_ARGS(client->ip));
        destroy_client(sw, client);
    }
}

/* Returns the time at which lb_switch_run() next has something to do. */
long long int
lb_switch_next_timer(const struct lb_switch *sw)
{
    long long int timeout = sw->cfg->client_timeout * 1000LL;
    long long int next = sw->connected ? sw->next_probe : LLONG_MAX;

    if (!ovs_list_is_empty(&sw->idle_mappings)) {
        const struct lb_mapping *m = CONTAINER_OF(
            ovs_list_front(&sw->idle_mappings), struct lb_mapping, idle_node);
        next = MIN(next, m->idle_since + timeout);
    }
    if (!ovs_list_is_empty(&sw->idle_clients)) {
        const struct lb_client *c = CONTAINER_OF(
            ovs_list_front(&sw->idle_clients), struct lb_client, idle_node);
        next = MIN(next, c->last_seen + timeout);
    }
    return next;
}

/* lb/show. */

static int
compare_clients(const void *a_, const void *b_)
{
    const struct lb_client *const *a = a_;
    const struct lb_client *const *b = b_;
    uint32_t a_ip = ntohl((*a)->ip), b_ip = ntohl((*b)->ip);

    return a_ip < b_ip ? -1 : a_ip > b_ip;
}

static const char *
backend_state_name(enum lb_backend_state state)
{
    return (state == LB_BACKEND_UP ? "up"
            : state == LB_BACKEND_DOWN ? "down"
            : "unknown");
}

static void
format_service(const struct lb_switch *sw, const struct lb_service *svc,
               const struct lb_client **clients, size_t n_clients,
               struct ds *s)
{
    ds_put_format(s, "  service %s: VIP "IP_FMT", LB MAC "ETH_ADDR_FMT", %s%s\n",
                  svc->cfg->name, IP_ARGS(svc->cfg->vip),
                  ETH_ADDR_ARGS(sw->cfg->lb_mac), svc->cfg->scheduler->name,
                  svc->unavailable ? ", no server up" : "");

    for (size_t i = 0; i < svc->cfg->n_backends; i++) {
        const struct lb_member *member = &svc->members[i];
        const struct lb_backend *b = member->backend;

        ds_put_format(s, "    server "IP_FMT": ", IP_ARGS(b->ip));
        if (b->state != LB_BACKEND_UNKNOWN) {
            ds_put_format(s, ETH_ADDR_FMT" port %"PRIu16", ",
                          ETH_ADDR_ARGS(b->mac), ofp_to_u16(b->port));
        }
        ds_put_format(s, "%s, %"PRIuSIZE" client%s\n",
                      backend_state_name(b->state), member->n_clients,
                      member->n_clients == 1 ? "" : "s");
    }

    for (size_t i = 0; i < n_clients; i++) {
        const struct lb_client *c = clients[i];
        const struct lb_mapping *m = lb_find_mapping(svc, c->ip);

        ds_put_format(s, "    client "IP_FMT": "ETH_ADDR_FMT" port %"PRIu16,
                      IP_ARGS(c->ip), ETH_ADDR_ARGS(c->mac),
                      ofp_to_u16(c->port));
        if (m) {
            ds_put_format(s, ", server "IP_FMT"%s\n",
                          IP_ARGS(m->member->backend->ip),
                          m->flows ? "" : " (idle)");
        } else {
            ds_put_cstr(s, ", no server\n");
        }
    }
}

/* Appends to 's' the balancer's state on this switch: each service with its
 * servers and clients. */
void
lb_switch_format(const struct lb_switch *sw, struct ds *s)
{
    size_t n = hmap_count(&sw->clients);
    const struct lb_client **clients = xmalloc(n * sizeof *clients);
    const struct lb_client *c;
    size_t i = 0;

    HMAP_FOR_EACH (c, node, &sw->clients) {
        clients[i++] = c;
    }
    qsort(clients, n, sizeof *clients, compare_clients);

    for (i = 0; i < sw->n_services; i++) {
        format_service(sw, &sw->services[i], clients, n, s);
    }
    free(clients);
}

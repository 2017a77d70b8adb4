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
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "lib/lb-ports.h"
#include "lib/lb-config.h"
#include "lib/lb-flows.h"
#include "lib/lb-ofp.h"
#include "lib/lb-packet.h"
#include "lib/lb-repair.h"
#include "lib/lb-resync.h"
#include "lib/lb-service.h"
#include "lib/lb-stateful.h"
#include "lib/lb-sessions.h"
#include "lib/lb-template.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-monitor.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_switch);

/* Bad input can come at any rate, so its warnings are rate limited. */
static struct vlog_rate_limit bad_rl = VLOG_RATE_LIMIT_INIT(5, 20);
static struct vlog_rate_limit dbg_rl = VLOG_RATE_LIMIT_INIT(60, 600);

/* One line per decision, but a flood of new clients must not become a
 * flood of log lines: past LB_DECISIONS_LOGGED in a second, in all switches
 * together, decisions are counted and the count is logged.  (A budget per
 * switch let 64 switches log 6,400 lines at the start of every second, a
 * stall of 100 ms where syslog has no /dev/log to go to.  OVS's rate
 * limiter takes a lock, too dear to ask for every new client.) */
#define LB_DECISIONS_LOGGED 100
static long long int decisions_second;
static unsigned int decisions_logged, decisions_unlogged;

/* A flow the switch removed within this long after the balancer last sent
 * its replacement is the old one: the replacement is in place. */
#define LB_REINSTALL_MS 1000

/* Work that grows with the tables (expiry, the sessions of a backend that
 * went down, the end of reading flows back) is done in slices of at most
 * this many sessions per run of the main loop, so that switches and
 * commands are served in between, whatever the size of the tables. */
#define LB_SLICE 250

/* How long a client's known owner has to answer before its address goes
 * to a host that claims it, and how many claims may wait at once. */
#define LB_CLAIM_MS 1000
#define LB_MAX_CLAIMS 256

/* Most bytes of packet-ins held while the balancer reads back its flows.
 * A switch that kept a million clients' flows takes seconds to tell them,
 * and new clients' first packets wait meanwhile: at 10,000 new clients a
 * second, tens of thousands of packet-ins of about 100 bytes. */
#define LB_MAX_HELD_BYTES (8 * 1024 * 1024)

/* Most held packet-ins handled in a turn of the main loop once they may
 * be: more than a turn reads (four reads of 64 kB), so that the backlog
 * shrinks, and few enough not to stall the rest for long. */
#define LB_HELD_SLICE 4096

/* Most ICMP messages (rejects, ping answers) a service or VIP sends per
 * second. */
#define LB_MAX_ICMP 100

struct lb_switch {
    const struct lb_config *cfg;
    uint64_t dpid;
    char name[17];              /* 'dpid' in hex, for logging. */

    bool connected;
    struct lb_ofp ofp;          /* How to talk to the switch. */
    struct ofpbuf scratch;      /* Where messages go while disconnected. */
    const struct lb_ports *ports; /* The switch's, while connected. */

    struct lb_services services;
    struct lb_sessions sessions;
    struct lb_flow_set base;    /* The base flows it should have. */

    long long int next_probe;   /* When to probe the backends next. */

    struct lb_tmpl arp_reply;   /* The LB's answer to ARP. */

    /* While the balancer reads back its flows after connecting, packet-ins
     * wait here (up to a bound) for the tables to be right. */
    struct lb_resync resync;
    struct ovs_list held;       /* Copies of held packet-ins... */
    size_t n_held;              /* ...how many... */
    size_t held_bytes;          /* ...and their bytes. */

    struct lb_repair repair;    /* Keeping the switch's flows as wanted. */
    struct lb_stats_poll stats; /* Reading its flows' counters. */

    /* Some backend that went down may still have sessions to uninstall. */
    bool draining;

    /* ICMP errors translated in 'icmp_error_second'. */
    long long int icmp_error_second;
    unsigned int n_icmp_errors;

    struct lb_tmpl client_arp;  /* A client's ARP guard. */

    /* A new client learned from its ARP request for a VIP: its ARP guard
     * and the reply go out together, from one template.  While such a
     * client is learned, 'guard_with_reply' is set and client_changed()
     * leaves the guard to the reply, saying so in 'guard_held'. */
    struct lb_tmpl client_arp_reply;
    bool guard_with_reply;
    bool guard_held;

    /* Other hosts' claims to known clients' addresses, while the known
     * owner is asked whether it is still there. */
    struct hmap claims;         /* "struct claim"s, by IP. */

    /* The stateful datapath (cfg->datapath). */
    struct lb_stateful stateful;    /* What the switch should hold. */
    bool refused;               /* The switch cannot do it. */
    bool adopting;              /* Reading back what the switch holds. */
    bool auditing;              /* ...to restore what others changed. */
    long long int next_audit;
    ovs_be32 adopt_xid;
    struct lb_flow_set found;   /* What it holds, so far. */
    bool stateful_dirty;        /* Something happened: check the flows. */
};

/* Another host claims a client's address; if the client does not answer
 * the balancer's ARP by 'deadline', the address moves to the claimant. */
struct claim {
    struct hmap_node node;      /* In lb_switch's 'claims'. */
    ovs_be32 ip;
    struct eth_addr mac;        /* The claimant. */
    ofp_port_t ofport;
    long long int deadline;
};

/* An ARP reply from the LB MAC, described by its varying fields. */
enum { AV_PORT, AV_MAC, AV_SPA, AV_TPA, N_AV };
static const enum lb_tmpl_kind arp_reply_kinds[N_AV] = {
    LB_TMPL_PORT, LB_TMPL_MAC, LB_TMPL_IP, LB_TMPL_IP,
};

static void handle_packet_in(struct lb_switch *, const struct ofp_header *,
                             long long int now);
static bool is_valid_message(const struct lb_switch *,
                             const struct ofp_header *, enum ofptype);
static void uninstall_session(struct lb_switch *, struct lb_session *,
                              long long int now);
static void build_templates(struct lb_switch *);
static void drain_backends(struct lb_switch *, long long int now);
static void destroy_templates(struct lb_switch *);

static bool
is_stateful(const struct lb_switch *sw)
{
    return sw->cfg->datapath == LB_DATAPATH_STATEFUL;
}

/* Makes messages composed from here on go where they belong: to the
 * switch, or nowhere while it is disconnected. */
static void
prepare_output(struct lb_switch *sw)
{
    if (!sw->connected) {
        ofpbuf_clear(&sw->scratch);
    }
}

static void
add_service(struct lb_switch *sw, const struct lb_service_config *cfg)
{
    struct lb_service *svc = lb_services_add(&sw->services, cfg);

    if (sw->connected) {
        lb_binding_tmpl_init(&svc->tmpl, &sw->ofp, sw->cfg, &svc->cfg);
    }
}

/* Deletes 'svc''s sessions (and their flows) and forgets it. */
static void
remove_service(struct lb_switch *sw, struct lb_service *svc,
               long long int now)
{
    for (size_t i = 0; i < svc->n_members; i++) {
        struct lb_session *session;

        LIST_FOR_EACH_SAFE (session, member_node,
                            &svc->members[i]->sessions) {
            uninstall_session(sw, session, now);
        }
    }
    lb_binding_tmpl_destroy(&svc->tmpl);
    lb_services_remove(&sw->services, svc);
}

/* The template encoder of a client's ARP guard ('sw_' is the switch). */
static void
encode_client_arp(const union lb_tmpl_value v[], const void *sw_,
                  struct ofpbuf *out)
{
    const struct lb_switch *sw = sw_;
    struct lb_ofp ofp = sw->ofp;

    ofp.out = out;
    lb_client_arp_install(&ofp, v[0].ip);
}

/* A client was added or forgotten: so is its ARP guard. */
static void
client_changed(void *sw_, struct lb_client *client, bool added)
{
    struct lb_switch *sw = sw_;

    if (!sw->connected) {
        return;
    } else if (added && lb_resync_holds_packets(&sw->resync)) {
        /* A client taken in from the flows the switch kept: its guard is
         * among them, or the walk that follows sends it. */
    } else if (added) {
        if (sw->guard_with_reply) {
            sw->guard_held = true;
        } else {
            union lb_tmpl_value v = { .ip = client->ip };
            lb_tmpl_put(&sw->client_arp, &v, sw->ofp.out);
        }
        /* A read-back going on need not send it again. */
        lb_resync_guard_sent(&sw->resync, client);
    } else {
        lb_client_arp_delete(&sw->ofp, client->ip);
    }
}

struct lb_switch *
lb_switch_create(const struct lb_config *cfg, uint64_t dpid,
                 long long int now)
{
    struct lb_switch *sw = xzalloc(sizeof *sw);

    sw->dpid = dpid;
    snprintf(sw->name, sizeof sw->name, "%016"PRIx64, dpid);
    ofpbuf_init(&sw->scratch, 0);
    sw->ofp.out = &sw->scratch;
    lb_services_init(&sw->services);
    lb_sessions_init(&sw->sessions, cfg->max_clients,
                     cfg->overflow == LB_OVERFLOW_EVICT, cfg->client_timeout);
    sw->sessions.client_hook = client_changed;
    sw->sessions.hook_aux = sw;
    hmap_init(&sw->claims);
    lb_flow_set_init(&sw->base);
    lb_resync_init(&sw->resync);
    ovs_list_init(&sw->held);
    lb_repair_init(&sw->repair);
    lb_stateful_init(&sw->stateful);
    lb_flow_set_init(&sw->found);
    lb_switch_reconfigure(sw, cfg, now);
    return sw;
}

static void
drop_held(struct lb_switch *sw)
{
    struct ofpbuf *msg;

    LIST_FOR_EACH_POP (msg, list_node, &sw->held) {
        ofpbuf_delete(msg);
    }
    sw->n_held = sw->held_bytes = 0;
}

void
lb_switch_destroy(struct lb_switch *sw)
{
    if (!sw) {
        return;
    }
    destroy_templates(sw);
    lb_sessions_destroy(&sw->sessions);
    lb_services_destroy(&sw->services);
    lb_flow_set_destroy(&sw->base);
    lb_resync_destroy(&sw->resync);
    lb_repair_destroy(&sw->repair);
    lb_stateful_destroy(&sw->stateful);
    lb_flow_set_destroy(&sw->found);
    drop_held(sw);
    struct claim *claim;
    HMAP_FOR_EACH_POP (claim, node, &sw->claims) {
        free(claim);
    }
    hmap_destroy(&sw->claims);
    ofpbuf_uninit(&sw->scratch);
    free(sw);
}

/* Makes 'sw' follow 'cfg', which the caller keeps until the next call (or
 * the switch's destruction).  What does not change is not touched: a
 * service whose backends change keeps the sessions of the backends that
 * stay. */
/* Draining members of 'svc' keep only the sessions that have flows. */
static void
drain_idle_sessions(struct lb_switch *sw, struct lb_service *svc,
                    long long int now)
{
    for (size_t i = 0; i < svc->n_members; i++) {
        struct lb_member *m = svc->members[i];

        if (m->draining) {
            struct lb_session *session;
            LIST_FOR_EACH_SAFE (session, member_node, &m->sessions) {
                if (!session->flows) {
                    lb_sessions_remove(&sw->sessions, session, now);
                }
            }
        }
    }
}

void
lb_switch_reconfigure(struct lb_switch *sw, const struct lb_config *cfg,
                      long long int now)
{
    const struct lb_config *old = sw->cfg;

    prepare_output(sw);
    sw->cfg = cfg;
    sw->ofp.cookie = htonll(cfg->cookie);

    struct shash by_name = SHASH_INITIALIZER(&by_name);
    for (size_t i = 0; i < cfg->n_services; i++) {
        shash_add_once(&by_name, cfg->services[i].name, &cfg->services[i]);
    }

    /* Services that went or changed beyond repair go first, so that the
     * new ones find their VIPs and backends free. */
    struct lb_service *svc;
    HMAP_FOR_EACH_SAFE (svc, name_node, &sw->services.by_name) {
        const struct lb_service_config *sc = shash_find_data(&by_name,
                                                             svc->cfg.name);
        if (!sc || !lb_services_can_update(svc, sc)) {
            remove_service(sw, svc, now);
        } else if (!lb_service_config_equal(&svc->cfg, sc)) {
            /* The sessions of members that go, go with them. */
            for (size_t i = 0; i < svc->n_members; i++) {
                struct lb_member *m = svc->members[i];
                bool stays = false;

                for (size_t j = 0; j < sc->n_backends && !stays; j++) {
                    stays = (sc->backends[j].ip == m->backend->ip
                             && sc->backends[j].port == m->port);
                }
                if (!stays) {
                    struct lb_session *session;
                    LIST_FOR_EACH_SAFE (session, member_node, &m->sessions) {
                        uninstall_session(sw, session, now);
                    }
                }
            }
            lb_services_update(&sw->services, svc, sc);
            drain_idle_sessions(sw, svc, now);
        }
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (!lb_services_find_name(&sw->services, cfg->services[i].name)) {
            add_service(sw, &cfg->services[i]);
        }
    }
    shash_destroy(&by_name);

    lb_sessions_set_limits(&sw->sessions, cfg->max_clients,
                           cfg->overflow == LB_OVERFLOW_EVICT,
                           cfg->client_timeout);

    struct lb_flow_set base;
    lb_flow_set_init(&base);
    lb_flows_build_base(cfg, &base);
    if (sw->connected) {
        lb_flows_update_base(&sw->ofp, &sw->base, &base);
        if (!old || !eth_addr_equals(old->lb_mac, cfg->lb_mac)
            || old->idle_timeout != cfg->idle_timeout
            || old->hard_timeout != cfg->hard_timeout) {
            build_templates(sw);
        }
        sw->next_probe = MIN(sw->next_probe,
                             now + cfg->probe_interval * 1000LL);
    }
    lb_flow_set_destroy(&sw->base);
    sw->base = base;

    /* The stateful datapath's flows are rebuilt in the next run. */
    sw->stateful.built = false;
    sw->stateful_dirty = is_stateful(sw);
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
    return lb_sessions_count_clients(&sw->sessions);
}

/* Connection. */

static void
encode_arp_reply(const union lb_tmpl_value v[], const void *sw_,
                 struct ofpbuf *out);
static void
encode_client_arp_reply(const union lb_tmpl_value v[], const void *sw_,
                        struct ofpbuf *out);

static void
destroy_templates(struct lb_switch *sw)
{
    struct lb_service *svc;

    HMAP_FOR_EACH (svc, name_node, &sw->services.by_name) {
        lb_binding_tmpl_destroy(&svc->tmpl);
    }
    lb_tmpl_destroy(&sw->arp_reply);
    lb_tmpl_destroy(&sw->client_arp);
    lb_tmpl_destroy(&sw->client_arp_reply);
}

/* Makes the templates of the messages sent for every new client, in the
 * switch's OpenFlow version. */
static void
build_templates(struct lb_switch *sw)
{
    struct lb_service *svc;

    destroy_templates(sw);
    HMAP_FOR_EACH (svc, name_node, &sw->services.by_name) {
        lb_binding_tmpl_init(&svc->tmpl, &sw->ofp, sw->cfg, &svc->cfg);
    }
    lb_tmpl_init(&sw->arp_reply, arp_reply_kinds, N_AV, encode_arp_reply,
                 sw);
    static const enum lb_tmpl_kind client_arp_kinds[] = { LB_TMPL_IP };
    lb_tmpl_init(&sw->client_arp, client_arp_kinds, 1, encode_client_arp,
                 sw);
    lb_tmpl_init(&sw->client_arp_reply, arp_reply_kinds, N_AV,
                 encode_client_arp_reply, sw);
}

/* Asks every backend who it is, with a flooded ARP request from the LB MAC
 * and a VIP. */
static void
probe_backends(struct lb_switch *sw)
{
    struct lb_backend *b;

    HMAP_FOR_EACH (b, node, &sw->services.backends) {
        lb_ofp_arp(&sw->ofp, ARP_OP_REQUEST, eth_addr_broadcast,
                   sw->cfg->lb_mac, b->probe_spa, eth_addr_zero, b->ip,
                   OFPP_CONTROLLER, OFPP_FLOOD);
        lb_health_probe_sent(&b->health);
    }
}

static struct lb_tables
tables(struct lb_switch *sw)
{
    return (struct lb_tables) {
        .name = sw->name,
        .cfg = sw->cfg,
        .ofp = &sw->ofp,
        .base = &sw->base,
        .services = &sw->services,
        .sessions = &sw->sessions,
        .resync = &sw->resync,
    };
}

/* Asks the switch for every flow with the balancer's cookie, to adopt them
 * (after a connection) or, for an 'audit', to restore what others
 * changed. */
static void
start_read_back(struct lb_switch *sw, bool audit)
{
    lb_flow_set_destroy(&sw->found);
    lb_flow_set_init(&sw->found);
    sw->adopting = true;
    sw->auditing = audit;
    sw->adopt_xid = lb_ofp_flow_stats_request_in(&sw->ofp, OFPTT_ALL);
}

/* The stateful datapath's part of lb_switch_connected(): the balancer reads
 * back what the switch holds before it changes anything, so that a switch
 * that kept its groups and flows (the balancer restarted, or the switch
 * reconnected) goes on balancing without a gap. */
static void
connect_stateful(struct lb_switch *sw, long long int now)
{
    lb_stateful_clear(&sw->stateful);
    sw->refused = !lb_stateful_supported(sw->ofp.protocol);
    if (sw->refused) {
        VLOG_ERR("%s: refused: the stateful datapath needs OpenFlow 1.3 or "
                 "later with Open vSwitch's extensions, and the switch "
                 "speaks %s (set the bridge's protocols, e.g. "
                 "ovs-vsctl set bridge BR protocols=OpenFlow13)", sw->name,
                 ofputil_version_to_string(
                     ofputil_protocol_to_ofp_version(sw->ofp.protocol)));
        return;
    }
    build_templates(sw);
    sw->next_audit = LLONG_MAX;
    start_read_back(sw, false);
    lb_stats_poll_init(&sw->stats, now);

    /* The backends are probed once the flows that bring their answers
     * are in. */
    struct lb_backend *b;
    HMAP_FOR_EACH (b, node, &sw->services.backends) {
        lb_health_restart(&b->health);
    }
    sw->next_probe = LLONG_MAX;
}

static void
adopt_flow(const struct ofputil_flow_stats *fs, void *sw_)
{
    struct lb_switch *sw = sw_;

    lb_stateful_adopt_flow(&sw->services, sw->name, fs, sw->auditing,
                           &sw->found);
}

/* A part of the flows read back after connecting, or for an audit, has come:
 * after the last one, the switch gets what it lacks and loses what it
 * should not have. */
static void
adopt_reply(struct lb_switch *sw, const struct ofp_header *oh,
            long long int now)
{
    enum ofperr error = lb_ofp_flow_stats_foreach_in(&sw->ofp, oh, true,
                                                     adopt_flow, sw);
    if (error) {
        VLOG_WARN_RL(&bad_rl, "%s: bad flow stats reply (%s)", sw->name,
                     ofperr_to_string(error));
    }
    if (ofpmp_more(oh)) {
        return;
    }
    sw->adopting = false;
    if (!sw->auditing) {
        VLOG_INFO("%s: stateful datapath: read back %"PRIuSIZE" flows",
                  sw->name, hmap_count(&sw->found.flows));
    }
    lb_stateful_update(&sw->stateful, sw->cfg, &sw->services, &sw->ofp,
                       &sw->found, sw->auditing ? sw->name : NULL);
    if (!sw->auditing) {
        probe_backends(sw);
        sw->next_probe = now + sw->cfg->probe_interval * 1000LL;
    }
    sw->auditing = false;
    sw->next_audit = now + LB_STATEFUL_AUDIT_MS;
}

/* The switch has connected (or reconnected) and speaks 'protocol'; messages
 * to it go to 'out' until it disconnects.  The base flows go in, the
 * backends are asked for, and the balancer reads back the flows it finds
 * there with its cookie, so that clients keep their backends across a
 * reconnection of the switch or a restart of the balancer. */
void
lb_switch_connected(struct lb_switch *sw, enum ofputil_protocol protocol,
                    const struct lb_ports *ports, struct ofpbuf *out,
                    long long int now)
{
    sw->connected = true;
    sw->ports = ports;
    sw->ofp.protocol = protocol;
    sw->ofp.out = out;

    if (is_stateful(sw)) {
        connect_stateful(sw, now);
        return;
    }
    build_templates(sw);
    lb_flows_install_base(&sw->ofp, &sw->base);
    struct lb_tables t = tables(sw);
    /* The monitor first: a switch answers in order, and telling many flows
     * takes it seconds, which the monitor's answer must not wait for. */
    lb_repair_start(&sw->repair, &t, now);
    lb_resync_start(&sw->resync, &t, false, now);
    lb_stats_poll_init(&sw->stats, now);

    struct lb_backend *b;
    HMAP_FOR_EACH (b, node, &sw->services.backends) {
        lb_health_restart(&b->health);
    }
    probe_backends(sw);
    sw->next_probe = now + sw->cfg->probe_interval * 1000LL;
}

void
lb_switch_disconnected(struct lb_switch *sw, long long int now OVS_UNUSED)
{
    sw->connected = false;
    sw->ports = NULL;
    sw->ofp.out = &sw->scratch;
    sw->adopting = sw->refused = false;
    lb_stateful_clear(&sw->stateful);
    lb_resync_abort(&sw->resync);
    lb_repair_stop(&sw->repair);
    lb_checker_abort(&sw->services.checker);
    sw->stats.active = false;
    drop_held(sw);
}

/* This instance stops acting on the switch, whose connection stays (another
 * controller takes over): what would outlive the connection goes first. */
void
lb_switch_release(struct lb_switch *sw, long long int now)
{
    if (sw->connected) {
        struct lb_tables t = tables(sw);
        lb_repair_cancel(&sw->repair, &t);
    }
    lb_switch_disconnected(sw, now);
}

static void release_held(struct lb_switch *, long long int now);

/* A part of the flow stats the traffic statistics or the resync asked for
 * has come.  Once a resync's flows are all taken in, the packets that
 * waited for it can be handled. */
void
lb_switch_flow_stats_reply(struct lb_switch *sw, const struct ofp_header *oh,
                           long long int now)
{
    prepare_output(sw);
    if (!is_valid_message(sw, oh, OFPTYPE_FLOW_STATS_REPLY)) {
        return;
    }
    if (sw->adopting && oh->xid == sw->adopt_xid) {
        adopt_reply(sw, oh, now);
        return;
    }
    struct lb_tables t = tables(sw);
    if (lb_stats_poll_reply(&sw->stats, &t, sw->cfg->stats_interval, oh,
                            now)
        || !sw->resync.active) {
        return;
    }
    lb_resync_reply(&sw->resync, &t, oh, now);
    release_held(sw, now);
}

/* Are there held packet-ins that may now be handled? */
static bool
may_release_held(const struct lb_switch *sw)
{
    return (!ovs_list_is_empty(&sw->held)
            && !lb_resync_holds_packets(&sw->resync));
}

/* Handles, in order, up to LB_HELD_SLICE of the packet-ins that waited;
 * packet-ins that come meanwhile wait behind them. */
static void
release_held(struct lb_switch *sw, long long int now)
{
    for (size_t i = 0; i < LB_HELD_SLICE && may_release_held(sw); i++) {
        struct ofpbuf *msg = CONTAINER_OF(ovs_list_pop_front(&sw->held),
                                          struct ofpbuf, list_node);
        sw->n_held--;
        sw->held_bytes -= msg->size;
        handle_packet_in(sw, msg->data, now);
        ofpbuf_delete(msg);
    }
}

/* Decisions. */

/* Returns true if a decision made at 'now' may be logged. */
static bool
log_decision(long long int now)
{
    long long int second = now / 1000;

    if (second != decisions_second) {
        if (decisions_unlogged) {
            VLOG_INFO("%u more decisions in %lld s not logged",
                      decisions_unlogged, second - decisions_second);
        }
        decisions_second = second;
        decisions_logged = decisions_unlogged = 0;
    }
    if (decisions_logged < LB_DECISIONS_LOGGED) {
        decisions_logged++;
        return true;
    }
    decisions_unlogged++;
    return false;
}

/* Returns true, and counts it, if one more ICMP message may go in the
 * second of 'now', given the count '*n' so far in '*second'. */
static bool
icmp_allowed(long long int *second, unsigned int *n, long long int now)
{
    if (now / 1000 != *second) {
        *second = now / 1000;
        *n = 0;
    }
    return (*n)++ < LB_MAX_ICMP;
}

/* Clients that move. */

static struct claim *
find_claim(const struct lb_switch *sw, ovs_be32 ip)
{
    struct claim *claim;

    HMAP_FOR_EACH_WITH_HASH (claim, node, lb_hash_ip(ip), &sw->claims) {
        if (claim->ip == ip) {
            return claim;
        }
    }
    return NULL;
}

static void
remove_claim(struct lb_switch *sw, struct claim *claim)
{
    hmap_remove(&sw->claims, &claim->node);
    free(claim);
}

static bool
client_has_flows(const struct lb_client *client)
{
    const struct lb_session *session;

    if (client->n_sessions) {
        LIST_FOR_EACH (session, client_node, &client->sessions) {
            if (session->flows) {
                return true;
            }
        }
    }
    return false;
}

/* 'client''s address is now at 'mac' on 'ofport': its sessions' flows,
 * which name the old place, go; each session keeps its backend and gets
 * flows again with its next packet. */
static void
move_client(struct lb_switch *sw, struct lb_client *client,
            struct eth_addr mac, ofp_port_t ofport, const char *why,
            long long int now)
{
    struct lb_session *session;

    if (client->n_sessions) {
        LIST_FOR_EACH (session, client_node, &client->sessions) {
            if (session->flows) {
                struct lb_binding b;

                lb_session_binding(session, &b);
                if (sw->connected) {
                    lb_binding_delete(&sw->ofp, &b);
                }
                lb_sessions_set_flows(&sw->sessions, session, 0, now);
            }
        }
    }
    VLOG_INFO("%s: client "IP_FMT" moved from "ETH_ADDR_FMT" on port "
              "%"PRIu16" to "ETH_ADDR_FMT" on port %"PRIu16" (%s)", sw->name,
              IP_ARGS(client->ip), ETH_ADDR_ARGS(client->mac),
              ofp_to_u16(client->ofport), ETH_ADDR_ARGS(mac),
              ofp_to_u16(ofport), why);
    client->mac = mac;
    client->ofport = ofport;
}

/* Another host, at 'mac' on 'ofport', uses 'client''s address.  The address
 * moves to it at once if the client has no flows or its port is gone;
 * otherwise the client is asked, with an ARP request from the balancer, and
 * keeps its address if it answers within LB_CLAIM_MS.  Returns true if the
 * address has moved. */
static bool
claim_client(struct lb_switch *sw, struct lb_client *client,
             struct eth_addr mac, ofp_port_t ofport, long long int now)
{
    if (!client_has_flows(client)) {
        move_client(sw, client, mac, ofport, "it had no flows", now);
        return true;
    } else if (sw->ports && !lb_ports_contains(sw->ports, client->ofport)) {
        move_client(sw, client, mac, ofport, "its port is gone", now);
        return true;
    }

    if (find_claim(sw, client->ip)
        || hmap_count(&sw->claims) >= LB_MAX_CLAIMS) {
        return false;
    }
    struct claim *claim = xmalloc(sizeof *claim);
    claim->ip = client->ip;
    claim->mac = mac;
    claim->ofport = ofport;
    claim->deadline = now + LB_CLAIM_MS;
    hmap_insert(&sw->claims, &claim->node, lb_hash_ip(client->ip));

    /* Asked from the VIP of one of its sessions: the answer comes to the
     * balancer like any ARP for a VIP. */
    const struct lb_session *session = CONTAINER_OF(
        ovs_list_front(&client->sessions), struct lb_session, client_node);
    lb_ofp_arp(&sw->ofp, ARP_OP_REQUEST, client->mac, sw->cfg->lb_mac,
               session->member->service->cfg.vip, eth_addr_zero, client->ip,
               OFPP_CONTROLLER, client->ofport);
    VLOG_WARN_RL(&bad_rl, "%s: "ETH_ADDR_FMT" on port %"PRIu16" claims "
                 "client "IP_FMT", which is "ETH_ADDR_FMT" on port %"PRIu16
                 ": asking it", sw->name, ETH_ADDR_ARGS(mac),
                 ofp_to_u16(ofport), IP_ARGS(client->ip),
                 ETH_ADDR_ARGS(client->mac), ofp_to_u16(client->ofport));
    return false;
}

/* 'client' has been heard from its own place: any claim to its address
 * fails. */
static void
client_answered(struct lb_switch *sw, const struct lb_client *client)
{
    struct claim *claim = (hmap_is_empty(&sw->claims) ? NULL
                           : find_claim(sw, client->ip));
    if (claim) {
        VLOG_WARN_RL(&bad_rl, "%s: client "IP_FMT" answered at "ETH_ADDR_FMT
                     " on port %"PRIu16": refused the claim of "ETH_ADDR_FMT
                     " on port %"PRIu16, sw->name, IP_ARGS(client->ip),
                     ETH_ADDR_ARGS(client->mac), ofp_to_u16(client->ofport),
                     ETH_ADDR_ARGS(claim->mac), ofp_to_u16(claim->ofport));
        remove_claim(sw, claim);
    }
}

/* Claims whose time is up: the clients that did not answer move. */
static void
run_claims(struct lb_switch *sw, long long int now)
{
    struct claim *claim;

    HMAP_FOR_EACH_SAFE (claim, node, &sw->claims) {
        if (now >= claim->deadline) {
            struct lb_client *client = lb_sessions_find_client(&sw->sessions,
                                                               claim->ip);
            if (client) {
                move_client(sw, client, claim->mac, claim->ofport,
                            "it did not answer", now);
            }
            remove_claim(sw, claim);
        }
    }
}

static long long int
next_claim_deadline(const struct lb_switch *sw)
{
    long long int next = LLONG_MAX;
    const struct claim *claim;

    HMAP_FOR_EACH (claim, node, &sw->claims) {
        next = MIN(next, claim->deadline);
    }
    return next;
}

/* Returns the client with 'ip', learning it as being at 'mac' on 'ofport'
 * if it is new.  'client' is what looking 'ip' up found (the caller has
 * looked already).  Returns NULL if there is no room, or if 'ip' is known
 * elsewhere and does not move (see claim_client()). */
static struct lb_client *
learn_client(struct lb_switch *sw, struct lb_client *client, ovs_be32 ip,
             struct eth_addr mac, ofp_port_t ofport, long long int now)
{
    if (!client) {
        if (!lb_sessions_has_room(&sw->sessions, true, now)) {
            VLOG_WARN_RL(&bad_rl, "%s: client table full (%"PRIuSIZE
                         " clients), refused new client "IP_FMT, sw->name,
                         lb_sessions_count_clients(&sw->sessions),
                         IP_ARGS(ip));
            return NULL;
        }
        client = lb_sessions_add_client(&sw->sessions, ip, mac, ofport, now);
        VLOG_DBG("%s: client "IP_FMT" is at "ETH_ADDR_FMT" on port %"PRIu16,
                 sw->name, IP_ARGS(ip), ETH_ADDR_ARGS(mac),
                 ofp_to_u16(ofport));
    } else if (!eth_addr_equals(mac, client->mac)
               || ofport != client->ofport) {
        if (!claim_client(sw, client, mac, ofport, now)) {
            return NULL;
        }
    } else {
        client_answered(sw, client);
    }
    lb_sessions_saw_client(&sw->sessions, client, now);
    return client;
}

/* Says, once, whether 'svc' has a backend up. */
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
                  svc->cfg.name);
    } else {
        VLOG_WARN("%s: service %s has no server up, %s its traffic",
                  sw->name, svc->cfg.name,
                  sw->cfg->no_backend == LB_NO_BACKEND_REJECT
                  ? "rejecting" : "dropping");
    }
}

/* Binds a new session of 'client' (from 'client_port', per connection) in
 * 'svc' to a member its scheduler picks.  Returns NULL if no member is
 * usable or there is no room. */
static struct lb_session *
create_session(struct lb_switch *sw, struct lb_service *svc,
               struct lb_client *client, ovs_be16 client_port,
               long long int now)
{
    struct lb_member *m = lb_service_pick(
        svc, lb_sched_hash(client->ip, ntohs(client_port)));

    service_set_available(sw, svc, m != NULL);
    if (!m) {
        return NULL;
    }
    if (!lb_sessions_has_room(&sw->sessions, false, now)) {
        VLOG_WARN_RL(&bad_rl, "%s: session table full (%"PRIuSIZE
                     " sessions), refused client "IP_FMT, sw->name,
                     lb_sessions_count(&sw->sessions), IP_ARGS(client->ip));
        return NULL;
    }

    struct lb_session *session = lb_sessions_add(&sw->sessions, m, client,
                                                 client_port, now);
    m->stats.n_new++;
    if (log_decision(now)) {
        struct ds s = DS_EMPTY_INITIALIZER;
        lb_session_format(session, &s);
        VLOG_INFO("%s: %s (%s)", sw->name, ds_cstr(&s),
                  svc->cfg.scheduler->description);
        ds_destroy(&s);
    }
    return session;
}

/* Sends both of 'session''s flows, which say 'b', unless they were sent a
 * moment ago: packets that were on their way before the flows landed come
 * up too, and need only be forwarded.  Then the 'size'-byte 'packet', if
 * nonnull, as the flows would take it. */
static void
install_session(struct lb_switch *sw, struct lb_session *session,
                const struct lb_binding *b, const void *packet, size_t size,
                long long int now)
{
    const struct lb_binding_tmpl *tmpl = &session->member->service->tmpl;

    if (session->flows == LB_FLOWS_BOTH
        && now - session->installed_at < LB_REINSTALL_MS) {
        if (packet) {
            lb_binding_packet_out(tmpl, b, packet, size, sw->ofp.out);
        }
        return;
    }

    if (packet) {
        lb_binding_install_packet_out(tmpl, b, packet, size, sw->ofp.out);
    } else {
        lb_binding_install(tmpl, b, sw->ofp.out);
    }
    session->installed_at = now;
    lb_sessions_set_flows(&sw->sessions, session, LB_FLOWS_BOTH, now);
    lb_resync_flows_sent(&sw->resync, session);
    VLOG_DBG("%s: installed flows "IP_FMT" <-> "IP_FMT, sw->name,
             IP_ARGS(b->client_ip), IP_ARGS(b->backend_ip));
}

/* Deletes 'session''s flows from the switch and forgets it. */
static void
uninstall_session(struct lb_switch *sw, struct lb_session *session,
                  long long int now)
{
    if (session->flows && sw->connected) {
        struct lb_binding b;

        lb_session_binding(session, &b);
        lb_binding_delete(&sw->ofp, &b);
    }
    lb_sessions_remove(&sw->sessions, session, now);
}

/* Backends. */

/* Backend 'b' is down: no new session goes to it, and its sessions are
 * uninstalled in slices by drain_backends(), each sooner if its client
 * sends before (see balance()). */
static void
backend_down(struct lb_switch *sw, struct lb_backend *b, long long int now)
{
    size_t n_moved = 0;
    struct lb_member *m;

    lb_backend_changed(b);
    LIST_FOR_EACH (m, backend_node, &b->members) {
        n_moved += lb_member_n_sessions(m);
    }
    sw->draining = true;
    drain_backends(sw, now);
    VLOG_WARN("%s: server "IP_FMT" is down (%d probes unanswered), "
              "%"PRIuSIZE" client%s will go to other servers", sw->name,
              IP_ARGS(b->ip), b->health.misses, n_moved,
              n_moved == 1 ? "" : "s");
}

/* Uninstalls up to LB_SLICE sessions of backends that are down. */
static void
drain_backends(struct lb_switch *sw, long long int now)
{
    size_t budget = LB_SLICE;
    struct lb_backend *b;

    sw->draining = false;
    HMAP_FOR_EACH (b, node, &sw->services.backends) {
        if (lb_health_is_up(&b->health)) {
            continue;
        }
        struct lb_member *m;
        LIST_FOR_EACH (m, backend_node, &b->members) {
            struct lb_session *session;
            LIST_FOR_EACH_SAFE (session, member_node, &m->sessions) {
                if (!budget) {
                    sw->draining = true;
                    return;
                }
                uninstall_session(sw, session, now);
                budget--;
            }
        }
    }
}

/* Ends a probe round: each backend that was up and did not answer counts a
 * miss, and those that have missed too many go down. */
static void
end_probe_round(struct lb_switch *sw, long long int now)
{
    struct lb_backend *b;

    HMAP_FOR_EACH (b, node, &sw->services.backends) {
        if (lb_health_round_end(&b->health, sw->cfg->probe_misses)) {
            backend_down(sw, b, now);
        }
    }
}

/* Backend 'b' answered a probe from 'mac' on 'ofport'. */
static void
learn_backend(struct lb_switch *sw, struct lb_backend *b,
              struct eth_addr mac, ofp_port_t ofport)
{
    struct lb_location *loc = &b->loc;

    if (lb_health_is_up(&b->health)) {
        if (eth_addr_equals(mac, loc->mac) && ofport == loc->ofport) {
            lb_health_answered(&b->health);
        } else {
            /* The identity a backend answered with stands while it
             * answers: another host claiming its address must not take its
             * traffic.  The backend may come back as someone else only
             * after it was down. */
            VLOG_WARN_RL(&bad_rl, "%s: ignored ARP reply claiming server "
                         IP_FMT" for "ETH_ADDR_FMT" on port %"PRIu16" (it is "
                         ETH_ADDR_FMT" on port %"PRIu16")", sw->name,
                         IP_ARGS(b->ip), ETH_ADDR_ARGS(mac),
                         ofp_to_u16(ofport), ETH_ADDR_ARGS(loc->mac),
                         ofp_to_u16(loc->ofport));
        }
        return;
    }

    VLOG_INFO("%s: server "IP_FMT" is %s"ETH_ADDR_FMT" on port %"PRIu16,
              sw->name, IP_ARGS(b->ip),
              b->health.state == LB_HEALTH_DOWN ? "up again, at " : "at ",
              ETH_ADDR_ARGS(mac), ofp_to_u16(ofport));
    loc->known = true;
    loc->mac = mac;
    loc->ofport = ofport;
    lb_health_answered(&b->health);
    lb_backend_changed(b);
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

/* The template encoder of a new client's ARP guard and the ARP reply to
 * it, sent together (see client_changed()): the guard is for AV_TPA. */
static void
encode_client_arp_reply(const union lb_tmpl_value v[], const void *sw_,
                        struct ofpbuf *out)
{
    encode_client_arp(&v[AV_TPA], sw_, out);
    encode_arp_reply(v, sw_, out);
}

/* Answers ARP request 'pkt' for the VIP; with the sender's ARP guard, if
 * learning it as a new client left that to the reply ('sw->guard_held'). */
static void
reply_arp(struct lb_switch *sw, const struct lb_packet *pkt,
          ofp_port_t in_port)
{
    union lb_tmpl_value v[N_AV];

    v[AV_PORT].port = in_port;
    v[AV_MAC].mac = pkt->arp_sha;
    v[AV_SPA].ip = pkt->arp_tpa;
    v[AV_TPA].ip = pkt->arp_spa;
    lb_tmpl_put(sw->guard_held ? &sw->client_arp_reply : &sw->arp_reply, v,
                sw->ofp.out);
    sw->guard_held = false;
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
    struct lb_backend *backend = lb_services_find_backend(&sw->services,
                                                          pkt->arp_spa);
    const struct lb_location *loc = backend ? &backend->loc : NULL;

    if (lb_services_find_vip(&sw->services, pkt->arp_spa)) {
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
    if (backend && lb_health_is_up(&backend->health)
        && (!eth_addr_equals(pkt->arp_sha, loc->mac)
            || in_port != loc->ofport)
        && !is_probe_reply(sw, backend, pkt)) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped ARP from "ETH_ADDR_FMT" on port "
                     "%"PRIu16" claiming server "IP_FMT, sw->name,
                     ETH_ADDR_ARGS(pkt->arp_sha), ofp_to_u16(in_port),
                     IP_ARGS(pkt->arp_spa));
        return;
    }

    /* ARP in a known client's name comes here (its ARP guard): from the
     * client it is forwarded; from another host, dropped unless the
     * address moves to it. */
    struct lb_client *client = (backend ? NULL
                                : lb_sessions_find_client(&sw->sessions,
                                                          pkt->arp_spa));
    if (client) {
        if (eth_addr_equals(pkt->arp_sha, client->mac)
            && in_port == client->ofport) {
            client_answered(sw, client);
        } else if (!claim_client(sw, client, pkt->arp_sha, in_port, now)) {
            VLOG_WARN_RL(&bad_rl, "%s: dropped ARP from "ETH_ADDR_FMT" on "
                         "port %"PRIu16" claiming client "IP_FMT" (it is "
                         ETH_ADDR_FMT" on port %"PRIu16")", sw->name,
                         ETH_ADDR_ARGS(pkt->arp_sha), ofp_to_u16(in_port),
                         IP_ARGS(client->ip), ETH_ADDR_ARGS(client->mac),
                         ofp_to_u16(client->ofport));
            return;
        }
    }

    if (pkt->arp_op == ARP_OP_REPLY) {
        if (backend && is_probe_reply(sw, backend, pkt)) {
            learn_backend(sw, backend, pkt->arp_sha, in_port);
        } else {
            pass_packet(sw, in_port, packet, size);
        }
    } else if (lb_services_find_vip(&sw->services, pkt->arp_tpa)) {
        /* Someone asks for a VIP: the balancer answers for it.  Backends
         * and address probes (sender 0.0.0.0) are answered too, but are not
         * clients. */
        if (!backend && pkt->arp_spa != htonl(0)) {
            sw->guard_with_reply = true;
            bool learned = learn_client(sw, client, pkt->arp_spa,
                                        pkt->arp_sha, in_port, now);
            sw->guard_with_reply = false;
            if (!learned) {
                return;
            }
        }
        reply_arp(sw, pkt, in_port);
    } else if (backend && pkt->arp_spa != pkt->arp_tpa
               && lb_sessions_find_client(&sw->sessions, pkt->arp_tpa)) {
        /* A backend looks for a client: its replies must come through the
         * balancer, so the balancer answers for the client. */
        reply_arp(sw, pkt, in_port);
    } else {
        pass_packet(sw, in_port, packet, size);
    }
}

/* Answers a packet to a service that has no backend up, from the VIP, at
 * most LB_MAX_ICMP times a second, as a host without the service would: TCP
 * with RST, UDP with ICMP port unreachable, a whole-IP service's traffic
 * with ICMP host unreachable. */
static void
reject(struct lb_switch *sw, struct lb_service *svc,
       const struct lb_packet *pkt, ofp_port_t in_port, const void *packet,
       size_t size, long long int now)
{
    if (pkt->ip_is_fragment
        || !icmp_allowed(&svc->reject_second, &svc->n_rejects, now)) {
        return;
    }
    if (svc->cfg.proto == IPPROTO_TCP) {
        /* As a host with nothing on the port: RST. */
        const struct tcp_header *tcp = (const void *) ((const uint8_t *) packet
                                                       + pkt->l4_ofs);
        size_t hlen = TCP_OFFSET(tcp->tcp_ctl) * 4;
        struct lb_ofp_l4 a = {
            .eth_src = sw->cfg->lb_mac, .eth_dst = pkt->eth_src,
            .ip_src = svc->cfg.vip, .ip_dst = pkt->ip_src,
            .src_port = pkt->l4_dst, .dst_port = pkt->l4_src,
        };

        if (pkt->tcp_flags & TCP_RST || hlen < TCP_HEADER_LEN
            || hlen > pkt->l4_size) {
            return;
        } else if (pkt->tcp_flags & TCP_ACK) {
            lb_ofp_tcp(&sw->ofp, &a, TCP_RST,
                       ntohl(get_16aligned_be32(&tcp->tcp_ack)), 0, 0, NULL,
                       0, in_port, in_port);
        } else {
            uint32_t len = (pkt->l4_size - hlen
                            + !!(pkt->tcp_flags & TCP_SYN)
                            + !!(pkt->tcp_flags & TCP_FIN));
            lb_ofp_tcp(&sw->ofp, &a, TCP_RST | TCP_ACK, 0,
                       ntohl(get_16aligned_be32(&tcp->tcp_seq)) + len, 0,
                       NULL, 0, in_port, in_port);
        }
        return;
    }
    lb_ofp_icmp_unreachable(&sw->ofp, sw->cfg->lb_mac, pkt->eth_src,
                            svc->cfg.vip, pkt->ip_src,
                            (svc->cfg.proto == IPPROTO_UDP
                             ? LB_ICMP_PORT_UNREACH : LB_ICMP_HOST_UNREACH),
                            (const uint8_t *) packet + pkt->l3_ofs,
                            size - pkt->l3_ofs, in_port);
}

/* Answers a ping to a VIP that has only tcp and udp services, at most
 * LB_MAX_ICMP times a second: operators ping VIPs. */
static void
answer_ping(struct lb_switch *sw, struct lb_vip *vip,
            const struct lb_packet *pkt, ofp_port_t in_port,
            const void *packet, long long int now)
{
    if (pkt->ip_is_fragment
        || !icmp_allowed(&vip->ping_second, &vip->n_pings, now)) {
        return;
    }
    const uint8_t *icmp = (const uint8_t *) packet + pkt->l4_ofs;
    ovs_be32 rest;

    memcpy(&rest, icmp + 4, sizeof rest);      /* Identifier, sequence. */
    lb_ofp_icmp(&sw->ofp, sw->cfg->lb_mac, pkt->eth_src, vip->ip,
                pkt->ip_src, ICMP4_ECHO_REPLY, 0, rest,
                icmp + ICMP_HEADER_LEN, pkt->l4_size - ICMP_HEADER_LEN,
                in_port);
}

/* A client's packet to a service. */
static void
balance(struct lb_switch *sw, struct lb_service *svc,
        const struct lb_packet *pkt, ofp_port_t in_port, const void *packet,
        size_t size, long long int now)
{
    ovs_be16 client_port = 0;

    if (is_stateful(sw)) {
        /* The switch balances; it sends what none of the service's members
         * can take, to be rejected. */
        if (sw->cfg->no_backend == LB_NO_BACKEND_REJECT) {
            reject(sw, svc, pkt, in_port, packet, size, now);
        }
        return;
    }
    if (svc->cfg.affinity == LB_AFFINITY_CONNECTION) {
        if (!pkt->has_ports || !pkt->l4_src) {
            VLOG_WARN_RL(&bad_rl, "%s: dropped packet to service %s from "
                         IP_FMT" without a source port", sw->name,
                         svc->cfg.name, IP_ARGS(pkt->ip_src));
            return;
        }
        client_port = htons(pkt->l4_src);
    }

    struct lb_client *client = learn_client(
        sw, lb_sessions_find_client(&sw->sessions, pkt->ip_src), pkt->ip_src,
        pkt->eth_src, in_port, now);
    if (!client) {
        return;
    }

    struct lb_session *session = lb_sessions_find_of_client(
        &sw->sessions, client, svc, client_port);
    if (session && (!lb_health_is_up(&session->member->backend->health)
                    || (session->member->draining && !session->flows))) {
        /* Its backend went down and drain_backends() has not come to it
         * yet, or it is draining and this session's flows have ended. */
        uninstall_session(sw, session, now);
        session = NULL;
    }
    if (!session) {
        session = create_session(sw, svc, client, client_port, now);
        if (!session) {
            if (svc->unavailable
                && sw->cfg->no_backend == LB_NO_BACKEND_REJECT) {
                reject(sw, svc, pkt, in_port, packet, size, now);
            }
            return;
        }
    }
    struct lb_binding b;
    lb_session_binding(session, &b);
    /* The packet goes on too, so that nothing is lost while the flows
     * land. */
    install_session(sw, session, &b, packet, size, now);
}

/* A backend's packet that no session flow took: if it is for a client of
 * that member, the backend-to-client flow is missing; otherwise it is the
 * backend's own traffic. */
static void
handle_backend_packet(struct lb_switch *sw, struct lb_backend *backend,
                      const struct lb_packet *pkt, ofp_port_t in_port,
                      const void *packet, size_t size, long long int now)
{
    const struct lb_location *loc = &backend->loc;
    bool up = lb_health_is_up(&backend->health);
    uint64_t stub[256 / 8];
    struct ofpbuf ofpacts;

    if (up && (in_port != loc->ofport
               || !eth_addr_equals(pkt->eth_src, loc->mac))) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped packet from "ETH_ADDR_FMT" on "
                     "port %"PRIu16" claiming server "IP_FMT, sw->name,
                     ETH_ADDR_ARGS(pkt->eth_src), ofp_to_u16(in_port),
                     IP_ARGS(backend->ip));
        return;
    }

    struct lb_member *m = lb_services_find_member(&sw->services, backend->ip,
                                                  pkt->ip_proto, pkt->l4_src);
    if (m && up) {
        const struct lb_service *svc = m->service;
        ovs_be16 client_port = (svc->cfg.affinity == LB_AFFINITY_CONNECTION
                                ? htons(pkt->l4_dst) : 0);
        struct lb_session *session = lb_sessions_find(&sw->sessions, svc,
                                                      pkt->ip_dst,
                                                      client_port);
        if (session && session->member == m) {
            struct lb_binding b;

            lb_session_binding(session, &b);
            install_session(sw, session, &b, NULL, 0, now);
            ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
            lb_binding_put_actions(&b, LB_S2C, sw->cfg->lb_mac, &ofpacts);
            lb_ofp_packet_out(&sw->ofp, in_port, packet, size, &ofpacts);
            ofpbuf_uninit(&ofpacts);
            return;
        }
    }

    if (sw->cfg->fallback == LB_FALLBACK_DROP) {
        return;
    }

    /* The backend talks to a host of its own.  If that host is a client,
     * the backend knows it by the LB MAC (the balancer answered its ARP),
     * so the frame is relayed to the client's real MAC; otherwise it is
     * forwarded normally.  Either way a flow spares the controller the
     * rest. */
    struct lb_client *client = lb_sessions_find_client(&sw->sessions,
                                                       pkt->ip_dst);
    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    if (client) {
        lb_ofp_put_rewrite(&ofpacts, sw->cfg->lb_mac, client->mac, 0, 0);
        lb_ofp_put_output(&ofpacts, client->ofport, in_port);
    } else {
        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_NORMAL;
    }
    lb_flows_put_pass(&sw->ofp, in_port, pkt->ip_src, pkt->ip_dst,
                      sw->cfg->idle_timeout, &ofpacts);
    lb_ofp_packet_out(&sw->ofp, in_port, packet, size, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

/* Sends on the ICMP error 'pkt' (the frame 'packet') to 'eth_dst' on
 * 'out_port', from 'ip_src' to 'ip_dst' and quoting 'q': the translation
 * of an error about a packet that the balancer rewrote. */
static void
send_icmp_error(struct lb_switch *sw, const struct lb_packet *pkt,
                const void *packet, size_t size, ofp_port_t in_port,
                ovs_be32 ip_src, ovs_be32 ip_dst,
                const struct lb_icmp_quote *q, struct eth_addr eth_dst,
                ofp_port_t out_port, long long int now)
{
    if (!icmp_allowed(&sw->icmp_error_second, &sw->n_icmp_errors, now)) {
        return;
    }

    uint64_t frame_stub[1600 / 8];
    uint64_t ofpacts_stub[64 / 8];
    struct ofpbuf frame, ofpacts;

    ofpbuf_use_stub(&frame, frame_stub, sizeof frame_stub);
    ofpbuf_put(&frame, packet, size);
    struct eth_header *eth = frame.data;
    eth->eth_src = sw->cfg->lb_mac;
    eth->eth_dst = eth_dst;
    lb_packet_rewrite_icmp_error(frame.data, pkt, ip_src, ip_dst, q);

    ofpbuf_use_stub(&ofpacts, ofpacts_stub, sizeof ofpacts_stub);
    lb_ofp_put_output(&ofpacts, out_port, in_port);
    lb_ofp_packet_out(&sw->ofp, in_port, frame.data, frame.size, &ofpacts);
    ofpbuf_uninit(&ofpacts);
    ofpbuf_uninit(&frame);
    VLOG_DBG("%s: translated ICMP type %d code %d from "IP_FMT" to "IP_FMT
             " as from "IP_FMT" to "IP_FMT, sw->name, pkt->icmp_type,
             pkt->icmp_code, IP_ARGS(pkt->ip_src), IP_ARGS(pkt->ip_dst),
             IP_ARGS(ip_src), IP_ARGS(ip_dst));
}

/* An ICMP error (destination unreachable, time exceeded) about a packet
 * the balancer rewrote would mean nothing to the host it reaches: a client
 * knows only the VIP, a backend only its own address.  Returns true if
 * 'pkt' was such an error, and has been sent on translated, both its
 * addresses and what it quotes, or dropped; false if it is not the
 * balancer's (a backend's error about its own traffic). */
/* Health checks. */

struct check_aux {
    struct lb_switch *sw;
    long long int now;
};

/* A member's check changed its state, or its weight in slow start. */
static void
check_changed(struct lb_member *m, bool state_changed, void *aux_)
{
    struct check_aux *aux = aux_;
    struct lb_switch *sw = aux->sw;
    const struct lb_check *c = &m->check;
    const struct lb_check_config *cfg = &m->service->cfg.check;

    m->service->sched_stale = true;
    if (!state_changed) {
        return;
    }

    struct ds s = DS_EMPTY_INITIALIZER;
    lb_format_endpoint(&s, m->backend->ip, m->port);
    if (c->state == LB_CHECK_DOWN) {
        size_t n = lb_member_n_sessions(m);
        struct lb_session *session;

        LIST_FOR_EACH_SAFE (session, member_node, &m->sessions) {
            uninstall_session(sw, session, aux->now);
        }
        VLOG_WARN("%s: service %s: backend %s is down (%s check: %s, %d in "
                  "a row), %"PRIuSIZE" client%s will go to other backends",
                  sw->name, m->service->cfg.name, ds_cstr(&s),
                  lb_check_kind_to_string(cfg->kind), c->result, c->n_failed,
                  n, n == 1 ? "" : "s");
    } else {
        VLOG_INFO("%s: service %s: backend %s is up (%s check: %s%s)",
                  sw->name, m->service->cfg.name, ds_cstr(&s),
                  lb_check_kind_to_string(cfg->kind), c->result,
                  c->ramp < 1000 ? ", slow start" : "");
    }
    ds_destroy(&s);
}

/* Is 'ip' where 'sw''s checks come from: a VIP or a check source? */
static bool
is_check_source(const struct lb_switch *sw, ovs_be32 ip)
{
    if (lb_services_find_vip(&sw->services, ip)) {
        return true;
    }
    for (size_t i = 0; i < sw->cfg->n_services; i++) {
        if (sw->cfg->services[i].check.source == ip) {
            return true;
        }
    }
    return false;
}

static bool
handle_icmp_error(struct lb_switch *sw, const struct lb_packet *pkt,
                  ofp_port_t in_port, const void *packet, size_t size,
                  long long int now)
{
    struct lb_icmp_quote q;
    const char *error = lb_packet_parse_icmp_error(packet, pkt, &q);
    if (error) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped ICMP error from "IP_FMT" on port "
                     "%"PRIu16": %s", sw->name, IP_ARGS(pkt->ip_src),
                     ofp_to_u16(in_port), error);
        return true;
    }

    struct check_aux aux = { sw, now };
    if (lb_checker_icmp(&sw->services.checker, pkt, &q, now, check_changed,
                        &aux)) {
        return true;
    }

    struct lb_vip *vip = lb_services_find_vip(&sw->services, pkt->ip_dst);
    if (vip) {
        /* From the client's side, about what a backend sent it from the
         * VIP: to that backend, about what it sent. */
        struct lb_service *svc = lb_vip_find_service(
            vip, q.proto, q.has_ports ? q.src_port : 0);
        ovs_be16 client_port = (svc && svc->cfg.affinity
                                == LB_AFFINITY_CONNECTION && q.has_ports
                                ? htons(q.dst_port) : 0);
        struct lb_session *session = (svc && q.src == vip->ip
                                      ? lb_sessions_find(&sw->sessions, svc,
                                                         q.dst, client_port)
                                      : NULL);
        const struct lb_member *m = session ? session->member : NULL;
        if (!m || !m->backend->loc.known) {
            VLOG_DBG_RL(&dbg_rl, "%s: dropped ICMP error to "IP_FMT" about "
                        "no session", sw->name, IP_ARGS(pkt->ip_dst));
            return true;
        }
        struct lb_icmp_quote t = q;
        t.src = m->backend->ip;
        if (q.has_ports && m->port) {
            t.src_port = m->port;
        }
        send_icmp_error(sw, pkt, packet, size, in_port, pkt->ip_src,
                        m->backend->ip, &t, m->backend->loc.mac,
                        m->backend->loc.ofport, now);
        return true;
    }

    /* From a backend, about what a client sent it through the VIP: to that
     * client, from the VIP, about what it sent to the VIP. */
    struct lb_backend *backend = lb_services_find_backend(&sw->services,
                                                          pkt->ip_src);
    if (backend && lb_health_is_up(&backend->health)
        && (in_port != backend->loc.ofport
            || !eth_addr_equals(pkt->eth_src, backend->loc.mac))) {
        VLOG_WARN_RL(&bad_rl, "%s: dropped ICMP error from "ETH_ADDR_FMT
                     " on port %"PRIu16" claiming server "IP_FMT, sw->name,
                     ETH_ADDR_ARGS(pkt->eth_src), ofp_to_u16(in_port),
                     IP_ARGS(backend->ip));
        return true;
    }
    struct lb_member *m = (backend && q.src == pkt->ip_dst
                           && q.dst == backend->ip
                           ? lb_services_find_member(
                               &sw->services, backend->ip, q.proto,
                               q.has_ports ? q.dst_port : 0)
                           : NULL);
    if (!m) {
        return false;
    }
    const struct lb_service *svc = m->service;
    ovs_be16 client_port = (svc->cfg.affinity == LB_AFFINITY_CONNECTION
                            && q.has_ports ? htons(q.src_port) : 0);
    struct lb_session *session = lb_sessions_find(&sw->sessions, svc, q.src,
                                                  client_port);
    if (!session || session->member != m) {
        return false;
    }
    const struct lb_client *client = session->client;
    struct lb_icmp_quote t = q;
    t.dst = svc->cfg.vip;
    if (q.has_ports && svc->cfg.port) {
        t.dst_port = svc->cfg.port;
    }
    send_icmp_error(sw, pkt, packet, size, in_port, svc->cfg.vip,
                    pkt->ip_dst, &t, client->mac, client->ofport, now);
    return true;
}

static void
handle_ipv4(struct lb_switch *sw, const struct lb_packet *pkt,
            ofp_port_t in_port, const void *packet, size_t size,
            long long int now)
{
    if (lb_packet_is_icmp_error(pkt)
        && handle_icmp_error(sw, pkt, in_port, packet, size, now)) {
        return;
    }

    struct lb_vip *vip = lb_services_find_vip(&sw->services, pkt->ip_dst);
    struct lb_backend *backend = lb_services_find_backend(&sw->services,
                                                          pkt->ip_src);

    if (backend && pkt->has_ports
        && (pkt->l4_dst & LB_CHECK_PORT_MASK) == LB_CHECK_PORT_MASK
        && (vip || is_check_source(sw, pkt->ip_dst))) {
        struct check_aux aux = { sw, now };
        if (lb_checker_packet(&sw->services.checker, &sw->ofp,
                              sw->cfg->lb_mac, pkt, packet, now,
                              check_changed, &aux)) {
            return;
        }
    }

    if (vip) {
        ovs_be32 src = pkt->ip_src;
        if (backend) {
            VLOG_WARN_RL(&bad_rl, "%s: dropped packet from server "IP_FMT
                         " to the VIP "IP_FMT" (servers are not balanced)",
                         sw->name, IP_ARGS(src), IP_ARGS(pkt->ip_dst));
            return;
        } else if (!src || ip_is_multicast(src) || src == OVS_BE32_MAX
                   || lb_services_find_vip(&sw->services, src)) {
            VLOG_WARN_RL(&bad_rl, "%s: dropped packet to the VIP from "
                         "invalid source "IP_FMT, sw->name, IP_ARGS(src));
            return;
        }

        struct lb_service *svc = lb_vip_find_service(
            vip, pkt->ip_proto, pkt->has_ports ? pkt->l4_dst : 0);
        if (svc) {
            balance(sw, svc, pkt, in_port, packet, size, now);
        } else if (pkt->is_icmp && pkt->icmp_type == ICMP4_ECHO_REQUEST) {
            /* (A VIP with a whole-IP service has taken it above.) */
            answer_ping(sw, vip, pkt, in_port, packet, now);
        } else {
            VLOG_DBG_RL(&dbg_rl, "%s: dropped packet to "IP_FMT" that no "
                        "service takes", sw->name, IP_ARGS(pkt->ip_dst));
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

    /* Where several controllers share a switch, each gets the packet-ins
     * of the others' flows too: those are not the balancer's. */
    if (pi.cookie != OVS_BE64_MAX && pi.cookie != sw->ofp.cookie) {
        VLOG_DBG_RL(&dbg_rl, "%s: ignored packet-in from a flow with "
                    "another controller's cookie %#"PRIx64, sw->name,
                    ntohll(pi.cookie));
        return;
    }

    ofp_port_t in_port = pi.in_port;
    if (!sw->ports || !lb_ports_contains(sw->ports, in_port)) {
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

/* A look at packet-in 'msg' ('len' bytes, at any alignment), before it is
 * handled: starts loading the client that handling it will look up (and
 * through it, the client's sessions).  Once the table outgrows the caches,
 * each of those lookups would otherwise wait for memory in turn; started
 * for a whole read's packet-ins at once, the waits overlap. */
void
lb_switch_prefetch(struct lb_switch *sw, const void *msg, size_t len)
{
    size_t n;
    const uint8_t *f = lb_ofp_packet_in_frame(msg, len, &n);
    ovs_be32 src;

    if (!f || n < ETH_HEADER_LEN + ARP_ETH_HEADER_LEN) {
        return;
    }
    /* The sender's address: a client's, whose sessions hang off it. */
    uint16_t eth_type = f[12] << 8 | f[13];
    if (eth_type == ETH_TYPE_ARP) {
        memcpy(&src, f + ETH_HEADER_LEN + 14, sizeof src);
    } else if (eth_type == ETH_TYPE_IP) {
        memcpy(&src, f + ETH_HEADER_LEN + 12, sizeof src);
    } else {
        return;
    }
    lb_sessions_prefetch(&sw->sessions, src);
}

/* After lb_switch_prefetch() has seen a read's packet-ins: starts loading
 * the table entries that their lookups will compare, now that the buckets
 * that point to them have had time to arrive. */
void
lb_switch_prefetch_entries(struct lb_switch *sw)
{
    lb_sessions_prefetch_entries(&sw->sessions);
}

void
lb_switch_packet_in(struct lb_switch *sw, const struct ofp_header *oh,
                    long long int now)
{
    prepare_output(sw);
    if (is_stateful(sw)) {
        /* Probes' and checks' answers, pings and rejects: no clients. */
        if (!sw->refused) {
            handle_packet_in(sw, oh, now);
            sw->stateful_dirty = true;
        }
    } else if (OVS_LIKELY(ovs_list_is_empty(&sw->held))
               && !lb_resync_holds_packets(&sw->resync)) {
        handle_packet_in(sw, oh, now);
    } else if (sw->held_bytes + ntohs(oh->length) <= LB_MAX_HELD_BYTES) {
        struct ofpbuf *copy = ofpbuf_clone_data(oh, ntohs(oh->length));
        ovs_list_push_back(&sw->held, &copy->list_node);
        sw->n_held++;
        sw->held_bytes += copy->size;
    } else {
        VLOG_WARN_RL(&bad_rl, "%s: dropped packet-in while reading back "
                     "flows (%"PRIuSIZE" already waiting, %d MB)", sw->name,
                     sw->n_held, LB_MAX_HELD_BYTES / (1024 * 1024));
    }
}

/* The switch removed one of a session's flows: idle or hard timeout, or
 * deleted. */
void
lb_switch_flow_removed(struct lb_switch *sw, const struct ofp_header *oh,
                       long long int now)
{
    struct ofputil_flow_removed fr;

    prepare_output(sw);
    if (!is_valid_message(sw, oh, OFPTYPE_FLOW_REMOVED)) {
        return;
    }
    enum ofperr error = ofputil_decode_flow_removed(&fr, oh);
    if (error) {
        VLOG_WARN_RL(&bad_rl, "%s: undecodable flow removed message (%s)",
                     sw->name, ofperr_to_string(error));
        return;
    }
    if (fr.cookie != sw->ofp.cookie) {
        return;
    } else if (is_stateful(sw)) {
        sw->stateful_dirty |= lb_stateful_flow_removed(&sw->stateful,
                                                       &sw->services, &fr);
        return;
    } else if (fr.priority != LB_PRIO_SESSION) {
        return;
    }

    struct lb_binding b;
    enum lb_flow_dir dir;
    struct lb_session *session
        = (lb_binding_parse(&fr.match, NULL, 0, &dir, &b)
           ? lb_sessions_find_binding(&sw->sessions, &sw->services, &b, dir)
           : NULL);
    if (!session) {
        return;
    }
    lb_resync_flow_gone(&sw->resync, session, LB_FLOW_BIT(dir));
    lb_member_stats_flow_removed(session->member, fr.packet_count,
                                 fr.byte_count);
    if (!(session->flows & LB_FLOW_BIT(dir))) {
        return;
    }

    /* A flow older than the last installation is one that expired just
     * before its replacement landed: the replacement is still there. */
    long long int age = fr.duration_sec == UINT32_MAX
                        ? 0 : fr.duration_sec * 1000LL
                              + fr.duration_nsec / 1000000;
    if (now - age + 50 < session->installed_at) {
        return;
    }

    lb_sessions_set_flows(&sw->sessions, session,
                          session->flows & ~LB_FLOW_BIT(dir), now);
    VLOG_DBG("%s: switch removed flow "IP_FMT" -> "IP_FMT" (reason %d)",
             sw->name, IP_ARGS(fr.match.flow.nw_src),
             IP_ARGS(fr.match.flow.nw_dst), fr.reason);
    if (!session->flows && session->member->draining) {
        /* A draining backend keeps a client only while its flows live. */
        lb_sessions_remove(&sw->sessions, session, now);
    }
}

/* The switch reported an error. */
void
lb_switch_error(struct lb_switch *sw, const struct ofp_header *oh,
                long long int now)
{
    struct lb_tables t = tables(sw);

    prepare_output(sw);
    if (is_stateful(sw)) {
        if (sw->connected && !sw->refused && !sw->adopting
            && ofperr_decode_msg(oh, NULL) == OFPERR_OFPBAC_BAD_OUT_GROUP) {
            /* Someone deleted a group (and with it the flows that used it),
             * and a flow the balancer restored found it missing: read
             * everything back and send the groups again, as on a
             * connection. */
            VLOG_WARN("%s: a group went missing: sending the groups again",
                      sw->name);
            lb_stateful_clear(&sw->stateful);
            start_read_back(sw, false);
        }
        return;
    }
    lb_repair_error(&sw->repair, &t, oh, now);
}

/* A flow monitor reply or update. */
void
lb_switch_flow_monitor(struct lb_switch *sw, const struct ofp_header *oh,
                       long long int now)
{
    struct lb_tables t = tables(sw);

    prepare_output(sw);
    if (is_valid_message(sw, oh, OFPTYPE_FLOW_MONITOR_STATS_REPLY)) {
        lb_repair_update(&sw->repair, &t, oh, now);
    }
}

/* The switch paused (or resumed) its flow monitor updates. */
void
lb_switch_flow_monitor_paused(struct lb_switch *sw, bool paused,
                              long long int now)
{
    struct lb_tables t = tables(sw);

    prepare_output(sw);
    lb_repair_paused(&sw->repair, &t, paused, now);
}

/* Timers. */

/* The stateful datapath's part of lb_switch_run(). */
static void
run_stateful(struct lb_switch *sw, long long int now)
{
    if (!sw->connected || sw->refused) {
        return;
    }
    struct lb_tables t = tables(sw);
    lb_stats_poll_run(&sw->stats, &t, sw->cfg->stats_interval, now);

    struct check_aux aux = { sw, now };
    lb_checker_run(&sw->services.checker, &sw->ofp, sw->cfg->lb_mac, now,
                   check_changed, &aux);

    sw->stateful_dirty = false;
    if (!sw->adopting
        && lb_stateful_is_stale(&sw->stateful, &sw->services)) {
        lb_stateful_update(&sw->stateful, sw->cfg, &sw->services, &sw->ofp,
                           NULL, NULL);
    }
    if (!sw->adopting && now >= sw->next_audit) {
        /* Others (ovs-ofctl del-flows, another controller) may have
         * changed the flows: read them back and restore them. */
        start_read_back(sw, true);
    }
}

void
lb_switch_run(struct lb_switch *sw, long long int now)
{
    prepare_output(sw);
    if (sw->connected && now >= sw->next_probe) {
        end_probe_round(sw, now);
        probe_backends(sw);
        sw->next_probe = now + sw->cfg->probe_interval * 1000LL;
    }
    if (is_stateful(sw)) {
        run_stateful(sw, now);
        return;
    }
    if (sw->connected) {
        struct lb_tables t = tables(sw);
        if (lb_repair_run(&sw->repair, &t, now)
            && lb_resync_may_audit(&sw->resync, now)) {
            lb_resync_start(&sw->resync, &t, true, now);
        }
        lb_stats_poll_run(&sw->stats, &t, sw->cfg->stats_interval, now);

        struct check_aux aux = { sw, now };
        lb_checker_run(&sw->services.checker, &sw->ofp, sw->cfg->lb_mac, now,
                       check_changed, &aux);
    }

    if (sw->draining) {
        drain_backends(sw, now);
    }
    if (!hmap_is_empty(&sw->claims)) {
        run_claims(sw, now);
    }
    if (sw->resync.finishing) {
        struct lb_tables t = tables(sw);
        lb_resync_run(&sw->resync, &t, now);
    }
    release_held(sw, now);

    size_t budget = LB_SLICE;
    struct lb_session *session;
    while (budget-- && (session = lb_sessions_expired(&sw->sessions, now))) {
        if (log_decision(now)) {
            struct ds s = DS_EMPTY_INITIALIZER;
            lb_session_format(session, &s);
            VLOG_INFO("%s: forgot %s (no flows for %d s)", sw->name,
                      ds_cstr(&s), sw->cfg->client_timeout);
            ds_destroy(&s);
        }
        lb_sessions_remove(&sw->sessions, session, now);
    }

    budget = LB_SLICE;
    struct lb_client *client;
    while (budget--
           && (client = lb_sessions_expired_client(&sw->sessions, now))) {
        VLOG_DBG("%s: forgot client "IP_FMT, sw->name, IP_ARGS(client->ip));
        lb_sessions_remove_client(&sw->sessions, client);
    }
}

/* Returns the time at which lb_switch_run() next has something to do. */
long long int
lb_switch_next_timer(const struct lb_switch *sw)
{
    long long int next = LLONG_MAX;

    if (sw->draining || sw->resync.finishing || sw->stateful_dirty
        || may_release_held(sw)) {
        return LLONG_MIN;       /* Work in slices goes on at once. */
    }
    if (sw->connected && is_stateful(sw) && !sw->adopting) {
        next = sw->next_audit;
    }
    if (sw->connected) {
        next = MIN(next, sw->next_probe);
        next = MIN(next, lb_repair_next_timer(&sw->repair));
        next = MIN(next, lb_stats_poll_next_timer(&sw->stats,
                                                  sw->cfg->stats_interval));
        next = MIN(next, lb_checker_next_timer(&sw->services.checker));
    }
    next = MIN(next, next_claim_deadline(sw));
    return MIN(next, lb_sessions_next_expiry(&sw->sessions));
}

/* For lb/show. */

/* The stateful datapath's flows and groups, or NULL in the reactive one. */
const struct lb_stateful *
lb_switch_get_stateful(const struct lb_switch *sw)
{
    return is_stateful(sw) ? &sw->stateful : NULL;
}

enum lb_repair_mode
lb_switch_get_repair_mode(const struct lb_switch *sw)
{
    return sw->repair.mode;
}

const struct lb_services *
lb_switch_get_services(const struct lb_switch *sw)
{
    return &sw->services;
}

const struct lb_sessions *
lb_switch_get_sessions(const struct lb_switch *sw)
{
    return &sw->sessions;
}

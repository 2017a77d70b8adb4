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
#include "lib/lb-stateful.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "flow.h"
#include "hash.h"
#include "lib/lb-config.h"
#include "lib/lb-ofp.h"
#include "lib/lb-scheduler.h"
#include "lib/lb-service.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-ct.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-monitor.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_stateful);

/* A select group, as ovs-ofctl would write it. */
struct lb_stateful_group {
    struct hmap_node node;      /* In lb_stateful's 'groups', by 'id'. */
    uint32_t id;
    char *spec;                 /* "group_id=...,type=select,bucket=...". */
};

static void
groups_clear(struct hmap *groups)
{
    struct lb_stateful_group *g;

    HMAP_FOR_EACH_POP (g, node, groups) {
        free(g->spec);
        free(g);
    }
}

static struct lb_stateful_group *
groups_find(const struct hmap *groups, uint32_t id)
{
    struct lb_stateful_group *g;

    HMAP_FOR_EACH_WITH_HASH (g, node, hash_int(id, 0), groups) {
        if (g->id == id) {
            return g;
        }
    }
    return NULL;
}

static uint32_t
member_hash(ovs_be32 ip, uint8_t proto, uint16_t port)
{
    return hash_3words((OVS_FORCE uint32_t) ip, proto, port);
}

static struct lb_stateful_member *
members_find(const struct hmap *members, ovs_be32 ip, uint8_t proto,
             uint16_t port)
{
    struct lb_stateful_member *m;

    HMAP_FOR_EACH_WITH_HASH (m, node, member_hash(ip, proto, port), members) {
        if (m->ip == ip && m->proto == proto && m->port == port) {
            return m;
        }
    }
    return NULL;
}

static void
members_clear(struct hmap *members)
{
    struct lb_stateful_member *m;

    HMAP_FOR_EACH_POP (m, node, members) {
        free(m);
    }
}

void
lb_stateful_init(struct lb_stateful *st)
{
    st->built = false;
    st->fingerprint = 0;
    lb_flow_set_init(&st->flows);
    hmap_init(&st->groups);
    hmap_init(&st->members);
    hmap_init(&st->leaving);
}

void
lb_stateful_destroy(struct lb_stateful *st)
{
    lb_flow_set_destroy(&st->flows);
    groups_clear(&st->groups);
    hmap_destroy(&st->groups);
    members_clear(&st->members);
    hmap_destroy(&st->members);
    members_clear(&st->leaving);
    hmap_destroy(&st->leaving);
}

/* Forgets what the switch holds (it has disconnected: what it holds is
 * read back when it connects again).  Members leaving are kept: their
 * flows may still be in the switch. */
void
lb_stateful_clear(struct lb_stateful *st)
{
    st->built = false;
    lb_flow_set_destroy(&st->flows);
    lb_flow_set_init(&st->flows);
    groups_clear(&st->groups);
}

/* Groups, conntrack and the Nicira extensions need OpenFlow 1.3 or later
 * (OVS's extensions would do in 1.0, but not its groups). */
bool
lb_stateful_supported(enum ofputil_protocol protocol)
{
    return ofputil_protocol_to_ofp_version(protocol) >= OFP13_VERSION;
}

/* Building. */

struct builder {
    const struct lb_config *cfg;
    enum ofp_version version;
    struct lb_flow_set *flows;
    struct hmap *groups;
    char lb_mac[ETH_ADDR_STRLEN + 1];
    const char *fallback;       /* Actions for what is not the balancer's. */
    int idle;                   /* Idle timeout of draining flows. */
    uint64_t learned_cookie;
    struct ds responder;        /* Actions that answer an ARP request. */
};

static void OVS_PRINTF_FORMAT(2, 3)
add_flow(struct builder *b, const char *format, ...)
{
    enum ofputil_protocol usable;
    struct ofputil_flow_mod fm;
    va_list args;

    va_start(args, format);
    char *s = xvasprintf(format, args);
    va_end(args);

    char *error = parse_ofp_str(&fm, OFPFC_ADD, s, NULL, NULL, &usable);
    if (error) {
        /* A bug: the flows are made here, from checked values. */
        VLOG_ERR("bad flow \"%s\": %s", s, error);
        free(error);
    } else {
        struct ofpbuf ofpacts = ofpbuf_const_initializer(fm.ofpacts,
                                                         fm.ofpacts_len);
        struct match match;

        minimatch_expand(&fm.match, &match);
        lb_flow_set_add_in(b->flows, fm.table_id, &match, fm.priority,
                           fm.idle_timeout, fm.flags, &ofpacts);
        minimatch_destroy(&fm.match);
        free(fm.ofpacts);
    }
    free(s);
}

static const char *
proto_match(uint8_t proto)
{
    return (proto == IPPROTO_TCP ? "tcp"
            : proto == IPPROTO_UDP ? "udp"
            : "ip");
}

/* The match on a service's traffic: "tcp,nw_dst=VIP,tp_dst=PORT". */
static void
service_match(struct ds *s, const struct lb_service_config *sc)
{
    ds_put_format(s, "%s,nw_dst="IP_FMT, proto_match(sc->proto),
                  IP_ARGS(sc->vip));
    if (sc->proto) {
        ds_put_format(s, ",tp_dst=%"PRIu16, sc->port);
    }
}

/* The match on what a member sends from its service port. */
static void
member_reply_match(struct ds *s, uint8_t proto, ovs_be32 ip, uint16_t port)
{
    ds_put_format(s, "%s,nw_src="IP_FMT, proto_match(proto), IP_ARGS(ip));
    if (proto) {
        ds_put_format(s, ",tp_src=%"PRIu16, port);
    }
}

/* The match on what goes to a member, once NATed to it. */
static void
member_forward_match(struct ds *s, uint8_t proto, ovs_be32 ip, uint16_t port)
{
    ds_put_format(s, "%s,nw_dst="IP_FMT, proto_match(proto), IP_ARGS(ip));
    if (proto) {
        ds_put_format(s, ",tp_dst=%"PRIu16, port);
    }
}

static void
add_forward(struct builder *b, int priority, const char *match,
            struct eth_addr mac, ofp_port_t ofport, bool idle)
{
    char timeout[64] = "";

    if (idle) {
        snprintf(timeout, sizeof timeout, "idle_timeout=%d,send_flow_rem,",
                 b->idle);
    }
    add_flow(b, "table=%d,priority=%d,%s%s,actions=set_field:%s->eth_src,"
             "set_field:"ETH_ADDR_FMT"->eth_dst,output:%"PRIu16,
             LB_T_FORWARD, priority, timeout, match, b->lb_mac,
             ETH_ADDR_ARGS(mac), ofp_to_u16(ofport));
}

/* The flows of a member that has flows in tables 0 and 3, that is, one
 * whose location is known: 'idle' if they are to go when idle. */
static void
add_member_flows(struct builder *b, uint8_t proto, ovs_be32 ip,
                 uint16_t port, struct eth_addr mac, ofp_port_t ofport,
                 bool forward, bool idle)
{
    struct ds match = DS_EMPTY_INITIALIZER;

    member_reply_match(&match, proto, ip, port);
    if (idle) {
        add_flow(b, "table=%d,priority=%d,idle_timeout=%d,%s,"
                 "actions=ct(zone=%d,nat,table=%d)", LB_T_CLASSIFY,
                 LB_PRIO_PUNT, b->idle, ds_cstr(&match), LB_CT_ZONE,
                 LB_T_REPLY);
    } else {
        add_flow(b, "table=%d,priority=%d,%s,actions=ct(zone=%d,nat,"
                 "table=%d)", LB_T_CLASSIFY, LB_PRIO_PUNT, ds_cstr(&match),
                 LB_CT_ZONE, LB_T_REPLY);
    }
    if (forward) {
        ds_clear(&match);
        member_forward_match(&match, proto, ip, port);
        char *m = ds_steal_cstr(&match);
        add_forward(b, 100, m, mac, ofport, idle);
        free(m);
    }
    ds_destroy(&match);
}

/* A group ID for 'sc' that depends only on what the service takes, so that
 * a restarted balancer finds its groups where they were. */
static uint32_t
group_id(const struct hmap *groups, const struct lb_service_config *sc)
{
    uint32_t id = hash_3words((OVS_FORCE uint32_t) sc->vip, sc->proto,
                              sc->port) % 0xfffff000 + 1;
    while (groups_find(groups, id)) {
        id = id % 0xfffff000 + 1;
    }
    return id;
}

static void
put_bucket(struct builder *b, struct ds *s, uint32_t bucket_id,
           unsigned int weight, const struct lb_member *m)
{
    ds_put_cstr(s, ",bucket=");
    if (b->version >= OFP15_VERSION) {
        ds_put_format(s, "bucket_id:%"PRIu32",", bucket_id);
    }
    ds_put_format(s, "weight:%u,actions=set_field:%#"PRIx32"->reg0,"
                  "set_field:%"PRIu16"->reg1,resubmit(,%d)",
                  MIN(weight, UINT16_MAX), ntohl(m->backend->ip), m->port,
                  LB_T_PICK);
}

/* The select group of 'svc', which has 'n_usable' usable members, into
 * 'b->groups'; returns its ID. */
static uint32_t
add_group(struct builder *b, const struct lb_service *svc, size_t n_usable)
{
    const struct lb_service_config *sc = &svc->cfg;
    struct ds s = DS_EMPTY_INITIALIZER;
    uint32_t id = group_id(b->groups, sc);

    ds_put_format(&s, "group_id=%"PRIu32",type=select", id);
    if (b->version >= OFP15_VERSION
        && (sc->affinity == LB_AFFINITY_CLIENT || !sc->proto)) {
        /* A client's connections hash alike.  (Per connection, and before
         * OpenFlow 1.5, Open vSwitch's default, dp_hash over the 5-tuple,
         * does it without a datapath flow per connection; a client's later
         * connections find their member through table 6.) */
        ds_put_cstr(&s, ",selection_method=hash,fields(ip_src)");
    }

    if (sc->scheduler == &lb_sched_mh_class) {
        /* Maglev: each slot is a bucket, with its position as its ID, so
         * that a change of members moves only the slots that change. */
        size_t size = MIN(MAX(61, 16 * svc->n_members),
                          LB_STATEFUL_MAX_SLOTS);
        while (!lb_is_prime(size)) {
            size--;
        }
        uint16_t *table = xmalloc(size * sizeof *table);
        lb_maglev_build(svc->sched, svc->n_members, table, size);
        for (size_t i = 0; i < size; i++) {
            if (table[i] < svc->n_members) {
                put_bucket(b, &s, i, 1, svc->members[table[i]]);
            }
        }
        free(table);
    } else {
        for (size_t i = 0; i < svc->n_members; i++) {
            if (svc->sched[i].usable && svc->sched[i].weight) {
                put_bucket(b, &s, i, svc->sched[i].weight, svc->members[i]);
            }
        }
    }
    ovs_assert(n_usable);

    struct lb_stateful_group *g = xmalloc(sizeof *g);
    g->id = id;
    g->spec = ds_steal_cstr(&s);
    hmap_insert(b->groups, &g->node, hash_int(id, 0));
    return id;
}

static void
add_service(struct builder *b, struct lb_service *svc, struct hmap *members)
{
    const struct lb_service_config *sc = &svc->cfg;
    const struct lb_config *cfg = b->cfg;
    struct ds match = DS_EMPTY_INITIALIZER;
    size_t n_usable = 0;

    lb_service_refresh(svc);
    for (size_t i = 0; i < svc->n_members; i++) {
        n_usable += svc->sched[i].usable && svc->sched[i].weight;
    }
    service_match(&match, sc);

    /* New connections: where the client is, then conntrack. */
    add_flow(b, "table=%d,priority=%d,%s,actions="
             "learn(table=%d,idle_timeout=%d,cookie=%#"PRIx64","
             "eth_type=0x800,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[],"
             "load:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
             "output:NXM_OF_IN_PORT[]),"
             "learn(table=%d,idle_timeout=%d,cookie=%#"PRIx64","
             "eth_type=0x806,NXM_OF_ARP_TPA[]=NXM_OF_IP_SRC[],"
             "load:1->NXM_NX_REG2[0]),"
             "ct(zone=%d,nat,table=%d)",
             LB_T_CLASSIFY, LB_PRIO_PUNT, ds_cstr(&match),
             LB_T_CLIENTS, cfg->client_timeout, b->learned_cookie,
             LB_T_CLIENTS, cfg->client_timeout, b->learned_cookie,
             LB_CT_ZONE, LB_T_BALANCE);

    bool client_affinity = sc->affinity == LB_AFFINITY_CLIENT;
    if (!n_usable) {
        /* None to take it: the balancer drops it or rejects it. */
        add_flow(b, "table=%d,priority=100,ct_state=+new+trk,%s,actions=%s",
                 LB_T_BALANCE, ds_cstr(&match),
                 (cfg->no_backend == LB_NO_BACKEND_REJECT
                  ? "CONTROLLER:65535" : "drop"));
    } else {
        uint32_t group = add_group(b, svc, n_usable);
        if (client_affinity) {
            add_flow(b, "table=%d,priority=100,ct_state=+new+trk,%s,"
                     "actions=resubmit(,%d),resubmit(,%d)", LB_T_BALANCE,
                     ds_cstr(&match), LB_T_AFFINITY, LB_T_PICK);
            add_flow(b, "table=%d,priority=10,%s,actions=group:%"PRIu32,
                     LB_T_PICK, ds_cstr(&match), group);
        } else {
            add_flow(b, "table=%d,priority=100,ct_state=+new+trk,%s,"
                     "actions=group:%"PRIu32, LB_T_BALANCE, ds_cstr(&match),
                     group);
        }
    }

    for (size_t i = 0; i < svc->n_members; i++) {
        struct lb_member *m = svc->members[i];
        const struct lb_backend *be = m->backend;
        struct ds nat = DS_EMPTY_INITIALIZER;

        ds_put_format(&nat, IP_FMT, IP_ARGS(be->ip));
        if (sc->proto) {
            ds_put_format(&nat, ":%"PRIu16, m->port);
        }

        if (svc->sched[i].usable && svc->sched[i].weight) {
            struct ds learn = DS_EMPTY_INITIALIZER;
            if (client_affinity) {
                ds_put_format(&learn, "learn(table=%d,idle_timeout=%d,"
                              "cookie=%#"PRIx64",eth_type=0x800,",
                              LB_T_AFFINITY, cfg->client_timeout,
                              b->learned_cookie);
                if (sc->proto) {
                    ds_put_format(&learn, "nw_proto=%d,", sc->proto);
                }
                ds_put_cstr(&learn, "NXM_OF_IP_SRC[],NXM_OF_IP_DST[],");
                if (sc->proto) {
                    ds_put_format(&learn, "NXM_OF_%s_DST[],",
                                  sc->proto == IPPROTO_TCP ? "TCP" : "UDP");
                }
                ds_put_cstr(&learn, "load:NXM_NX_REG0[]->NXM_NX_REG0[],"
                            "load:NXM_NX_REG1[]->NXM_NX_REG1[]),");
            }
            add_flow(b, "table=%d,priority=100,%s,reg0=%#"PRIx32","
                     "reg1=%"PRIu16",actions=%sct(commit,zone=%d,"
                     "nat(dst=%s),table=%d)", LB_T_PICK, ds_cstr(&match),
                     ntohl(be->ip), m->port, ds_cstr(&learn), LB_CT_ZONE,
                     ds_cstr(&nat), LB_T_FORWARD);
            ds_destroy(&learn);
        }
        ds_destroy(&nat);

        if (be->loc.known) {
            /* A draining member's forward flow goes when idle; once it has
             * gone (the member is drained) the backend's own carries what
             * comes late. */
            add_member_flows(b, sc->proto, be->ip, m->port, be->loc.mac,
                             be->loc.ofport, !m->drained, false);
            if (m->draining && !m->drained) {
                struct ds fm = DS_EMPTY_INITIALIZER;
                member_forward_match(&fm, sc->proto, be->ip, m->port);
                add_forward(b, 100, ds_cstr(&fm), be->loc.mac,
                            be->loc.ofport, true);
                ds_destroy(&fm);
            }

            struct lb_stateful_member *sm = xmalloc(sizeof *sm);
            *sm = (struct lb_stateful_member) {
                .vip = sc->vip, .proto = sc->proto, .vport = sc->port,
                .ip = be->ip, .port = m->port,
                .mac = be->loc.mac, .ofport = be->loc.ofport,
            };
            hmap_insert(members, &sm->node,
                        member_hash(be->ip, sc->proto, m->port));
        }

        /* The backend's ARP for clients, and its ICMP errors. */
        add_flow(b, "table=%d,priority=95,arp,arp_op=1,arp_spa="IP_FMT","
                 "actions=set_field:0->reg2,resubmit(,%d),"
                 "resubmit(,%d)", LB_T_CLASSIFY, IP_ARGS(be->ip),
                 LB_T_CLIENTS, LB_T_ARP);
        for (int type = 3; type <= 11; type += 8) {
            add_flow(b, "table=%d,priority=%d,icmp,icmp_type=%d,"
                     "nw_src="IP_FMT",actions=ct(zone=%d,nat,table=%d)",
                     LB_T_CLASSIFY, LB_PRIO_ICMP_ERROR, type,
                     IP_ARGS(be->ip), LB_CT_ZONE, LB_T_REPLY);
        }
        if (be->loc.known) {
            char *m_ = xasprintf("ip,nw_dst="IP_FMT, IP_ARGS(be->ip));
            add_forward(b, 50, m_, be->loc.mac, be->loc.ofport, false);
            free(m_);
        }

        /* Its answers to health checks, to the balancer. */
        if (sc->check.kind != LB_CHECK_NONE) {
            ovs_be32 source = sc->check.source ? sc->check.source : sc->vip;
            struct ds cm = DS_EMPTY_INITIALIZER;

            member_reply_match(&cm, sc->proto, be->ip, m->port);
            add_flow(b, "table=%d,priority=%d,%s,nw_dst="IP_FMT","
                     "actions=CONTROLLER:65535", LB_T_CLASSIFY,
                     LB_PRIO_CHECK, ds_cstr(&cm), IP_ARGS(source));
            for (int type = 3; type <= 11; type += 8) {
                add_flow(b, "table=%d,priority=%d,icmp,icmp_type=%d,"
                         "nw_src="IP_FMT",nw_dst="IP_FMT","
                         "actions=CONTROLLER:65535", LB_T_CLASSIFY,
                         LB_PRIO_CHECK, type, IP_ARGS(be->ip),
                         IP_ARGS(source));
            }
            ds_destroy(&cm);
        }
    }
    ds_destroy(&match);
}

static void
add_vip(struct builder *b, ovs_be32 vip)
{
    add_flow(b, "table=%d,priority=100,arp,arp_op=1,arp_tpa="IP_FMT","
             "actions=%s", LB_T_CLASSIFY, IP_ARGS(vip),
             ds_cstr(&b->responder));
    /* The backends' answers to the balancer's probes. */
    add_flow(b, "table=%d,priority=100,arp,arp_op=2,arp_tpa="IP_FMT","
             "actions=CONTROLLER:65535", LB_T_CLASSIFY, IP_ARGS(vip));
    /* Nobody else may claim it. */
    add_flow(b, "table=%d,priority=105,arp,arp_spa="IP_FMT",actions=drop",
             LB_T_CLASSIFY, IP_ARGS(vip));
    /* ICMP errors about what the VIP sent. */
    for (int type = 3; type <= 11; type += 8) {
        add_flow(b, "table=%d,priority=%d,icmp,icmp_type=%d,nw_dst="IP_FMT","
                 "actions=ct(zone=%d,nat,table=%d)", LB_T_CLASSIFY,
                 LB_PRIO_ICMP_ERROR, type, IP_ARGS(vip), LB_CT_ZONE,
                 LB_T_BALANCE);
    }
    if (!lb_config_vip_is_whole_ip(b->cfg, vip)) {
        /* The balancer answers pings; nothing else is taken. */
        add_flow(b, "table=%d,priority=%d,icmp,icmp_type=8,nw_dst="IP_FMT","
                 "actions=CONTROLLER:65535", LB_T_CLASSIFY, LB_PRIO_PUNT,
                 IP_ARGS(vip));
        add_flow(b, "table=%d,priority=%d,ip,nw_dst="IP_FMT",actions=drop",
                 LB_T_CLASSIFY, LB_PRIO_VIP_DROP, IP_ARGS(vip));
    }
}

static void
build(struct lb_stateful *st, const struct lb_config *cfg,
      struct lb_services *svcs, enum ofp_version version,
      struct lb_flow_set *flows, struct hmap *groups, struct hmap *members)
{
    struct builder b = {
        .cfg = cfg,
        .version = version,
        .flows = flows,
        .groups = groups,
        .fallback = cfg->fallback == LB_FALLBACK_NORMAL ? "NORMAL" : "drop",
        .idle = cfg->idle_timeout ? cfg->idle_timeout
                                  : LB_DEFAULT_IDLE_TIMEOUT,
        .learned_cookie = cfg->cookie ^ 1,
        .responder = DS_EMPTY_INITIALIZER,
    };
    snprintf(b.lb_mac, sizeof b.lb_mac, ETH_ADDR_FMT,
             ETH_ADDR_ARGS(cfg->lb_mac));

    /* The answer to an ARP request, from the LB MAC, for the address
     * asked for. */
    ds_clear(&b.responder);
    ds_put_format(&b.responder,
                  "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                  "set_field:%s->eth_src,set_field:2->arp_op,"
                  "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                  "set_field:%s->arp_sha,"
                  "move:NXM_OF_ARP_TPA[]->NXM_NX_REG3[],"
                  "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                  "move:NXM_NX_REG3[]->NXM_OF_ARP_SPA[],IN_PORT",
                  b.lb_mac, b.lb_mac);

    add_flow(&b, "table=%d,priority=%d,actions=%s", LB_T_CLASSIFY,
             LB_PRIO_FALLBACK, b.fallback);
    add_flow(&b, "table=%d,priority=100,ct_state=+est+trk,ip,"
             "actions=resubmit(,%d)", LB_T_BALANCE, LB_T_FORWARD);
    add_flow(&b, "table=%d,priority=100,ct_state=+rel+trk,ip,"
             "actions=resubmit(,%d)", LB_T_BALANCE, LB_T_FORWARD);
    add_flow(&b, "table=%d,priority=0,actions=drop", LB_T_BALANCE);
    add_flow(&b, "table=%d,priority=0,actions=drop", LB_T_FORWARD);
    add_flow(&b, "table=%d,priority=100,ct_state=+rpl+trk,ip,"
             "actions=set_field:%s->eth_src,resubmit(,%d)", LB_T_REPLY,
             b.lb_mac, LB_T_CLIENTS);
    add_flow(&b, "table=%d,priority=90,ct_state=+rel+trk,ip,"
             "actions=set_field:%s->eth_src,resubmit(,%d)", LB_T_REPLY,
             b.lb_mac, LB_T_CLIENTS);
    add_flow(&b, "table=%d,priority=0,actions=%s", LB_T_REPLY, b.fallback);
    add_flow(&b, "table=%d,priority=0,ip,actions=%s", LB_T_CLIENTS,
             b.fallback);
    add_flow(&b, "table=%d,priority=100,arp,reg2=0x1/0x1,actions=%s",
             LB_T_ARP, ds_cstr(&b.responder));
    add_flow(&b, "table=%d,priority=0,actions=%s", LB_T_ARP, b.fallback);

    for (size_t i = 0; i < cfg->n_services; i++) {
        add_vip(&b, cfg->services[i].vip);
    }
    struct lb_service *svc;
    HMAP_FOR_EACH (svc, name_node, &svcs->by_name) {
        add_service(&b, svc, members);
    }

    /* Members that left keep their flows while they are used. */
    struct lb_stateful_member *sm;
    HMAP_FOR_EACH (sm, node, &st->leaving) {
        add_member_flows(&b, sm->proto, sm->ip, sm->port, sm->mac,
                         sm->ofport, true, true);
    }
    ds_destroy(&b.responder);
}

/* A hash of everything the flows depend on but the configuration (a new
 * one is always built). */
static uint32_t
fingerprint(struct lb_services *svcs)
{
    struct lb_service *svc;
    uint32_t sum = 0;

    HMAP_FOR_EACH (svc, name_node, &svcs->by_name) {
        lb_service_refresh(svc);
        for (size_t i = 0; i < svc->n_members; i++) {
            const struct lb_member *m = svc->members[i];
            const struct lb_location *loc = &m->backend->loc;
            uint32_t h = hash_int(svc->id, 0);

            h = hash_int(i, h);
            h = hash_int(svc->sched[i].weight, h);
            h = hash_int(svc->sched[i].usable | m->draining << 1
                         | m->drained << 2 | loc->known << 3, h);
            h = hash_bytes(&loc->mac, sizeof loc->mac, h);
            h = hash_int(ofp_to_u16(loc->ofport), h);
            sum += h;
        }
    }
    return sum;
}

/* Notes the members that were built last time and are not now: their
 * connections go on until idle, or are reset.  Returns true if the members
 * leaving changed. */
static bool
note_leaving(struct lb_stateful *st, const struct lb_config *cfg,
             const struct hmap *members, const struct lb_ofp *ofp)
{
    struct lb_stateful_member *sm, *next;
    bool changed = false;

    HMAP_FOR_EACH_SAFE (sm, next, node, &st->members) {
        if (members_find(members, sm->ip, sm->proto, sm->port)) {
            continue;
        }
        hmap_remove(&st->members, &sm->node);
        if (cfg->removed_connections == LB_REMOVED_RESET) {
            struct ofp_ct_match ctm = {
                .ip_proto = sm->proto,
                .l3_type = AF_INET,
            };
            in6_addr_set_mapped_ipv4(&ctm.tuple_reply.src, sm->ip);
            ctm.tuple_reply.src_port = htons(sm->port);
            lb_ofp_ct_flush(ofp, &ctm, LB_CT_ZONE);
            VLOG_INFO("server "IP_FMT":%"PRIu16" left its service: its "
                      "connections are reset", IP_ARGS(sm->ip), sm->port);
            free(sm);
        } else if (!members_find(&st->leaving, sm->ip, sm->proto,
                                 sm->port)) {
            hmap_insert(&st->leaving, &sm->node, sm->node.hash);
            changed = true;
        } else {
            free(sm);
        }
    }
    HMAP_FOR_EACH (sm, node, members) {
        struct lb_stateful_member *gone = members_find(&st->leaving, sm->ip,
                                                       sm->proto, sm->port);
        if (gone) {
            hmap_remove(&st->leaving, &gone->node);
            free(gone);
            changed = true;
        }
    }
    return changed;
}

/* Rebuilds what the switch should hold and sends it the difference with
 * what it held: with 'found', the flows read back from it (after it
 * connected, or for an audit, which 'audit_name' names the switch of);
 * otherwise what was built last.  After a connection every group is sent,
 * since the switch may have any; otherwise those that changed.  Groups go
 * first, so that no flow points to a group that is not there, and go
 * last. */
void
lb_stateful_update(struct lb_stateful *st, const struct lb_config *cfg,
                   struct lb_services *svcs, const struct lb_ofp *ofp,
                   const struct lb_flow_set *found, const char *audit_name)
{
    enum ofp_version version = ofputil_protocol_to_ofp_version(ofp->protocol);
    struct lb_flow_set flows;
    struct hmap groups = HMAP_INITIALIZER(&groups);
    struct hmap members = HMAP_INITIALIZER(&members);

    lb_flow_set_init(&flows);
    build(st, cfg, svcs, version, &flows, &groups, &members);
    if (note_leaving(st, cfg, &members, ofp)) {
        /* Members that just left (or came back) change the flows. */
        lb_flow_set_destroy(&flows);
        lb_flow_set_init(&flows);
        groups_clear(&groups);
        members_clear(&members);
        build(st, cfg, svcs, version, &flows, &groups, &members);
    }

    struct lb_stateful_group *g;
    HMAP_FOR_EACH (g, node, &groups) {
        struct lb_stateful_group *old = groups_find(&st->groups, g->id);
        if ((!found || audit_name) && old && !strcmp(old->spec, g->spec)) {
            continue;
        }

        struct ofputil_group_mod gm;
        enum ofputil_protocol usable;
        char *error = parse_ofp_group_mod_str(&gm, OFPGC11_ADD_OR_MOD,
                                              g->spec, NULL, NULL, &usable);
        if (error) {
            VLOG_ERR("bad group \"%s\": %s", g->spec, error);
            free(error);
            continue;
        }
        lb_ofp_group_mod(ofp, &gm);
        ofputil_uninit_group_mod(&gm);
    }

    if (audit_name) {
        size_t n_restored = 0, n_deleted = 0;
        const struct lb_flow *f;
        HMAP_FOR_EACH (f, node, &flows.flows) {
            n_restored += !lb_flow_set_has(found, f);
        }
        HMAP_FOR_EACH (f, node, &found->flows) {
            struct match match;
            minimatch_expand(&f->match, &match);
            n_deleted += !lb_flow_set_find_in(&flows, f->table_id, &match,
                                              f->priority);
        }
        if (n_restored || n_deleted) {
            VLOG_WARN("%s: audit found its flows changed: restored %"PRIuSIZE
                      " flows, deleted %"PRIuSIZE, audit_name, n_restored,
                      n_deleted);
        }
    }
    lb_flows_update_base(ofp, found ? found : &st->flows, &flows);

    HMAP_FOR_EACH (g, node, &st->groups) {
        if (!groups_find(&groups, g->id)) {
            struct ofputil_group_mod gm = {
                .command = OFPGC11_DELETE,
                .group_id = g->id,
            };
            ovs_list_init(&gm.buckets);
            lb_ofp_group_mod(ofp, &gm);
        }
    }

    lb_flow_set_destroy(&st->flows);
    lb_flow_set_init(&st->flows);
    hmap_swap(&st->flows.flows, &flows.flows);
    lb_flow_set_destroy(&flows);
    groups_clear(&st->groups);
    hmap_swap(&st->groups, &groups);
    hmap_destroy(&groups);
    members_clear(&st->members);
    hmap_swap(&st->members, &members);
    hmap_destroy(&members);
    st->built = true;
    st->fingerprint = fingerprint(svcs);
}

/* Has anything that the flows depend on changed since they were built? */
bool
lb_stateful_is_stale(const struct lb_stateful *st, struct lb_services *svcs)
{
    return !st->built || st->fingerprint != fingerprint(svcs);
}

/* Reading back. */

/* Where a forward flow's actions send its packets. */
static bool
parse_forward(const struct ofpact *ofpacts, size_t ofpacts_len,
              struct eth_addr *mac, ofp_port_t *ofport)
{
    const struct ofpact *a;
    bool has_mac = false, has_port = false;

    OFPACT_FOR_EACH (a, ofpacts, ofpacts_len) {
        if (a->type == OFPACT_SET_FIELD) {
            const struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
            if (sf->field->id == MFF_ETH_DST) {
                *mac = sf->value->mac;
                has_mac = true;
            }
        } else if (a->type == OFPACT_SET_ETH_DST) {
            *mac = ofpact_get_SET_ETH_DST(a)->mac;
            has_mac = true;
        } else if (a->type == OFPACT_OUTPUT) {
            *ofport = ofpact_get_OUTPUT(a)->port;
            has_port = true;
        }
    }
    return has_mac && has_port && ofp_to_u16(*ofport) < ofp_to_u16(OFPP_MAX);
}

/* A flow with the balancer's cookie that the switch has, read back after
 * it connected: a forward flow says where its backend is, if the balancer
 * does not know yet (it restarted).  After a connection, flows that go when
 * idle are left to go (the balancer may not know them); the others, and in
 * an 'audit' all, are noted in 'found', to be compared with what the switch
 * should have.  Returns true if a backend's location was learned. */
bool
lb_stateful_adopt_flow(struct lb_services *svcs, const char *name,
                       const struct ofputil_flow_stats *fs, bool audit,
                       struct lb_flow_set *found)
{
    bool learned = false;

    if (fs->table_id == LB_T_FORWARD
        && (fs->priority == 100 || fs->priority == 50)) {
        struct lb_backend *be = lb_services_find_backend(
            svcs, fs->match.flow.nw_dst);
        struct eth_addr mac = eth_addr_zero;
        ofp_port_t ofport = OFPP_NONE;

        if (be && !be->loc.known
            && fs->match.wc.masks.nw_dst == OVS_BE32_MAX
            && parse_forward(fs->ofpacts, fs->ofpacts_len, &mac, &ofport)) {
            be->loc.known = true;
            be->loc.mac = mac;
            be->loc.ofport = ofport;
            lb_health_assume_up(&be->health);
            lb_backend_changed(be);
            learned = true;
            VLOG_INFO("%s: server "IP_FMT" is at "ETH_ADDR_FMT" on port "
                      "%"PRIu16" (from its flows)", name, IP_ARGS(be->ip),
                      ETH_ADDR_ARGS(mac), ofp_to_u16(ofport));
        }
    }
    if (!fs->idle_timeout || audit) {
        struct ofpbuf ofpacts = ofpbuf_const_initializer(fs->ofpacts,
                                                         fs->ofpacts_len);
        lb_flow_set_add_in(found, fs->table_id, &fs->match, fs->priority,
                           fs->idle_timeout, fs->flags, &ofpacts);
    }
    return learned;
}

/* A flow that went when idle: a draining member's forward flow (it is
 * drained), or a leaving member's (it has left).  Returns true if the
 * switch's flows need to change. */
bool
lb_stateful_flow_removed(struct lb_stateful *st, struct lb_services *svcs,
                         const struct ofputil_flow_removed *fr)
{
    if (fr->table_id != LB_T_FORWARD || fr->priority != 100
        || fr->reason != OFPRR_IDLE_TIMEOUT) {
        return false;
    }
    const struct flow *f = &fr->match.flow;
    uint8_t proto = fr->match.wc.masks.nw_proto ? f->nw_proto : 0;
    uint16_t port = proto ? ntohs(f->tp_dst) : 0;

    struct lb_stateful_member *gone = members_find(&st->leaving, f->nw_dst,
                                                   proto, port);
    if (gone) {
        VLOG_INFO("server "IP_FMT":%"PRIu16" has left: its connections "
                  "have gone idle", IP_ARGS(gone->ip), gone->port);
        hmap_remove(&st->leaving, &gone->node);
        free(gone);
        st->built = false;
        return true;
    }

    struct lb_member *m = lb_services_find_member(svcs, f->nw_dst, proto,
                                                  port);
    if (m && m->draining && !m->drained) {
        m->drained = true;
        VLOG_DBG("service %s: server "IP_FMT":%"PRIu16" drained: no "
                  "traffic for %"PRIu16" s", m->service->cfg.name,
                  IP_ARGS(m->backend->ip), m->port, fr->idle_timeout);
        return true;
    }
    return false;
}

/* Adds the counters of the flow 'fs' (read back for the traffic statistics)
 * to its member's: the forward and reply flows count its traffic, and the
 * pick flow its new connections. */
void
lb_stateful_count(struct lb_services *svcs,
                  const struct ofputil_flow_stats *fs)
{
    const struct flow *f = &fs->match.flow;
    uint8_t proto = fs->match.wc.masks.nw_proto ? f->nw_proto : 0;
    struct lb_member *m = NULL;

    if (fs->priority != 100) {
        return;
    } else if (fs->table_id == LB_T_FORWARD) {
        m = lb_services_find_member(svcs, f->nw_dst, proto,
                                    proto ? ntohs(f->tp_dst) : 0);
    } else if (fs->table_id == LB_T_CLASSIFY
               && fs->match.wc.masks.nw_src == OVS_BE32_MAX
               && !fs->match.wc.masks.nw_dst) {
        m = lb_services_find_member(svcs, f->nw_src, proto,
                                    proto ? ntohs(f->tp_src) : 0);
    } else if (fs->table_id == LB_T_PICK) {
        m = lb_services_find_member(svcs, htonl(f->regs[0]), proto,
                                    f->regs[1]);
        if (m && fs->packet_count != UINT64_MAX) {
            m->stats.n_new = MAX(m->stats.n_new, fs->packet_count);
        }
        return;
    }
    if (m) {
        m->stats.acc.packets += (fs->packet_count == UINT64_MAX
                                 ? 0 : fs->packet_count);
        m->stats.acc.bytes += (fs->byte_count == UINT64_MAX
                               ? 0 : fs->byte_count);
    }
}

/* For lb/show. */
void
lb_stateful_format(const struct lb_stateful *st, struct ds *s)
{
    ds_put_format(s, "  datapath: stateful, %"PRIuSIZE" flows, %"PRIuSIZE
                  " groups", hmap_count(&st->flows.flows),
                  hmap_count(&st->groups));
    if (hmap_count(&st->leaving)) {
        ds_put_format(s, ", %"PRIuSIZE" servers leaving",
                      hmap_count(&st->leaving));
    }
    ds_put_char(s, '\n');
}

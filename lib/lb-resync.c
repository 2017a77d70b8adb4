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

/* Reconciling an lb_switch with the flows the switch has.
 *
 * Whenever a switch connects, the balancer asks it for every flow with the
 * balancer's cookie.  A flow the balancer would have installed itself is
 * kept, and the client, server and mapping it stands for are taken into the
 * tables if they are not there: after a restart of ovs-balancer this is how
 * clients stay on their servers, and after the switch reconnects how the
 * tables learn which flows survived.  Any other flow with the cookie is
 * deleted, so that none is stale or duplicated. */

#include <config.h>

#include <inttypes.h>

#include "flow.h"
#include "lib/lb-config.h"
#include "lib/lb-switch.h"
#include "lib/lb-switch-private.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_resync);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* What one of the balancer's per-client flows says, in either direction. */
struct client_flow {
    enum lb_flow_dir dir;
    struct lb_service *svc;
    ovs_be32 client_ip;
    struct eth_addr client_mac;
    ofp_port_t client_port;
    ovs_be32 server_ip;
    struct eth_addr server_mac;
    ofp_port_t server_port;
};

/* A server-to-client flow read before the flow in the other direction
 * that tells the server's MAC. */
struct later_flow {
    struct ovs_list node;       /* In lb_switch's 'resync_later'. */
    struct client_flow cf;
    struct match match;
    long long int installed_at;
};

void
lb_resync_start(struct lb_switch *sw)
{
    for (size_t i = 0; i < sw->n_services; i++) {
        struct lb_mapping *m;

        HMAP_FOR_EACH (m, node, &sw->services[i].mappings) {
            m->seen = 0;
        }
    }
    sw->resyncing = true;
    sw->resync_kept = sw->resync_deleted = 0;
    ovs_list_init(&sw->resync_later);
    lb_ofp_flow_stats_request(&sw->ofp);
}

/* Forgets a resync that will not finish: the switch went away. */
void
lb_resync_abort(struct lb_switch *sw)
{
    struct later_flow *lf;

    LIST_FOR_EACH_POP (lf, node, &sw->resync_later) {
        free(lf);
    }
    sw->resyncing = false;
}

static bool
is_exact_ip(const struct match *match, bool src)
{
    return (src ? match->wc.masks.nw_src : match->wc.masks.nw_dst)
           == OVS_BE32_MAX;
}

/* Is 'match' one of the rules install_base_flows() adds at LB_PRIO_PUNT? */
static bool
is_punt_flow(const struct lb_switch *sw, const struct match *match)
{
    const struct flow *f = &match->flow;
    bool arp = f->dl_type == htons(ETH_TYPE_ARP);
    bool ip = f->dl_type == htons(ETH_TYPE_IP);

    if (!arp && !ip) {
        return false;
    } else if (is_exact_ip(match, false)) {
        return lb_find_service(sw, f->nw_dst) != NULL;
    } else if (is_exact_ip(match, true)) {
        return (lb_find_backend(sw, f->nw_src)
                || (arp && lb_find_service(sw, f->nw_src)));
    }
    return false;
}

/* Reads the rewrite actions of a per-client flow into 'eth_dst', 'ip_src',
 * 'ip_dst' (left zero where absent) and 'out_port'.  They come back as
 * OpenFlow 1.0 style actions or as set_field, depending on the version. */
static void
parse_rewrite(const struct ofputil_flow_stats *fs, struct eth_addr *eth_dst,
              ovs_be32 *ip_src, ovs_be32 *ip_dst, ofp_port_t *out_port)
{
    const struct ofpact *a;

    *eth_dst = eth_addr_zero;
    *ip_src = *ip_dst = htonl(0);
    *out_port = OFPP_NONE;
    OFPACT_FOR_EACH (a, fs->ofpacts, fs->ofpacts_len) {
        if (a->type == OFPACT_SET_ETH_DST) {
            *eth_dst = ofpact_get_SET_ETH_DST(a)->mac;
        } else if (a->type == OFPACT_SET_IPV4_SRC) {
            *ip_src = ofpact_get_SET_IPV4_SRC(a)->ipv4;
        } else if (a->type == OFPACT_SET_IPV4_DST) {
            *ip_dst = ofpact_get_SET_IPV4_DST(a)->ipv4;
        } else if (a->type == OFPACT_SET_FIELD) {
            const struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
            if (sf->field->id == MFF_ETH_DST) {
                *eth_dst = sf->value->mac;
            } else if (sf->field->id == MFF_IPV4_SRC) {
                *ip_src = sf->value->be32;
            } else if (sf->field->id == MFF_IPV4_DST) {
                *ip_dst = sf->value->be32;
            }
        } else if (a->type == OFPACT_OUTPUT) {
            *out_port = ofpact_get_OUTPUT(a)->port;
        }
    }
    if (*out_port == OFPP_IN_PORT) {
        *out_port = fs->match.flow.in_port.ofp_port;
    }
}

/* Reads what a per-client flow says into 'cf'.  Returns false if it is not
 * a flow the balancer would install with this configuration. */
static bool
parse_client_flow(const struct lb_switch *sw,
                  const struct ofputil_flow_stats *fs, struct client_flow *cf)
{
    const struct match *match = &fs->match;
    const struct flow *f = &match->flow;
    struct eth_addr eth_dst;
    ovs_be32 ip_src, ip_dst;
    ofp_port_t out_port;

    if (f->dl_type != htons(ETH_TYPE_IP) || !match->wc.masks.in_port.ofp_port
        || !is_exact_ip(match, true) || !is_exact_ip(match, false)) {
        return false;
    }
    parse_rewrite(fs, &eth_dst, &ip_src, &ip_dst, &out_port);
    if (eth_addr_is_zero(eth_dst) || out_port == OFPP_NONE) {
        return false;
    }

    cf->svc = lb_find_service(sw, f->nw_dst);
    if (cf->svc) {
        /* Client to VIP, rewritten to the server. */
        if (!eth_addr_equals(match->wc.masks.dl_src, eth_addr_exact)
            || !ip_dst || ip_src) {
            return false;
        }
        cf->dir = LB_C2S;
        cf->client_ip = f->nw_src;
        cf->client_mac = f->dl_src;
        cf->client_port = f->in_port.ofp_port;
        cf->server_ip = ip_dst;
        cf->server_mac = eth_dst;
        cf->server_port = out_port;
    } else {
        /* Server to client, rewritten to come from the VIP. */
        cf->svc = lb_find_service(sw, ip_src);
        if (!cf->svc || ip_dst) {
            return false;
        }
        cf->dir = LB_S2C;
        cf->client_ip = f->nw_dst;
        cf->client_mac = eth_dst;
        cf->client_port = out_port;
        cf->server_ip = f->nw_src;
        cf->server_mac = eth_addr_zero;     /* Not in this flow. */
        cf->server_port = f->in_port.ofp_port;
    }
    return true;
}

/* Takes the client flow 'cf' into the tables.  Returns false if it
 * contradicts them: another identity for the client or the server, another
 * server for the client, or a server that is down; or, if 'last', if the
 * server's MAC is still unknown. */
static bool
adopt_client_flow(struct lb_switch *sw, const struct client_flow *cf,
                  const struct match *match, long long int installed_at,
                  bool last, long long int now)
{
    struct lb_backend *b = lb_find_backend(sw, cf->server_ip);
    struct lb_member *member = b ? lb_service_find_member(cf->svc, b) : NULL;
    if (!member || b->state == LB_BACKEND_DOWN) {
        return false;
    }
    if (b->state == LB_BACKEND_UP) {
        if (b->port != cf->server_port
            || (cf->dir == LB_C2S && !eth_addr_equals(b->mac,
                                                      cf->server_mac))) {
            return false;
        }
    } else if (cf->dir == LB_C2S) {
        /* The server's identity, as the balancer itself installed it; its
         * probes will confirm it or take it down. */
        b->state = LB_BACKEND_UP;
        b->mac = cf->server_mac;
        b->port = cf->server_port;
        b->answered = false;
        b->misses = 0;
        VLOG_INFO("%s: server "IP_FMT" is at "ETH_ADDR_FMT" on port %"PRIu16
                  " (from its flows)", sw->name, IP_ARGS(b->ip),
                  ETH_ADDR_ARGS(b->mac), ofp_to_u16(b->port));
    } else if (!last) {
        /* Look again at the end: the other direction, which carries the
         * server's MAC, may come later. */
        struct later_flow *lf = xmalloc(sizeof *lf);
        lf->cf = *cf;
        lf->match = *match;
        lf->installed_at = installed_at;
        ovs_list_push_back(&sw->resync_later, &lf->node);
        return true;
    } else {
        return false;
    }

    struct lb_client *client = lb_find_client(sw, cf->client_ip);
    if (!client) {
        if (lb_switch_count_clients(sw) >= sw->cfg->max_clients) {
            return false;
        }
        client = lb_add_client(sw, cf->client_ip, cf->client_mac,
                               cf->client_port, now);
    } else if (!eth_addr_equals(client->mac, cf->client_mac)
               || client->port != cf->client_port) {
        return false;
    }

    struct lb_mapping *m = lb_find_mapping(cf->svc, cf->client_ip);
    if (!m) {
        m = lb_add_mapping(sw, cf->svc, client, member, now);
        VLOG_INFO("%s: client "IP_FMT" -> server "IP_FMT" (from its flows)",
                  sw->name, IP_ARGS(client->ip), IP_ARGS(b->ip));
    } else if (m->member != member) {
        return false;
    }
    m->seen |= LB_FLOW_BIT(cf->dir);
    m->installed_at = MAX(m->installed_at, installed_at);
    return true;
}

static bool
keep_flow(struct lb_switch *sw, const struct ofputil_flow_stats *fs,
          long long int now)
{
    struct client_flow cf;

    switch (fs->priority) {
    case LB_PRIO_FALLBACK:
        return flow_wildcards_is_catchall(&fs->match.wc);

    case LB_PRIO_PUNT:
        return is_punt_flow(sw, &fs->match);

    case LB_PRIO_PASS:
        /* Server traffic to its own hosts: harmless, and expires. */
        return true;

    case LB_PRIO_CLIENT:
        return (parse_client_flow(sw, fs, &cf)
                && adopt_client_flow(sw, &cf, &fs->match,
                                     now - fs->duration_sec * 1000LL, false,
                                     now));

    default:
        return false;
    }
}

static void
lb_resync_finish(struct lb_switch *sw, long long int now)
{
    size_t n_clients = 0;

    struct later_flow *lf;
    LIST_FOR_EACH_POP (lf, node, &sw->resync_later) {
        if (!adopt_client_flow(sw, &lf->cf, &lf->match, lf->installed_at,
                               true, now)) {
            lb_ofp_flow_delete_strict(&sw->ofp, &lf->match, LB_PRIO_CLIENT);
            sw->resync_kept--;
            sw->resync_deleted++;
        }
        free(lf);
    }

    sw->resyncing = false;
    for (size_t i = 0; i < sw->n_services; i++) {
        struct lb_mapping *m;

        HMAP_FOR_EACH (m, node, &sw->services[i].mappings) {
            lb_mapping_set_flows(sw, m, m->seen, now);
            n_clients += m->seen != 0;
        }
    }
    VLOG_INFO("%s: read back %"PRIuSIZE" flows, deleted %"PRIuSIZE
              "; %"PRIuSIZE" clients have flows", sw->name,
              sw->resync_kept + sw->resync_deleted, sw->resync_deleted,
              n_clients);
}

/* Handles one part of the reply to lb_resync_start()'s request. */
void
lb_resync_reply(struct lb_switch *sw, const struct ofp_header *oh,
                long long int now)
{
    struct ofpbuf msg = ofpbuf_const_initializer(oh, ntohs(oh->length));
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    for (;;) {
        struct ofputil_flow_stats fs;
        int error = ofputil_decode_flow_stats_reply(&fs, &msg, false,
                                                    &ofpacts);
        if (error) {
            if (error != EOF) {
                VLOG_WARN_RL(&rl, "%s: bad flow stats reply (%s)", sw->name,
                             ofperr_to_string(error));
            }
            break;
        }
        if (fs.cookie != sw->ofp.cookie || fs.table_id != 0) {
            continue;
        }
        if (keep_flow(sw, &fs, now)) {
            sw->resync_kept++;
        } else {
            lb_ofp_flow_delete_strict(&sw->ofp, &fs.match, fs.priority);
            sw->resync_deleted++;
        }
    }
    ofpbuf_uninit(&ofpacts);

    if (!ofpmp_more(oh)) {
        lb_resync_finish(sw, now);
    }
}

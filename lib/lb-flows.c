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
#include "lib/lb-flows.h"

#include <netinet/in.h>
#include <string.h>

#include "flow.h"
#include "hash.h"
#include "lib/lb-config.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "util.h"

/* Bindings. */

/* The match of 'b''s flow in direction 'dir'.  A client port of 0 means
 * the flows are per client, not per connection. */
void
lb_binding_match(const struct lb_binding *b, enum lb_flow_dir dir,
                 struct match *match)
{
    match_init_catchall(match);
    match_set_dl_type(match, htons(ETH_TYPE_IP));
    if (b->proto) {
        match_set_nw_proto(match, b->proto);
    }
    if (dir == LB_C2S) {
        match_set_in_port(match, b->client_ofport);
        match_set_dl_src(match, b->client_mac);
        match_set_nw_src(match, b->client_ip);
        match_set_nw_dst(match, b->vip);
        if (b->proto) {
            match_set_tp_dst(match, b->vip_port);
            if (b->client_port) {
                match_set_tp_src(match, b->client_port);
            }
        }
    } else {
        match_set_in_port(match, b->backend_ofport);
        match_set_nw_src(match, b->backend_ip);
        match_set_nw_dst(match, b->client_ip);
        if (b->proto) {
            match_set_tp_src(match, b->backend_port);
            if (b->client_port) {
                match_set_tp_dst(match, b->client_port);
            }
        }
    }
}

static void
put_l4_port(struct ofpbuf *ofpacts, bool src, ovs_be16 port, uint8_t proto)
{
    struct ofpact_l4_port *a = (src ? ofpact_put_SET_L4_SRC_PORT(ofpacts)
                                : ofpact_put_SET_L4_DST_PORT(ofpacts));
    a->port = ntohs(port);
    a->flow_ip_proto = proto;
}

/* The actions of 'b''s flow in direction 'dir': client to VIP rewritten to
 * the backend, or backend to client rewritten to come from the VIP, from
 * the LB MAC.  The switch fixes the checksums. */
void
lb_binding_put_actions(const struct lb_binding *b, enum lb_flow_dir dir,
                       struct eth_addr lb_mac, struct ofpbuf *ofpacts)
{
    if (dir == LB_C2S) {
        lb_ofp_put_rewrite(ofpacts, lb_mac, b->backend_mac, 0,
                           b->backend_ip);
        if (b->proto) {
            put_l4_port(ofpacts, false, b->backend_port, b->proto);
        }
        lb_ofp_put_output(ofpacts, b->backend_ofport, b->client_ofport);
    } else {
        lb_ofp_put_rewrite(ofpacts, lb_mac, b->client_mac, b->vip, 0);
        if (b->proto) {
            put_l4_port(ofpacts, true, b->vip_port, b->proto);
        }
        lb_ofp_put_output(ofpacts, b->client_ofport, b->backend_ofport);
    }
}

/* Deletes both of 'b''s flows. */
void
lb_binding_delete(const struct lb_ofp *ofp, const struct lb_binding *b)
{
    for (int dir = LB_C2S; dir <= LB_S2C; dir++) {
        struct match match;

        lb_binding_match(b, dir, &match);
        lb_ofp_flow_delete_strict(ofp, &match, LB_PRIO_SESSION);
    }
}

/* What the rewrite actions of a binding's flow set. */
struct rewrite {
    struct eth_addr eth_dst;
    ovs_be32 ip_src, ip_dst;
    ovs_be16 tp_src, tp_dst;
    bool has_tp_src, has_tp_dst;
    ofp_port_t out_port;
};

static void
parse_rewrite(const struct ofpact *ofpacts, size_t ofpacts_len,
              ofp_port_t in_port, struct rewrite *rw)
{
    const struct ofpact *a;

    memset(rw, 0, sizeof *rw);
    rw->out_port = OFPP_NONE;
    OFPACT_FOR_EACH (a, ofpacts, ofpacts_len) {
        if (a->type == OFPACT_SET_ETH_DST) {
            rw->eth_dst = ofpact_get_SET_ETH_DST(a)->mac;
        } else if (a->type == OFPACT_SET_IPV4_SRC) {
            rw->ip_src = ofpact_get_SET_IPV4_SRC(a)->ipv4;
        } else if (a->type == OFPACT_SET_IPV4_DST) {
            rw->ip_dst = ofpact_get_SET_IPV4_DST(a)->ipv4;
        } else if (a->type == OFPACT_SET_L4_SRC_PORT) {
            rw->tp_src = htons(ofpact_get_SET_L4_SRC_PORT(a)->port);
            rw->has_tp_src = true;
        } else if (a->type == OFPACT_SET_L4_DST_PORT) {
            rw->tp_dst = htons(ofpact_get_SET_L4_DST_PORT(a)->port);
            rw->has_tp_dst = true;
        } else if (a->type == OFPACT_SET_FIELD) {
            const struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
            enum mf_field_id id = sf->field->id;

            if (id == MFF_ETH_DST) {
                rw->eth_dst = sf->value->mac;
            } else if (id == MFF_IPV4_SRC) {
                rw->ip_src = sf->value->be32;
            } else if (id == MFF_IPV4_DST) {
                rw->ip_dst = sf->value->be32;
            } else if (id == MFF_TCP_SRC || id == MFF_UDP_SRC) {
                rw->tp_src = sf->value->be16;
                rw->has_tp_src = true;
            } else if (id == MFF_TCP_DST || id == MFF_UDP_DST) {
                rw->tp_dst = sf->value->be16;
                rw->has_tp_dst = true;
            }
        } else if (a->type == OFPACT_OUTPUT) {
            rw->out_port = ofpact_get_OUTPUT(a)->port;
        }
    }
    if (rw->out_port == OFPP_IN_PORT) {
        rw->out_port = in_port;
    }
}

static bool
is_exact_be32(ovs_be32 mask)
{
    return mask == OVS_BE32_MAX;
}

static bool
is_exact_be16(ovs_be16 mask)
{
    return mask == OVS_BE16_MAX;
}

/* Reads what a binding's flow, with 'match' and the given actions, says
 * into 'b' and '*dir'.  Without actions (a flow-removed message has none),
 * the backend's MAC and port and the client's MAC and port are not read.
 * Returns false if it is not such a flow. */
bool
lb_binding_parse(const struct match *match, const struct ofpact *ofpacts,
                 size_t ofpacts_len, enum lb_flow_dir *dir,
                 struct lb_binding *b)
{
    const struct flow *f = &match->flow;
    const struct flow_wildcards *wc = &match->wc;

    memset(b, 0, sizeof *b);
    if (f->dl_type != htons(ETH_TYPE_IP) || !wc->masks.in_port.ofp_port
        || !is_exact_be32(wc->masks.nw_src)
        || !is_exact_be32(wc->masks.nw_dst)) {
        return false;
    }
    if (wc->masks.nw_proto) {
        if (wc->masks.nw_proto != UINT8_MAX
            || (f->nw_proto != IPPROTO_TCP && f->nw_proto != IPPROTO_UDP)) {
            return false;
        }
        b->proto = f->nw_proto;
    }

    *dir = eth_addr_is_zero(wc->masks.dl_src) ? LB_S2C : LB_C2S;
    bool c2s = *dir == LB_C2S;
    ovs_be16 svc_port_mask = c2s ? wc->masks.tp_dst : wc->masks.tp_src;
    ovs_be16 client_port_mask = c2s ? wc->masks.tp_src : wc->masks.tp_dst;
    if (b->proto
        ? (!is_exact_be16(svc_port_mask)
           || (client_port_mask && !is_exact_be16(client_port_mask)))
        : (svc_port_mask || client_port_mask)) {
        return false;
    }
    if (c2s) {
        if (!eth_addr_equals(wc->masks.dl_src, eth_addr_exact)) {
            return false;
        }
        b->client_ofport = f->in_port.ofp_port;
        b->client_mac = f->dl_src;
        b->client_ip = f->nw_src;
        b->vip = f->nw_dst;
        b->vip_port = b->proto ? f->tp_dst : 0;
        b->client_port = client_port_mask ? f->tp_src : 0;
    } else {
        b->backend_ofport = f->in_port.ofp_port;
        b->backend_ip = f->nw_src;
        b->client_ip = f->nw_dst;
        b->backend_port = b->proto ? f->tp_src : 0;
        b->client_port = client_port_mask ? f->tp_dst : 0;
    }
    if (!ofpacts) {
        return true;
    }

    struct rewrite rw;
    parse_rewrite(ofpacts, ofpacts_len, f->in_port.ofp_port, &rw);
    if (eth_addr_is_zero(rw.eth_dst) || rw.out_port == OFPP_NONE
        || ofp_to_u16(rw.out_port) >= ofp_to_u16(OFPP_MAX)) {
        return false;
    }
    if (c2s) {
        if (!rw.ip_dst || rw.ip_src || rw.has_tp_src
            || rw.has_tp_dst != (b->proto != 0)) {
            return false;
        }
        b->backend_mac = rw.eth_dst;
        b->backend_ip = rw.ip_dst;
        b->backend_port = rw.tp_dst;
        b->backend_ofport = rw.out_port;
    } else {
        if (!rw.ip_src || rw.ip_dst || rw.has_tp_dst
            || rw.has_tp_src != (b->proto != 0)) {
            return false;
        }
        b->client_mac = rw.eth_dst;
        b->client_ofport = rw.out_port;
        b->vip = rw.ip_src;
        b->vip_port = rw.tp_src;
    }
    return true;
}

static void
format_l4_endpoint(struct ds *s, ovs_be32 ip, ovs_be16 port)
{
    lb_format_endpoint(s, ip, ntohs(port));
}

/* Appends "CLIENT -> VIP -> BACKEND", with ports where there are any. */
void
lb_binding_format(const struct lb_binding *b, struct ds *s)
{
    format_l4_endpoint(s, b->client_ip, b->client_port);
    ds_put_cstr(s, " -> ");
    format_l4_endpoint(s, b->vip, b->vip_port);
    if (b->proto) {
        ds_put_format(s, "/%s", lb_proto_to_string(b->proto));
    }
    ds_put_cstr(s, " -> ");
    format_l4_endpoint(s, b->backend_ip, b->backend_port);
}

/* Binding templates. */

/* A binding's messages, described by their varying fields. */
enum {
    BV_CLIENT_OFPORT, BV_CLIENT_MAC, BV_CLIENT_IP, BV_CLIENT_PORT,
    BV_BACKEND_OFPORT, BV_BACKEND_MAC, BV_BACKEND_IP, BV_BACKEND_PORT,
    N_BV
};
static const enum lb_tmpl_kind binding_kinds[N_BV] = {
    LB_TMPL_PORT, LB_TMPL_MAC, LB_TMPL_IP, LB_TMPL_L4PORT,
    LB_TMPL_PORT, LB_TMPL_MAC, LB_TMPL_IP, LB_TMPL_L4PORT,
};

static void
binding_to_values(const struct lb_binding *b, union lb_tmpl_value v[N_BV])
{
    v[BV_CLIENT_OFPORT].port = b->client_ofport;
    v[BV_CLIENT_MAC].mac = b->client_mac;
    v[BV_CLIENT_IP].ip = b->client_ip;
    v[BV_CLIENT_PORT].l4port = b->client_port;
    v[BV_BACKEND_OFPORT].port = b->backend_ofport;
    v[BV_BACKEND_MAC].mac = b->backend_mac;
    v[BV_BACKEND_IP].ip = b->backend_ip;
    v[BV_BACKEND_PORT].l4port = b->backend_port;
}

/* The binding with the values 'v' for template 't''s service. */
static void
values_to_binding(const struct lb_binding_tmpl *t,
                  const union lb_tmpl_value v[N_BV], struct lb_binding *b)
{
    *b = t->service;
    b->client_ofport = v[BV_CLIENT_OFPORT].port;
    b->client_mac = v[BV_CLIENT_MAC].mac;
    b->client_ip = v[BV_CLIENT_IP].ip;
    b->client_port = t->per_connection ? v[BV_CLIENT_PORT].l4port : 0;
    b->backend_ofport = v[BV_BACKEND_OFPORT].port;
    b->backend_mac = v[BV_BACKEND_MAC].mac;
    b->backend_ip = v[BV_BACKEND_IP].ip;
    b->backend_port = t->service.proto ? v[BV_BACKEND_PORT].l4port : 0;
}

static void
encode_binding_flow(const union lb_tmpl_value v[],
                    const struct lb_binding_tmpl *t, enum lb_flow_dir dir,
                    struct ofpbuf *out)
{
    struct lb_ofp ofp = t->ofp;
    uint64_t stub[256 / 8];
    struct ofpbuf ofpacts;
    struct lb_binding b;
    struct match match;

    values_to_binding(t, v, &b);
    ofp.out = out;
    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    lb_binding_match(&b, dir, &match);
    lb_binding_put_actions(&b, dir, t->lb_mac, &ofpacts);
    lb_ofp_flow_add(&ofp, &match, LB_PRIO_SESSION, t->idle_timeout,
                    t->hard_timeout, true, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

static void
encode_c2s_flow(const union lb_tmpl_value v[], const void *t,
                struct ofpbuf *out)
{
    encode_binding_flow(v, t, LB_C2S, out);
}

static void
encode_s2c_flow(const union lb_tmpl_value v[], const void *t,
                struct ofpbuf *out)
{
    encode_binding_flow(v, t, LB_S2C, out);
}

/* A packet-out of a client's packet to its backend, without the packet. */
static void
encode_c2s_packet_out(const union lb_tmpl_value v[], const void *t_,
                      struct ofpbuf *out)
{
    const struct lb_binding_tmpl *t = t_;
    struct lb_ofp ofp = t->ofp;
    uint64_t stub[256 / 8];
    struct ofpbuf ofpacts;
    struct lb_binding b;

    values_to_binding(t, v, &b);
    ofp.out = out;
    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    lb_binding_put_actions(&b, LB_C2S, t->lb_mac, &ofpacts);
    lb_ofp_packet_out(&ofp, b.client_ofport, NULL, 0, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

/* Both flows of a new session and the packet-out of its first packet,
 * without the packet. */
static void
encode_new_session(const union lb_tmpl_value v[], const void *t,
                   struct ofpbuf *out)
{
    encode_binding_flow(v, t, LB_C2S, out);
    encode_binding_flow(v, t, LB_S2C, out);
    encode_c2s_packet_out(v, t, out);
}

/* Makes the templates for the sessions of service 'svc' on a switch that
 * 'ofp' talks to. */
void
lb_binding_tmpl_init(struct lb_binding_tmpl *t, const struct lb_ofp *ofp,
                     const struct lb_config *cfg,
                     const struct lb_service_config *svc)
{
    memset(t, 0, sizeof *t);
    t->ofp = *ofp;
    t->ofp.out = NULL;
    t->lb_mac = cfg->lb_mac;
    t->idle_timeout = cfg->idle_timeout;
    t->hard_timeout = cfg->hard_timeout;
    t->service.vip = svc->vip;
    t->service.proto = svc->proto;
    t->service.vip_port = htons(svc->port);
    t->per_connection = svc->affinity == LB_AFFINITY_CONNECTION;

    lb_tmpl_init(&t->c2s_flow, binding_kinds, N_BV, encode_c2s_flow, t);
    lb_tmpl_init(&t->s2c_flow, binding_kinds, N_BV, encode_s2c_flow, t);
    lb_tmpl_init(&t->c2s_packet_out, binding_kinds, N_BV,
                 encode_c2s_packet_out, t);
    lb_tmpl_init(&t->new_session, binding_kinds, N_BV, encode_new_session,
                 t);
}

void
lb_binding_tmpl_destroy(struct lb_binding_tmpl *t)
{
    if (t) {
        lb_tmpl_destroy(&t->c2s_flow);
        lb_tmpl_destroy(&t->s2c_flow);
        lb_tmpl_destroy(&t->c2s_packet_out);
        lb_tmpl_destroy(&t->new_session);
    }
}

/* Appends one of a binding's messages from template 'tmpl' and returns its
 * offset in 'out'.  OVS encodes an output to the input port (a client and
 * a backend behind one port) differently, so that goes the long way. */
static size_t
put_binding_message(const struct lb_tmpl *tmpl, const struct lb_binding *b,
                    struct ofpbuf *out)
{
    union lb_tmpl_value v[N_BV];
    size_t ofs = out->size;

    binding_to_values(b, v);
    if (b->client_ofport == b->backend_ofport) {
        lb_tmpl_encode(tmpl, v, out);
    } else {
        lb_tmpl_put(tmpl, v, out);
    }
    return ofs;
}

/* Appends to 'out' both of 'b''s flows. */
void
lb_binding_install(const struct lb_binding_tmpl *t,
                   const struct lb_binding *b, struct ofpbuf *out)
{
    put_binding_message(&t->c2s_flow, b, out);
    put_binding_message(&t->s2c_flow, b, out);
}

/* Appends to 'out' a packet-out that takes the client's 'size'-byte
 * 'packet' to the backend as 'b''s flow would. */
void
lb_binding_packet_out(const struct lb_binding_tmpl *t,
                      const struct lb_binding *b, const void *packet,
                      size_t size, struct ofpbuf *out)
{
    size_t ofs = put_binding_message(&t->c2s_packet_out, b, out);
    lb_ofp_put(out, packet, size);
    lb_ofp_end_message(out, ofs);
}

/* Appends to 'out' what lb_binding_install() and then
 * lb_binding_packet_out() would, as a new session sends them. */
void
lb_binding_install_packet_out(const struct lb_binding_tmpl *t,
                              const struct lb_binding *b, const void *packet,
                              size_t size, struct ofpbuf *out)
{
    if (!t->new_session.usable || b->client_ofport == b->backend_ofport) {
        lb_binding_install(t, b, out);
        lb_binding_packet_out(t, b, packet, size, out);
    } else {
        /* The packet-out is the last of the three. */
        const struct lb_tmpl *tmpl = &t->new_session;
        size_t ofs = (put_binding_message(tmpl, b, out)
                      + tmpl->msg_ofs[tmpl->n_msgs - 1]);
        lb_ofp_put(out, packet, size);
        lb_ofp_end_message(out, ofs);
    }
}

/* Flow sets. */

static void lb_flow_free(struct lb_flow *);

void
lb_flow_set_init(struct lb_flow_set *set)
{
    hmap_init(&set->flows);
}

void
lb_flow_set_destroy(struct lb_flow_set *set)
{
    struct lb_flow *flow;

    HMAP_FOR_EACH_POP (flow, node, &set->flows) {
        lb_flow_free(flow);
    }
    hmap_destroy(&set->flows);
}

static uint32_t
lb_flow_hash(const struct minimatch *match, uint8_t table_id, int priority)
{
    return minimatch_hash(match, ((uint32_t) priority << 8) | table_id);
}

/* Initializes 'mm' from 'match', in the form in which matches go in flow
 * sets: a switch's decoder may say that a match is for Ethernet packets,
 * which goes without saying in the balancer's own. */
static void
normalize(const struct match *match, struct match *m)
{
    *m = *match;
    if (match_has_default_packet_type(m)) {
        m->flow.packet_type = 0;
        m->wc.masks.packet_type = 0;
    }
}

static void
normalize_match(struct minimatch *mm, const struct match *match)
{
    struct match m;

    normalize(match, &m);
    minimatch_init(mm, &m);
}

static void
lb_flow_free(struct lb_flow *flow)
{
    minimatch_destroy(&flow->match);
    free(flow->ofpacts);
    free(flow);
}

/* Adds the flow in 'table_id' with 'match', 'priority', 'idle_timeout',
 * 'flags' (OFPUTIL_FF_*) and 'ofpacts' to 'set', replacing the one with the
 * same table, match and priority. */
void
lb_flow_set_add_in(struct lb_flow_set *set, uint8_t table_id,
                   const struct match *match, int priority, int idle_timeout,
                   enum ofputil_flow_mod_flags flags,
                   const struct ofpbuf *ofpacts)
{
    struct lb_flow *flow = xzalloc(sizeof *flow);

    normalize_match(&flow->match, match);
    flow->table_id = table_id;
    flow->priority = priority;
    flow->idle_timeout = idle_timeout;
    flow->flags = flags;
    flow->ofpacts = xmemdup(ofpacts->data, ofpacts->size);
    flow->ofpacts_len = ofpacts->size;

    struct lb_flow *old = CONST_CAST(struct lb_flow *,
                                     lb_flow_set_find_in(set, table_id, match,
                                                         priority));
    if (old) {
        hmap_remove(&set->flows, &old->node);
        lb_flow_free(old);
    }
    hmap_insert(&set->flows, &flow->node,
                lb_flow_hash(&flow->match, table_id, priority));
}

/* Adds the flow in table 0 with 'match', 'priority' and 'ofpacts' to 'set',
 * replacing the one with the same match and priority. */
void
lb_flow_set_add(struct lb_flow_set *set, const struct match *match,
                int priority, const struct ofpbuf *ofpacts)
{
    lb_flow_set_add_in(set, 0, match, priority, 0, 0, ofpacts);
}

const struct lb_flow *
lb_flow_set_find_in(const struct lb_flow_set *set, uint8_t table_id,
                    const struct match *match, int priority)
{
    struct minimatch mm;
    const struct lb_flow *flow;
    const struct lb_flow *found = NULL;

    normalize_match(&mm, match);
    HMAP_FOR_EACH_WITH_HASH (flow, node,
                             lb_flow_hash(&mm, table_id, priority),
                             &set->flows) {
        if (flow->priority == priority && flow->table_id == table_id
            && minimatch_equal(&flow->match, &mm)) {
            found = flow;
            break;
        }
    }
    minimatch_destroy(&mm);
    return found;
}

const struct lb_flow *
lb_flow_set_find(const struct lb_flow_set *set, const struct match *match,
                 int priority)
{
    return lb_flow_set_find_in(set, 0, match, priority);
}

/* Returns the flow in 'set' that is exactly this one, actions included, or
 * NULL.  Actions read back from a switch may differ from those built in
 * details that do not show in their text, so they are compared as text. */
const struct lb_flow *
lb_flow_set_find_same_in(const struct lb_flow_set *set, uint8_t table_id,
                         const struct match *match, int priority,
                         const struct ofpact *ofpacts, size_t ofpacts_len)
{
    const struct lb_flow *flow = lb_flow_set_find_in(set, table_id, match,
                                                     priority);

    return (flow && ofpacts_equal_stringwise(flow->ofpacts, flow->ofpacts_len,
                                             ofpacts, ofpacts_len)
            ? flow : NULL);
}

const struct lb_flow *
lb_flow_set_find_same(const struct lb_flow_set *set,
                      const struct match *match, int priority,
                      const struct ofpact *ofpacts, size_t ofpacts_len)
{
    return lb_flow_set_find_same_in(set, 0, match, priority, ofpacts,
                                    ofpacts_len);
}

/* The base flows. */

static void
add_punt(struct lb_flow_set *set, uint16_t dl_type, uint8_t nw_proto,
         ovs_be32 nw_src, ovs_be32 nw_dst, ovs_be16 tp_dst,
         const struct ofpbuf *to_controller)
{
    struct match match;

    match_init_catchall(&match);
    match_set_dl_type(&match, htons(dl_type));
    if (nw_proto) {
        match_set_nw_proto(&match, nw_proto);
        if (nw_proto == IPPROTO_ICMP) {
            match_set_icmp_type(&match, ntohs(tp_dst));
        } else {
            match_set_tp_dst(&match, tp_dst);
        }
    }
    if (nw_src) {
        match_set_nw_src(&match, nw_src);
    }
    if (nw_dst) {
        match_set_nw_dst(&match, nw_dst);
    }
    lb_flow_set_add(set, &match, LB_PRIO_PUNT, to_controller);
}

/* ICMP errors from 'nw_src' or to 'nw_dst' quote packets that the
 * balancer rewrote, so it must see them to rewrite the quote too. */
static void
add_icmp_error_punts(struct lb_flow_set *set, ovs_be32 nw_src,
                     ovs_be32 nw_dst, const struct ofpbuf *to_controller)
{
    static const uint8_t types[] = { ICMP4_DST_UNREACH, ICMP4_TIME_EXCEEDED };

    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        struct match match;

        match_init_catchall(&match);
        match_set_dl_type(&match, htons(ETH_TYPE_IP));
        match_set_nw_proto(&match, IPPROTO_ICMP);
        match_set_icmp_type(&match, types[i]);
        if (nw_src) {
            match_set_nw_src(&match, nw_src);
        }
        if (nw_dst) {
            match_set_nw_dst(&match, nw_dst);
        }
        lb_flow_set_add(set, &match, LB_PRIO_ICMP_ERROR, to_controller);
    }
}

/* Fills 'set' with the flows that depend only on 'cfg': the fallback for
 * other traffic, and the rules that send the balancer what it must see.
 * Flows added twice (a VIP or backend of several services) are one. */
void
lb_flows_build_base(const struct lb_config *cfg, struct lb_flow_set *set)
{
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts, to_controller, drop;
    struct match match;

    /* Everything else: forwarded as by a normal switch, or dropped.  This
     * also replaces OpenFlow 1.0's default of sending misses to the
     * controller and OpenFlow 1.3's of dropping them. */
    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    if (cfg->fallback == LB_FALLBACK_NORMAL) {
        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_NORMAL;
    }
    match_init_catchall(&match);
    lb_flow_set_add(set, &match, LB_PRIO_FALLBACK, &ofpacts);
    ofpbuf_uninit(&ofpacts);

    ofpbuf_init(&to_controller, 0);
    lb_ofp_put_controller(&to_controller);
    ofpbuf_init(&drop, 0);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct lb_service_config *svc = &cfg->services[i];

        /* ARP for the VIP (clients asking, backends answering probes) and
         * ARP from anyone claiming it. */
        add_punt(set, ETH_TYPE_ARP, 0, 0, svc->vip, 0, &to_controller);
        add_punt(set, ETH_TYPE_ARP, 0, svc->vip, 0, 0, &to_controller);

        /* Clients' packets that no session flow takes, and ICMP errors
         * about what the VIP sent. */
        add_punt(set, ETH_TYPE_IP, svc->proto, 0, svc->vip,
                 htons(svc->port), &to_controller);
        add_icmp_error_punts(set, 0, svc->vip, &to_controller);

        /* A VIP that only has tcp and udp services answers pings itself
         * and drops the rest. */
        if (!lb_config_vip_is_whole_ip(cfg, svc->vip)) {
            add_punt(set, ETH_TYPE_IP, IPPROTO_ICMP, 0, svc->vip,
                     htons(ICMP4_ECHO_REQUEST), &to_controller);
            match_init_catchall(&match);
            match_set_dl_type(&match, htons(ETH_TYPE_IP));
            match_set_nw_dst(&match, svc->vip);
            lb_flow_set_add(set, &match, LB_PRIO_VIP_DROP, &drop);
        }

        /* The backends' ARP, and their packets no session flow takes. */
        for (size_t j = 0; j < svc->n_backends; j++) {
            ovs_be32 ip = svc->backends[j].ip;

            add_punt(set, ETH_TYPE_ARP, 0, ip, 0, 0, &to_controller);
            add_punt(set, ETH_TYPE_IP, 0, ip, 0, 0, &to_controller);
            add_icmp_error_punts(set, ip, 0, &to_controller);
            if (svc->check.kind != LB_CHECK_NONE) {
                /* Nothing else comes from the service port to the checks'
                 * source (a VIP, usually): clients are elsewhere. */
                match_init_catchall(&match);
                match_set_dl_type(&match, htons(ETH_TYPE_IP));
                match_set_nw_proto(&match, svc->proto);
                match_set_nw_src(&match, ip);
                match_set_nw_dst(&match, (svc->check.source
                                          ? svc->check.source : svc->vip));
                match_set_tp_src(&match, htons(svc->backends[j].port));
                lb_flow_set_add(set, &match, LB_PRIO_CHECK, &to_controller);
            }
        }
    }
    ofpbuf_uninit(&to_controller);
    ofpbuf_uninit(&drop);
}

/* Adds 'flow' to the switch (replacing one with the same table, match and
 * priority). */
void
lb_flows_install(const struct lb_ofp *ofp, const struct lb_flow *flow)
{
    struct ofpbuf ofpacts = ofpbuf_const_initializer(flow->ofpacts,
                                                     flow->ofpacts_len);
    struct match match;

    minimatch_expand(&flow->match, &match);
    lb_ofp_flow_add_in(ofp, flow->table_id, &match, flow->priority,
                       flow->idle_timeout, 0, flow->flags, &ofpacts);
}

/* Deletes 'flow' from the switch. */
void
lb_flows_uninstall(const struct lb_ofp *ofp, const struct lb_flow *flow)
{
    struct match match;

    minimatch_expand(&flow->match, &match);
    lb_ofp_flow_delete_strict_in(ofp, flow->table_id, &match, flow->priority);
}

/* Adds every flow in 'set' to the switch (an add replaces a flow with the
 * same match and priority). */
void
lb_flows_install_base(const struct lb_ofp *ofp, const struct lb_flow_set *set)
{
    const struct lb_flow *flow;

    HMAP_FOR_EACH (flow, node, &set->flows) {
        lb_flows_install(ofp, flow);
    }
}

/* Is 'flow' in 'set' exactly (actions, idle timeout and flags too)? */
bool
lb_flow_set_has(const struct lb_flow_set *set, const struct lb_flow *flow)
{
    struct match match;

    minimatch_expand(&flow->match, &match);
    const struct lb_flow *same = lb_flow_set_find_same_in(
        set, flow->table_id, &match, flow->priority, flow->ofpacts,
        flow->ofpacts_len);
    return (same && same->idle_timeout == flow->idle_timeout
            && same->flags == flow->flags);
}

/* Makes the switch's base flows, which are 'old', into 'new': deletes those
 * that went, adds those that came or changed. */
void
lb_flows_update_base(const struct lb_ofp *ofp, const struct lb_flow_set *old,
                     const struct lb_flow_set *new)
{
    const struct lb_flow *flow;
    struct match match;

    HMAP_FOR_EACH (flow, node, &old->flows) {
        minimatch_expand(&flow->match, &match);
        if (!lb_flow_set_find_in(new, flow->table_id, &match,
                                 flow->priority)) {
            lb_flows_uninstall(ofp, flow);
        }
    }
    HMAP_FOR_EACH (flow, node, &new->flows) {
        if (!lb_flow_set_has(old, flow)) {
            lb_flows_install(ofp, flow);
        }
    }
}

/* Adds a flow that gives a backend's traffic from 'in_port', from 'src' to
 * 'dst', the actions 'ofpacts'. */
void
lb_flows_put_pass(const struct lb_ofp *ofp, ofp_port_t in_port, ovs_be32 src,
                  ovs_be32 dst, int idle_timeout,
                  const struct ofpbuf *ofpacts)
{
    struct match match;

    match_init_catchall(&match);
    match_set_in_port(&match, in_port);
    match_set_dl_type(&match, htons(ETH_TYPE_IP));
    match_set_nw_src(&match, src);
    match_set_nw_dst(&match, dst);
    lb_ofp_flow_add(ofp, &match, LB_PRIO_PASS, idle_timeout, 0, false,
                    ofpacts);
}

/* Client ARP guards. */

static void
client_arp_match(ovs_be32 client_ip, struct match *match)
{
    match_init_catchall(match);
    match_set_dl_type(match, htons(ETH_TYPE_ARP));
    match_set_nw_src(match, client_ip);
}

/* Sends every ARP in the name of the client at 'client_ip' to the balancer,
 * so that another host cannot take its address by ARP. */
void
lb_client_arp_install(const struct lb_ofp *ofp, ovs_be32 client_ip)
{
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts;
    struct match match;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    lb_ofp_put_controller(&ofpacts);
    client_arp_match(client_ip, &match);
    lb_ofp_flow_add(ofp, &match, LB_PRIO_CLIENT_ARP, 0, 0, false, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

void
lb_client_arp_delete(const struct lb_ofp *ofp, ovs_be32 client_ip)
{
    struct match match;

    client_arp_match(client_ip, &match);
    lb_ofp_flow_delete_strict(ofp, &match, LB_PRIO_CLIENT_ARP);
}

/* Are 'ofpacts' what a client's ARP guard does? */
bool
lb_client_arp_actions_ok(const struct ofpact *ofpacts, size_t ofpacts_len)
{
    uint64_t stub[64 / 8];
    struct ofpbuf want;

    ofpbuf_use_stub(&want, stub, sizeof stub);
    lb_ofp_put_controller(&want);
    bool ok = ofpacts_equal(ofpacts, ofpacts_len, want.data, want.size);
    ofpbuf_uninit(&want);
    return ok;
}

/* Is 'match' at 'priority' a client's ARP guard?  If so, stores the client's
 * address in '*client_ip'. */
bool
lb_client_arp_parse(const struct match *match, int priority,
                    ovs_be32 *client_ip)
{
    struct match want;

    if (priority != LB_PRIO_CLIENT_ARP
        || match->flow.dl_type != htons(ETH_TYPE_ARP)) {
        return false;
    }
    /* (A match read from a switch may have values under its wildcards.) */
    struct match have;
    normalize(match, &have);
    match_zero_wildcarded_fields(&have);
    client_arp_match(have.flow.nw_src, &want);
    *client_ip = have.flow.nw_src;
    return match_equal(&have, &want);
}

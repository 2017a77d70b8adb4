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

#ifndef LB_FLOWS_H
#define LB_FLOWS_H 1

/* The balancer's flow table: the one place that knows its priorities,
 * matches and actions.  It builds the flows, reads them back from what a
 * switch reports, and formats them for logs.
 *
 * Table 0 holds, all with the balancer's cookie:
 *
 *   priority 0    everything else: NORMAL, or drop (--fallback);
 *   priority 50   traffic to a VIP that none of its tcp/udp services
 *                 takes: dropped;
 *   priority 90   per client, ARP from the client's address: to the
 *                 balancer, which forwards what the client sends and drops
 *                 what another host sends in its name (LB_PRIO_CLIENT_ARP);
 *   priority 100  what the balancer must see: ARP to and from VIPs and
 *                 from backends, new clients' packets to each service
 *                 (ip, or tcp/udp to the VIP's port), pings to VIPs
 *                 without a whole-IP service, backends' packets;
 *   priority 150  a backend's own traffic to a host that is no client of
 *                 it (LB_PRIO_PASS);
 *   priority 200  per session, one flow each way: client to VIP rewritten
 *                 to the backend, backend to client rewritten to come from
 *                 the VIP;
 *   priority 210  ICMP errors (destination unreachable, time exceeded) to
 *                 a VIP or from a backend: the balancer translates what
 *                 they quote (LB_PRIO_ICMP_ERROR);
 *   priority 220  a backend's answers to its health checks: from its
 *                 service port to the checks' source (LB_PRIO_CHECK).
 *
 * The flows of priorities 0, 50, 100, 210 and 220 depend only on the
 * configuration
 * (the "base flows"); those of priority 90 are a client's "ARP guard";
 * those of priority 200 are a session's "binding". */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/lb-ofp.h"
#include "lib/lb-template.h"
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"
#include "openvswitch/types.h"

struct ds;
struct lb_config;
struct lb_service_config;
struct ofpact;
struct ofpbuf;

#define LB_PRIO_FALLBACK 0      /* What happens to everything else. */
#define LB_PRIO_VIP_DROP 50     /* What no service of a VIP takes. */
#define LB_PRIO_CLIENT_ARP 90   /* ARP in a known client's name. */
#define LB_PRIO_PUNT     100    /* Traffic the balancer must see. */
#define LB_PRIO_PASS     150    /* Backend traffic to non-clients. */
#define LB_PRIO_SESSION  200    /* The per-session rewrites. */
#define LB_PRIO_ICMP_ERROR 210  /* ICMP errors the balancer translates. */
#define LB_PRIO_CHECK    220    /* Answers to health checks. */

/* Everything a session's two flows say. */
struct lb_binding {
    /* The service. */
    ovs_be32 vip;
    uint8_t proto;              /* LB_PROTO_NONE, IPPROTO_TCP or _UDP. */
    ovs_be16 vip_port;          /* 0 unless 'proto'. */

    /* The client. */
    ovs_be32 client_ip;
    ovs_be16 client_port;       /* Its source port if per connection. */
    struct eth_addr client_mac;
    ofp_port_t client_ofport;

    /* The backend. */
    ovs_be32 backend_ip;
    ovs_be16 backend_port;      /* 0 unless 'proto'. */
    struct eth_addr backend_mac;
    ofp_port_t backend_ofport;
};

/* Which of a binding's flows. */
enum lb_flow_dir {
    LB_C2S,                     /* Client to VIP, rewritten to the backend. */
    LB_S2C,                     /* Backend to client, rewritten from VIP. */
};
#define LB_FLOW_BIT(DIR) (1u << (DIR))
#define LB_FLOWS_BOTH (LB_FLOW_BIT(LB_C2S) | LB_FLOW_BIT(LB_S2C))

void lb_binding_match(const struct lb_binding *, enum lb_flow_dir,
                      struct match *);
void lb_binding_put_actions(const struct lb_binding *, enum lb_flow_dir,
                            struct eth_addr lb_mac, struct ofpbuf *ofpacts);
void lb_binding_delete(const struct lb_ofp *, const struct lb_binding *);
bool lb_binding_parse(const struct match *, const struct ofpact *,
                      size_t ofpacts_len, enum lb_flow_dir *,
                      struct lb_binding *);
void lb_binding_format(const struct lb_binding *, struct ds *);

/* The messages every new session of one service takes on one switch, as
 * templates: its two flows and the packet-out of its first packet. */
struct lb_binding_tmpl {
    struct lb_ofp ofp;          /* Protocol and cookie. */
    struct eth_addr lb_mac;
    int idle_timeout;
    int hard_timeout;
    struct lb_binding service;  /* Only the service's fields. */
    bool per_connection;        /* Do the flows match the client port? */

    struct lb_tmpl c2s_flow, s2c_flow, c2s_packet_out;

    /* The three together, as a new session sends them: one copy. */
    struct lb_tmpl new_session;
};

void lb_binding_tmpl_init(struct lb_binding_tmpl *, const struct lb_ofp *,
                          const struct lb_config *,
                          const struct lb_service_config *);
void lb_binding_tmpl_destroy(struct lb_binding_tmpl *);
void lb_binding_install(const struct lb_binding_tmpl *,
                        const struct lb_binding *, struct ofpbuf *out);
void lb_binding_packet_out(const struct lb_binding_tmpl *,
                           const struct lb_binding *, const void *packet,
                           size_t size, struct ofpbuf *out);
void lb_binding_install_packet_out(const struct lb_binding_tmpl *,
                                   const struct lb_binding *,
                                   const void *packet, size_t size,
                                   struct ofpbuf *out);

/* A flow, as the balancer wants it in the switch. */
struct lb_flow {
    struct hmap_node node;      /* In an lb_flow_set. */
    struct minimatch match;
    uint8_t table_id;
    uint16_t priority;
    uint16_t idle_timeout;
    enum ofputil_flow_mod_flags flags;  /* OFPUTIL_FF_*. */
    struct ofpact *ofpacts;
    size_t ofpacts_len;
};

/* A set of flows, by match and priority. */
struct lb_flow_set {
    struct hmap flows;
};

void lb_flow_set_init(struct lb_flow_set *);
void lb_flow_set_destroy(struct lb_flow_set *);
void lb_flow_set_add(struct lb_flow_set *, const struct match *,
                     int priority, const struct ofpbuf *ofpacts);
void lb_flow_set_add_in(struct lb_flow_set *, uint8_t table_id,
                        const struct match *, int priority, int idle_timeout,
                        enum ofputil_flow_mod_flags,
                        const struct ofpbuf *ofpacts);
bool lb_flow_set_has(const struct lb_flow_set *, const struct lb_flow *);
const struct lb_flow *lb_flow_set_find(const struct lb_flow_set *,
                                       const struct match *, int priority);
const struct lb_flow *lb_flow_set_find_in(const struct lb_flow_set *,
                                          uint8_t table_id,
                                          const struct match *,
                                          int priority);
const struct lb_flow *lb_flow_set_find_same_in(const struct lb_flow_set *,
                                               uint8_t table_id,
                                               const struct match *,
                                               int priority,
                                               const struct ofpact *,
                                               size_t ofpacts_len);
const struct lb_flow *lb_flow_set_find_same(const struct lb_flow_set *,
                                            const struct match *,
                                            int priority,
                                            const struct ofpact *,
                                            size_t ofpacts_len);

void lb_flows_build_base(const struct lb_config *, struct lb_flow_set *);
void lb_flows_install_base(const struct lb_ofp *,
                           const struct lb_flow_set *);
void lb_flows_install(const struct lb_ofp *, const struct lb_flow *);
void lb_flows_uninstall(const struct lb_ofp *, const struct lb_flow *);
void lb_flows_update_base(const struct lb_ofp *,
                          const struct lb_flow_set *old,
                          const struct lb_flow_set *new);
void lb_flows_put_pass(const struct lb_ofp *, ofp_port_t in_port,
                       ovs_be32 src, ovs_be32 dst, int idle_timeout,
                       const struct ofpbuf *ofpacts);

void lb_client_arp_install(const struct lb_ofp *, ovs_be32 client_ip);
void lb_client_arp_delete(const struct lb_ofp *, ovs_be32 client_ip);
bool lb_client_arp_parse(const struct match *, int priority,
                         ovs_be32 *client_ip);
bool lb_client_arp_actions_ok(const struct ofpact *, size_t ofpacts_len);

#endif /* lb-flows.h */

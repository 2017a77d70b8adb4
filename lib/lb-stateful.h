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

#ifndef LB_STATEFUL_H
#define LB_STATEFUL_H 1

/* The stateful datapath (--datapath=stateful): the switch balances new
 * connections itself, with a select group per service and conntrack, and
 * nothing per client or connection goes through the balancer.  What the
 * switch should hold depends only on the configuration and on the members'
 * state (location, health, weight, drain), and is rebuilt and sent as a
 * difference whenever that changes.
 *
 * Tables, all flows with the balancer's cookie (flows that the switch
 * learns carry the cookie with its lowest bit flipped):
 *
 *   0 classify   ARP for a VIP answered; ARP replies to a VIP (the
 *                backends' answers to probes) to the balancer; a backend's
 *                ARP requests to table 7; clients' packets to a service:
 *                their location learned into table 5, then ct(nat) and
 *                table 1; packets from a member's port: ct(nat), table 4;
 *                ICMP errors likewise; health checks' answers and pings to
 *                the balancer, as in the reactive datapath.
 *   1 balance    established and related: table 3; new: the service's
 *                affinity (table 6) then table 2, or its group.
 *   2 pick       a member (in reg0, reg1, from a bucket or table 6):
 *                learn the client's affinity, ct(commit, nat(dst=member)),
 *                table 3; no member yet: the service's group.
 *   3 forward    to a member's location (per member, and per backend).
 *   4 reply      replies (un-NATed by ct) from the LB MAC, to table 5.
 *   5 clients    learned: a client's MAC and port, and that the balancer
 *                answers the backends' ARP for it.
 *   6 affinity   learned: a client's member, for --client-timeout.
 *   7 arp        a backend's ARP for a known client answered.
 *
 * A draining member keeps its table 3 flow with an idle timeout: when the
 * switch removes it, no connection has used it for that long, and the
 * member is drained.  A member that leaves its service keeps its flows in
 * tables 0 and 3 the same way until they go idle, unless
 * --removed-connections=reset flushes its connections' conntrack entries. */

#include <stdbool.h>
#include <stdint.h>
#include "lib/lb-flows.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/types.h"

struct ds;
struct lb_config;
struct lb_ofp;
struct lb_services;
struct ofputil_flow_removed;
struct ofputil_flow_stats;

enum lb_stateful_table {
    LB_T_CLASSIFY = 0,
    LB_T_BALANCE,
    LB_T_PICK,
    LB_T_FORWARD,
    LB_T_REPLY,
    LB_T_CLIENTS,
    LB_T_AFFINITY,
    LB_T_ARP,
};

#define LB_CT_ZONE 27746        /* The balancer's conntrack zone ("lb"). */

/* Most buckets of a Maglev group: Open vSwitch selects by dp_hash, without
 * a datapath flow per connection, only in groups of up to 256 buckets. */
#define LB_STATEFUL_MAX_SLOTS 251

/* A member with flows in the switch, as they were built. */
struct lb_stateful_member {
    struct hmap_node node;      /* By backend address, protocol, port. */
    ovs_be32 vip;
    uint8_t proto;
    uint16_t vport;
    ovs_be32 ip;
    uint16_t port;
    struct eth_addr mac;
    ofp_port_t ofport;
};

/* What one switch should hold. */
struct lb_stateful {
    bool built;
    uint32_t fingerprint;       /* Of what it was built from. */
    struct lb_flow_set flows;
    struct hmap groups;         /* "struct lb_stateful_group"s. */
    struct hmap members;        /* "struct lb_stateful_member"s built. */
    struct hmap leaving;        /* Those that left, while their flows live. */
};

void lb_stateful_init(struct lb_stateful *);
void lb_stateful_destroy(struct lb_stateful *);
void lb_stateful_clear(struct lb_stateful *);

bool lb_stateful_supported(enum ofputil_protocol);
/* How often the switch's flows are read back, to restore what others
 * changed. */
#define LB_STATEFUL_AUDIT_MS 5000

void lb_stateful_update(struct lb_stateful *, const struct lb_config *,
                        struct lb_services *, const struct lb_ofp *,
                        const struct lb_flow_set *found,
                        const char *audit_name);
bool lb_stateful_is_stale(const struct lb_stateful *, struct lb_services *);

bool lb_stateful_adopt_flow(struct lb_services *, const char *switch_name,
                            const struct ofputil_flow_stats *, bool audit,
                            struct lb_flow_set *found);
bool lb_stateful_flow_removed(struct lb_stateful *, struct lb_services *,
                              const struct ofputil_flow_removed *);
void lb_stateful_count(struct lb_services *,
                       const struct ofputil_flow_stats *);
void lb_stateful_format(const struct lb_stateful *, struct ds *);

#endif /* lb-stateful.h */

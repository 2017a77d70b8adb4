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

#ifndef LB_SERVICE_H
#define LB_SERVICE_H 1

/* The services on one switch, their members and the backends behind them,
 * each keyed for the lookups the balancer makes on every packet:
 *
 *   - a service by its name;
 *   - a VIP by its address (several services may share one), and in a VIP
 *     a service by the traffic it takes (protocol and port);
 *   - a member by the traffic it sends back (backend IP, protocol, port):
 *     lb_config_check() makes that unique;
 *   - a backend by its IP (several services may share one: it is one
 *     backend with one location and one health, and a member of each).
 *
 * A service picks members for new sessions through its scheduler, which
 * it keeps up to date with which members are usable: the backend is up,
 * its location known, and the member's weight above 0. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/lb-check.h"
#include "lib/lb-config.h"
#include "lib/lb-flows.h"
#include "lib/lb-health.h"
#include "lib/lb-scheduler.h"
#include "lib/lb-stats.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/types.h"

/* Where a backend is.  Only its answers to the balancer's probes, or the
 * balancer's own flows read back, say so. */
struct lb_location {
    bool known;
    struct eth_addr mac;
    ofp_port_t ofport;
};

struct lb_backend {
    struct hmap_node node;      /* In lb_services' 'backends', by IP. */
    ovs_be32 ip;
    ovs_be32 probe_spa;         /* The VIP its probes come from. */
    struct lb_location loc;
    struct lb_health health;
    struct ovs_list members;    /* "struct lb_member"s, 'backend_node'. */
};

/* A backend as a part of one service. */
struct lb_member {
    struct hmap_node node;      /* In lb_services' 'members'. */
    struct ovs_list backend_node;   /* In its backend's 'members'. */
    struct lb_service *service;
    struct lb_backend *backend;
    uint16_t port;              /* 0 for a whole-IP service. */
    unsigned int weight;
    bool draining;              /* No new sessions; see lb_backend_config. */
    size_t index;               /* In the service's 'members' and 'sched'. */
    struct ovs_list sessions;   /* "struct lb_session"s, 'member_node'. */
    struct lb_member_stats stats;
    struct lb_check check;      /* If its service has a health check. */
    bool drained;               /* Stateful datapath: draining, and the
                                 * switch saw no traffic to it for the idle
                                 * timeout. */
};

struct lb_service {
    struct hmap_node name_node; /* In lb_services' 'by_name'. */
    struct hmap_node vip_node;  /* In its lb_vip's 'services'. */
    struct lb_service_config cfg;   /* A copy of its own. */
    uint32_t id;                /* Unique on the switch. */

    struct lb_member **members; /* In configuration order. */
    size_t n_members;
    struct lb_sched_member *sched;  /* The scheduler's view of each. */
    struct lb_scheduler *scheduler;
    bool sched_stale;           /* Tell the scheduler before it picks. */

    /* For lb-switch. */
    struct lb_binding_tmpl tmpl;    /* Its sessions' messages. */
    bool unavailable;           /* Said that no backend is usable? */
    long long int reject_second;    /* For rate-limiting rejects. */
    unsigned int n_rejects;         /* Rejects sent in that second. */
};

/* Several services' shared VIP. */
struct lb_vip {
    struct hmap_node node;      /* In lb_services' 'vips', by IP. */
    ovs_be32 ip;
    struct hmap services;       /* "struct lb_service"s, by proto and port. */
    struct lb_service *whole_ip;    /* Its whole-IP service, if any. */
    long long int ping_second;  /* For rate-limiting ping answers. */
    unsigned int n_pings;       /* Answers sent in that second. */
};

/* The hash of an address, for the tables of clients, sessions, VIPs and
 * backends: a multiplication (Fibonacci hashing), whose upper half mixes
 * every bit of 'ip' into the low bits that pick a bucket.  On every
 * packet-in's path, several times. */
static inline uint32_t
lb_hash_ip(ovs_be32 ip)
{
    return ((OVS_FORCE uint32_t) ip * UINT64_C(0x9e3779b97f4a7c15)) >> 32;
}

/* Which addresses may be in a set of a few: one bit per address, of 256.
 * Every packet-in looks up its addresses as VIPs and as backends, and most
 * are clients', neither: for those, the answer is one bit, not a hash
 * table's lookup. */
struct lb_ip_filter {
    uint64_t bits[4];
};

static inline uint32_t
lb_ip_filter_bit__(ovs_be32 ip)
{
    return lb_hash_ip(ip) % 256;
}

static inline bool
lb_ip_filter_may_have(const struct lb_ip_filter *f, ovs_be32 ip)
{
    uint32_t bit = lb_ip_filter_bit__(ip);
    return (f->bits[bit / 64] >> (bit % 64)) & 1;
}

struct lb_services {
    struct hmap by_name;        /* "struct lb_service"s, 'name_node'. */
    struct hmap vips;           /* "struct lb_vip"s. */
    struct hmap members;        /* "struct lb_member"s. */
    struct hmap backends;       /* "struct lb_backend"s. */
    struct lb_ip_filter vip_filter;     /* The addresses in 'vips'... */
    struct lb_ip_filter backend_filter; /* ...and in 'backends'. */
    uint32_t next_id;
    struct lb_checker checker;  /* The members' health checks. */
};

void lb_services_init(struct lb_services *);
void lb_services_destroy(struct lb_services *);

struct lb_service *lb_services_add(struct lb_services *,
                                   const struct lb_service_config *);
void lb_services_remove(struct lb_services *, struct lb_service *);
void lb_services_update(struct lb_services *, struct lb_service *,
                        const struct lb_service_config *);
bool lb_services_can_update(const struct lb_service *,
                            const struct lb_service_config *);

struct lb_service *lb_services_find_name(const struct lb_services *,
                                         const char *name);
struct lb_service *lb_services_find_exact(const struct lb_services *,
                                          ovs_be32 vip, uint8_t proto,
                                          uint16_t port);
struct lb_vip *lb_services_find_vip__(const struct lb_services *, ovs_be32);

static inline struct lb_vip *
lb_services_find_vip(const struct lb_services *svcs, ovs_be32 ip)
{
    return (lb_ip_filter_may_have(&svcs->vip_filter, ip)
            ? lb_services_find_vip__(svcs, ip) : NULL);
}
struct lb_service *lb_vip_find_service(const struct lb_vip *, uint8_t proto,
                                       uint16_t dst_port);
struct lb_member *lb_services_find_member(const struct lb_services *,
                                          ovs_be32 ip, uint8_t proto,
                                          uint16_t src_port);
struct lb_backend *lb_services_find_backend__(const struct lb_services *,
                                              ovs_be32 ip);

static inline struct lb_backend *
lb_services_find_backend(const struct lb_services *svcs, ovs_be32 ip)
{
    return (lb_ip_filter_may_have(&svcs->backend_filter, ip)
            ? lb_services_find_backend__(svcs, ip) : NULL);
}
struct lb_member *lb_service_find_member(const struct lb_service *,
                                         ovs_be32 ip, uint16_t port);

void lb_backend_changed(struct lb_backend *);
void lb_service_refresh(struct lb_service *);
struct lb_member *lb_service_pick(struct lb_service *, uint32_t hash);
void lb_member_count_session(struct lb_member *, int delta);
size_t lb_member_n_sessions(const struct lb_member *);
bool lb_member_is_usable(const struct lb_member *);

#endif /* lb-service.h */

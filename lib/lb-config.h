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

#ifndef LB_CONFIG_H
#define LB_CONFIG_H 1

/* What the balancer is told to do: its services and their backends, the
 * MAC it answers with, flow timeouts and the fallback for other traffic.
 *
 * A service is a VIP, a protocol and, for TCP and UDP, a port: the lab's
 * whole-IP service (protocol "none") takes all IPv4 to its VIP.  A VIP may
 * carry several services; a backend is an IP and, for TCP and UDP, a port
 * (the VIP's by default), with a weight.
 *
 * The parse functions return NULL on success or a malloc()'d message that
 * names the bad value, for the caller to print and free. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "openvswitch/types.h"

struct ds;
struct lb_scheduler_class;

/* What the switch does with traffic that is not the balancer's. */
enum lb_fallback {
    LB_FALLBACK_NORMAL,         /* Forward it as a normal switch would. */
    LB_FALLBACK_DROP,           /* Drop it. */
};

/* What happens to a service's traffic while none of its servers is up. */
enum lb_no_backend {
    LB_NO_BACKEND_DROP,         /* Drop it. */
    LB_NO_BACKEND_REJECT,       /* Answer with ICMP host unreachable. */
};

/* Where new connections are balanced. */
enum lb_datapath {
    LB_DATAPATH_REACTIVE,       /* By the balancer, per client (the lab's). */
    LB_DATAPATH_STATEFUL,       /* By the switch: select groups, conntrack. */
};

/* What happens, in the stateful datapath, to the connections of a backend
 * that leaves a service (disabled or deleted). */
enum lb_removed {
    LB_REMOVED_KEEP,            /* They go on until idle. */
    LB_REMOVED_RESET,           /* Their conntrack entries are flushed. */
};

/* What happens to a new client when the client table is full. */
enum lb_overflow {
    LB_OVERFLOW_REFUSE,         /* It is not served. */
    LB_OVERFLOW_EVICT,          /* The least recently used idle entry goes. */
};

/* What keeps a client's traffic on one backend. */
enum lb_affinity {
    LB_AFFINITY_CLIENT,         /* The client's IP: all its connections. */
    LB_AFFINITY_CONNECTION,     /* Each TCP or UDP connection (5-tuple). */
};

/* A service's protocol: a whole-IP service balances all IPv4 to its VIP. */
#define LB_PROTO_NONE 0

#define LB_MAX_WEIGHT 100
#define LB_DEFAULT_WEIGHT 1
#define LB_MAX_BACKENDS 10000   /* Per service. */

struct lb_backend_config {
    ovs_be32 ip;
    uint16_t port;              /* 0 for a whole-IP service. */
    unsigned int weight;        /* 0 to LB_MAX_WEIGHT; 0 takes no one new. */
    bool draining;              /* Takes no one new; its clients keep it
                                 * while their flows live, then leave. */
};

/* How a service's backends are checked, beyond ARP. */
enum lb_check_kind {
    LB_CHECK_NONE,              /* Not: ARP alone. */
    LB_CHECK_TCP,               /* A SYN; a SYN-ACK passes. */
    LB_CHECK_HTTP,              /* GET 'path'; a status in the range passes. */
    LB_CHECK_UDP,               /* A datagram; ICMP unreachable fails. */
};

struct lb_check_config {
    enum lb_check_kind kind;
    char *path;                 /* LB_CHECK_HTTP: what to GET. */
    char *expect;               /* HTTP: a string the answer must hold;
                                 * UDP: if nonnull, a reply is needed (and
                                 * must hold it, unless empty). */
    int status_min, status_max; /* LB_CHECK_HTTP: the statuses that pass. */
    int interval;               /* Milliseconds between checks. */
    int timeout;                /* Milliseconds for an answer. */
    int rise, fall;             /* Results in a row that change the state. */
    int slow_start;             /* Seconds for the weight to come back. */
    ovs_be32 source;            /* The checks' source IP, 0 for the VIP. */
};

#define LB_CHECK_DEFAULT_INTERVAL 2000
#define LB_CHECK_DEFAULT_TIMEOUT 1000
#define LB_CHECK_DEFAULT_RISE 2
#define LB_CHECK_DEFAULT_FALL 3

/* One balanced service. */
struct lb_service_config {
    char *name;
    ovs_be32 vip;
    uint8_t proto;              /* LB_PROTO_NONE, IPPROTO_TCP, IPPROTO_UDP. */
    uint16_t port;              /* 0 for a whole-IP service. */
    enum lb_affinity affinity;
    const struct lb_scheduler_class *scheduler;
    struct lb_backend_config *backends;     /* In the order given. */
    size_t n_backends;
    struct lb_check_config check;
};

struct lb_config {
    struct eth_addr lb_mac;     /* Source of everything the LB sends. */
    uint64_t cookie;            /* On every flow the balancer installs. */
    int idle_timeout;           /* Per-client flows, in seconds (0: none). */
    int hard_timeout;           /* Per-client flows, in seconds (0: none). */
    int client_timeout;         /* Keep a mapping this long with no flows. */
    int probe_interval;         /* Seconds between ARP probes of backends. */
    int probe_misses;           /* Unanswered probes before a backend is
                                 * down. */
    size_t max_clients;         /* Per switch: clients, and sessions. */
    enum lb_overflow overflow;
    enum lb_fallback fallback;
    enum lb_no_backend no_backend;
    int stats_interval;         /* Seconds between reads of the switches'
                                 * counters (0: never). */
    enum lb_datapath datapath;
    enum lb_removed removed_connections;

    struct lb_service_config *services;
    size_t n_services;
};

/* Defaults, as in the lab the balancer comes from. */
#define LB_DEFAULT_MAC "00:00:00:00:00:fe"
#define LB_DEFAULT_COOKIE UINT64_C(0x6f76736c62)  /* "ovslb" */
#define LB_DEFAULT_IDLE_TIMEOUT 10
#define LB_DEFAULT_CLIENT_TIMEOUT 300
#define LB_DEFAULT_PROBE_INTERVAL 2
#define LB_DEFAULT_PROBE_MISSES 3
#define LB_DEFAULT_MAX_CLIENTS 1000000
#define LB_DEFAULT_STATS_INTERVAL 10

void lb_config_init(struct lb_config *);
void lb_config_destroy(struct lb_config *);
void lb_config_clone(struct lb_config *dst, const struct lb_config *src);

char *lb_config_add_service(struct lb_config *, const char *spec)
    OVS_WARN_UNUSED_RESULT;
char *lb_config_add_lab_service(struct lb_config *, const char *vip,
                                const char *servers)
    OVS_WARN_UNUSED_RESULT;
char *lb_config_set(struct lb_config *, const char *name, const char *value)
    OVS_WARN_UNUSED_RESULT;
bool lb_config_is_setting(const char *name);
char *lb_config_check(const struct lb_config *) OVS_WARN_UNUSED_RESULT;
bool lb_config_vip_is_whole_ip(const struct lb_config *, ovs_be32 vip);

char *lb_service_config_init(struct lb_service_config *, const char *name,
                             const char *vip, const char **opts,
                             size_t n_opts) OVS_WARN_UNUSED_RESULT;
char *lb_service_config_add_backend(struct lb_service_config *,
                                    const char *ip, int port,
                                    unsigned int weight, bool draining)
    OVS_WARN_UNUSED_RESULT;
void lb_config_append_service(struct lb_config *,
                              struct lb_service_config *);
void lb_service_config_clone(struct lb_service_config *dst,
                             const struct lb_service_config *src);
void lb_service_config_destroy(struct lb_service_config *);
bool lb_service_config_equal(const struct lb_service_config *,
                             const struct lb_service_config *);
void lb_service_config_format(const struct lb_service_config *,
                              struct ds *);

const char *lb_fallback_to_string(enum lb_fallback);
const char *lb_datapath_to_string(enum lb_datapath);
const char *lb_check_kind_to_string(enum lb_check_kind);
bool lb_is_check_option(const char *name);
bool lb_check_config_equal(const struct lb_check_config *,
                           const struct lb_check_config *);
const char *lb_affinity_to_string(enum lb_affinity);
const char *lb_proto_to_string(uint8_t proto);
void lb_format_endpoint(struct ds *, ovs_be32 ip, uint16_t port);

char *lb_parse_unicast_ip(const char *s, ovs_be32 *ip)
    OVS_WARN_UNUSED_RESULT;

#endif /* lb-config.h */

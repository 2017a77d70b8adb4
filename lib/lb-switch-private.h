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

#ifndef LB_SWITCH_PRIVATE_H
#define LB_SWITCH_PRIVATE_H 1

/* The insides of an lb_switch, shared by lb-switch.c (tables, packets,
 * timers) and lb-resync.c (reconciling them with the switch's flow
 * table).  Nothing else should include this. */

#include "lib/lb-ofp.h"
#include "lib/lb-scheduler.h"
#include "lib/lb-template.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/types.h"

struct hmapx;
struct lb_config;
struct lb_service_config;

/* A backend server, as the balancer knows it on this switch.  A backend of
 * several services is one lb_backend shared by their lb_members.  Its
 * identity (MAC and port) comes only from answers to the balancer's own
 * probes, or from flows the balancer itself installed. */
enum lb_backend_state {
    LB_BACKEND_UNKNOWN,         /* Has never answered a probe. */
    LB_BACKEND_UP,              /* Answers; takes clients. */
    LB_BACKEND_DOWN,            /* Stopped answering; takes none. */
};

struct lb_backend {
    struct hmap_node node;      /* In lb_switch's 'backends', by IP. */
    ovs_be32 ip;
    ovs_be32 probe_spa;         /* The VIP its probes come from. */
    enum lb_backend_state state;
    struct eth_addr mac;        /* Valid unless LB_BACKEND_UNKNOWN. */
    ofp_port_t port;            /* Valid unless LB_BACKEND_UNKNOWN. */
    bool answered;              /* Answered since the last probe? */
    int misses;                 /* Probes unanswered in a row. */
};

/* A backend as a part of one service. */
struct lb_member {
    struct lb_backend *backend;
    size_t n_clients;           /* Mappings to this member. */
};

/* A service on this switch. */
struct lb_service {
    const struct lb_service_config *cfg;
    struct lb_switch *sw;
    struct lb_member *members;  /* One per cfg->backends, in order. */
    struct lb_candidate *candidates;    /* Scratch space for scheduling. */
    struct lb_scheduler *scheduler;
    struct hmap mappings;       /* "struct lb_mapping"s by client IP. */

    /* What every new client of the service takes: its two flows, and the
     * packet-out of its first packet. */
    struct lb_tmpl c2s_flow, s2c_flow, c2s_packet_out;

    bool unavailable;           /* Said that no server is up? */
    long long int reject_second;        /* For rate-limiting rejects. */
    unsigned int n_rejects;             /* Rejects sent in that second. */
};

/* A host that sent traffic to a VIP or asked for one. */
struct lb_client {
    struct hmap_node node;      /* In lb_switch's 'clients', by IP. */
    struct ovs_list idle_node;  /* In 'idle_clients' if no mappings. */
    ovs_be32 ip;
    struct eth_addr mac;
    ofp_port_t port;
    long long int last_seen;
    size_t n_mappings;
};

/* Which of a mapping's two flows the switch has. */
enum lb_flow_dir {
    LB_C2S,                     /* Client to VIP, rewritten to the server. */
    LB_S2C,                     /* Server to client, rewritten from VIP. */
};
#define LB_FLOW_BIT(DIR) (1u << (DIR))
#define LB_FLOWS_BOTH (LB_FLOW_BIT(LB_C2S) | LB_FLOW_BIT(LB_S2C))

/* A client's assignment to a server within one service.  It outlives its
 * flows by the configured client timeout, so a client that comes back goes
 * to the same server. */
struct lb_mapping {
    struct hmap_node node;      /* In lb_service's 'mappings', by IP. */
    struct ovs_list idle_node;  /* In 'idle_mappings' if no flows. */
    struct lb_service *service;
    struct lb_client *client;
    struct lb_member *member;
    unsigned int flows;         /* LB_FLOW_BIT()s of flows believed in. */
    unsigned int seen;          /* Flows seen while resyncing. */
    long long int installed_at; /* When the flows were last sent. */
    long long int idle_since;   /* When 'flows' became 0. */
};

struct lb_switch {
    const struct lb_config *cfg;
    uint64_t dpid;
    char name[17];              /* 'dpid' in hex, for logging. */

    bool connected;
    struct lb_ofp ofp;          /* How to talk to the switch. */
    const struct hmapx *ports;  /* The switch's ports, while connected. */

    struct hmap backends;       /* "struct lb_backend"s by IP. */
    struct lb_service *services;
    size_t n_services;
    struct hmap clients;        /* "struct lb_client"s by IP. */

    /* Oldest first, so that expiry looks only at the front. */
    struct ovs_list idle_clients;       /* Clients with no mapping. */
    struct ovs_list idle_mappings;      /* Mappings with no flows. */

    long long int next_probe;   /* When to probe the backends next. */

    /* Decisions logged and not logged in 'log_second'. */
    long long int log_second;
    unsigned int n_logged, n_unlogged;
    struct lb_tmpl arp_reply;   /* The LB's answer to ARP. */

    /* While the balancer reads back its flows after connecting, packet-ins
     * wait here (up to a bound) for the tables to be right. */
    bool resyncing;
    struct ovs_list held;       /* Copies of held packet-ins. */
    size_t n_held;
    size_t resync_kept, resync_deleted;     /* Flows so far. */
    struct ovs_list resync_later;   /* Flows to look at again at the end. */
};

/* Used by lb-resync.c. */
uint32_t lb_hash_ip(ovs_be32);
struct lb_backend *lb_find_backend(const struct lb_switch *, ovs_be32 ip);
struct lb_service *lb_find_service(const struct lb_switch *, ovs_be32 vip);
struct lb_client *lb_find_client(const struct lb_switch *, ovs_be32 ip);
struct lb_mapping *lb_find_mapping(const struct lb_service *,
                                   ovs_be32 client_ip);
struct lb_client *lb_add_client(struct lb_switch *, ovs_be32 ip,
                                struct eth_addr, ofp_port_t,
                                long long int now);
struct lb_mapping *lb_add_mapping(struct lb_switch *, struct lb_service *,
                                  struct lb_client *, struct lb_member *,
                                  long long int now);
void lb_mapping_set_flows(struct lb_switch *, struct lb_mapping *,
                          unsigned int flows, long long int now);
struct lb_member *lb_service_find_member(struct lb_service *,
                                         const struct lb_backend *);

void lb_resync_start(struct lb_switch *);
void lb_resync_abort(struct lb_switch *);
void lb_resync_reply(struct lb_switch *, const struct ofp_header *,
                     long long int now);

#endif /* lb-switch-private.h */

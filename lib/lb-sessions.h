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

#ifndef LB_SESSIONS_H
#define LB_SESSIONS_H 1

/* The clients a switch's balancer knows and their sessions: which member
 * of a service each client (or, per connection, each of its connections)
 * is bound to.  As lib/mac-learning.c does for MACs, this module keeps the
 * tables bounded, ordered by use, and expires what is idle:
 *
 *   - a session whose flows are gone is kept for the client timeout, so
 *     that a client that comes back goes to the same backend;
 *   - a client with no session is kept for the client timeout after it was
 *     last seen (it may have asked for the VIP and not sent yet);
 *   - there are at most 'max' clients and 'max' sessions; when full, a new
 *     one takes the place of the least recently used idle one if eviction
 *     is on.
 *
 * A session is found through its client: in the client's list of sessions
 * while it has few (nearly every client has one per service), and in a
 * table of sessions once it has more (per connection, a client may have
 * thousands).  A new client's session then costs no table of its own:
 * no bucket to look up and miss, none to insert into and move as the
 * table grows, no buckets in memory.
 *
 * It does no I/O and takes the time as an argument. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/lb-flows.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "lib/lb-table.h"
#include "openvswitch/types.h"

struct simap;

struct ds;
struct lb_member;
struct lb_service;
struct lb_services;

/* A host that sent traffic to a VIP or asked for one. */
struct lb_client {
    struct hmap_node node;      /* In lb_sessions' 'clients', by IP. */
    union {
        struct ovs_list idle_node;  /* In 'idle_clients' if no sessions; */
        struct ovs_list sessions;   /* else its "struct lb_session"s. */
    };
    ovs_be32 ip;
    struct eth_addr mac;
    bool sessions_hashed;       /* Its sessions are in 'sessions' too. */
    ofp_port_t ofport;
    long long int last_seen;
    uint32_t n_sessions;
    uint32_t arp_seen_epoch;    /* Its ARP guard was read back then. */
};

/* A client's (or one of its connections') binding to a member of a
 * service. */
struct lb_session {
    struct hmap_node node;      /* In 'sessions', if its client's are. */
    struct ovs_list idle_node;  /* In 'idle_sessions' if no flows. */
    struct ovs_list member_node;    /* In its member's 'sessions'. */
    struct ovs_list client_node;    /* In its client's 'sessions'. */
    struct lb_member *member;   /* Its service is the member's. */
    struct lb_client *client;
    ovs_be16 client_port;       /* Per connection, the source port; or 0. */
    uint8_t flows;              /* LB_FLOW_BIT()s of flows believed in. */
    uint8_t seen;               /* Flows seen while reading them back... */
    uint32_t seen_epoch;        /* ...in this resync (see lb-resync.c). */
    long long int installed_at; /* When the flows were last sent. */
    long long int idle_since;   /* When 'flows' became 0. */
};

struct lb_sessions {
    struct lb_table clients;    /* "struct lb_client"s. */
    struct lb_table sessions;   /* Sessions of clients with many. */
    size_t n_sessions;          /* All sessions. */

    /* Oldest first, so that expiry looks only at the front. */
    struct ovs_list idle_clients;   /* Clients with no session... */
    size_t n_idle_clients;          /* ...and how many. */
    struct ovs_list idle_sessions;  /* Sessions with no flows. */

    /* Told of each client that is added ('added') or forgotten. */
    void (*client_hook)(void *aux, struct lb_client *, bool added);
    void *hook_aux;

    size_t max;                 /* Most clients, and most sessions. */
    bool evict;                 /* Make room when full? */
    long long int timeout;      /* Client timeout, in ms. */
};

void lb_sessions_reserve(size_t n);
void lb_sessions_get_memory_usage(struct simap *);
void lb_sessions_init(struct lb_sessions *, size_t max, bool evict,
                      int timeout_s);
void lb_sessions_set_limits(struct lb_sessions *, size_t max, bool evict,
                            int timeout_s);
void lb_sessions_destroy(struct lb_sessions *);

struct lb_client *lb_sessions_find_client(const struct lb_sessions *,
                                          ovs_be32 ip);
void lb_sessions_prefetch(struct lb_sessions *, ovs_be32 client_ip);
void lb_sessions_prefetch_entries(struct lb_sessions *);
struct lb_client *lb_sessions_add_client(struct lb_sessions *, ovs_be32 ip,
                                         struct eth_addr, ofp_port_t,
                                         long long int now);
void lb_sessions_saw_client(struct lb_sessions *, struct lb_client *,
                            long long int now);

struct lb_session *lb_sessions_find(const struct lb_sessions *,
                                    const struct lb_service *,
                                    ovs_be32 client_ip, ovs_be16 client_port);
struct lb_session *lb_sessions_find_of_client(const struct lb_sessions *,
                                              const struct lb_client *,
                                              const struct lb_service *,
                                              ovs_be16 client_port);
struct lb_session *lb_sessions_add(struct lb_sessions *, struct lb_member *,
                                   struct lb_client *, ovs_be16 client_port,
                                   long long int now);
void lb_sessions_remove(struct lb_sessions *, struct lb_session *,
                        long long int now);
void lb_sessions_set_flows(struct lb_sessions *, struct lb_session *,
                           unsigned int flows, long long int now);

bool lb_sessions_make_room(struct lb_sessions *, bool for_client,
                           long long int now);

/* Makes room for a new client (if 'for_client') or a new session, by
 * evicting the least recently used idle entries if eviction is on; entries
 * whose flows are in use never go.  Returns false if there is no room.
 * Inline: below the limit, which is every time in the common case, it is
 * a comparison. */
static inline bool
lb_sessions_has_room(struct lb_sessions *s, bool for_client,
                     long long int now)
{
    size_t n = for_client ? lb_table_count(&s->clients) : s->n_sessions;
    return n < s->max || lb_sessions_make_room(s, for_client, now);
}

struct lb_session *lb_sessions_expired(const struct lb_sessions *,
                                       long long int now);
struct lb_client *lb_sessions_expired_client(const struct lb_sessions *,
                                             long long int now);
void lb_sessions_remove_client(struct lb_sessions *, struct lb_client *);
long long int lb_sessions_next_expiry(const struct lb_sessions *);

size_t lb_sessions_count_clients(const struct lb_sessions *);
size_t lb_sessions_count(const struct lb_sessions *);
size_t lb_sessions_count_idle_clients(const struct lb_sessions *);

struct lb_session *lb_sessions_find_binding(const struct lb_sessions *,
                                            const struct lb_services *,
                                            const struct lb_binding *,
                                            enum lb_flow_dir);
void lb_session_binding(const struct lb_session *, struct lb_binding *);
void lb_session_format(const struct lb_session *, struct ds *);

#endif /* lb-sessions.h */

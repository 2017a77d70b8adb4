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
#include "lib/lb-sessions.h"

#include <limits.h>

#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "simap.h"
#include "lib/lb-pool.h"
#include "lib/lb-service.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_sessions);

/* The clients and sessions of all switches, from pools of the whole
 * process: with many switches, each would otherwise grow its own blocks
 * from a few kilobytes, in pages no one touched before (a page fault every
 * 4 kB), where shared blocks soon reach huge pages; and a switch that goes
 * leaves its objects to the others. */
static struct lb_pool client_pool;
static struct lb_pool session_pool;

/* How many clients lb_sessions_reserve() set memory aside for, and a
 * client table made for them, for the next switch to connect. */
static size_t reserved;
static struct lb_table spare_clients;

/* The switches' lb_sessions in existence, whose objects share the pools. */
static size_t n_tables;

static void
init_pools(void)
{
    if (!client_pool.size) {
        lb_pool_init(&client_pool, sizeof(struct lb_client));
        lb_pool_init(&session_pool, sizeof(struct lb_session));
        lb_table_init(&spare_clients);
    }
}

/* Sets aside memory for 'n' clients with a session each, for all switches
 * together, and a client table with room for 'n', and touches all of it at
 * once: the first 'n' clients then find their memory ready, where each
 * would otherwise bring about 210 bytes that the kernel gives a page at a
 * time, at a page fault each (and, on a virtual machine, that its host may
 * have to back first): about half of what a new client costs.  The first
 * switch to connect takes the table, and a switch that goes leaves its
 * table to the next; the others grow theirs as clients come (a table with
 * room for 'n' for each would cost 32 bytes per reserved client per
 * switch, 4 GB for 2,000,000 clients and 64 switches).  Call before any
 * switch connects. */
void
lb_sessions_reserve(size_t n)
{
    init_pools();
    lb_pool_reserve(&client_pool, n);
    lb_pool_reserve(&session_pool, n);
    lb_table_reserve_ahead(&spare_clients, n);
    reserved = n;
}

void
lb_sessions_init(struct lb_sessions *s, size_t max, bool evict,
                 int timeout_s)
{
    init_pools();
    n_tables++;
    lb_table_init(&s->clients);
    if (reserved) {
        lb_table_swap(&s->clients, &spare_clients);
    }
    lb_table_init(&s->sessions);
    s->n_sessions = 0;
    ovs_list_init(&s->idle_clients);
    s->n_idle_clients = 0;
    ovs_list_init(&s->idle_sessions);
    lb_sessions_set_limits(s, max, evict, timeout_s);
}

/* The client table starts with room for LB_SESSIONS_FIRST entries (or
 * 'max', if fewer) and grows as it fills (see lb-table.h).  Reserving room
 * for 'max' at once would cost 32 bytes per entry of 'max' per switch, and
 * a new client would touch a page of buckets nobody touched before.  The
 * first switch's, after lb_sessions_reserve(), has room for the reserved
 * clients from the start.  The sessions table, which holds only the
 * sessions of clients with many, starts empty. */
#define LB_SESSIONS_FIRST 4096

void
lb_sessions_set_limits(struct lb_sessions *s, size_t max, bool evict,
                       int timeout_s)
{
    s->max = max;
    s->evict = evict;
    s->timeout = timeout_s * 1000LL;
    lb_table_reserve(&s->clients, MIN(max, LB_SESSIONS_FIRST));
}

/* Adds the clients that lb_sessions_reserve() set memory aside for, if any,
 * and how many clients and sessions the pools hold in all (in use or free:
 * the pools keep what they have). */
void
lb_sessions_get_memory_usage(struct simap *usage)
{
    if (reserved) {
        simap_increase(usage, "reserved-clients", reserved);
    }
    simap_increase(usage, "client-pool", lb_pool_capacity(&client_pool));
    simap_increase(usage, "session-pool", lb_pool_capacity(&session_pool));
}

/* Frees everything, without touching the members (their services go too,
 * and forget their sessions: lb_services_destroy()). */
void
lb_sessions_destroy(struct lb_sessions *s)
{
    ovs_assert(n_tables);
    if (--n_tables) {
        /* Other switches' objects share the pools' blocks. */
        struct lb_client *client;

        lb_table_settle(&s->clients);
        HMAP_FOR_EACH_POP (client, node, &s->clients.cur) {
            if (client->n_sessions) {
                struct lb_session *session;
                LIST_FOR_EACH_POP (session, client_node, &client->sessions) {
                    lb_pool_free(&session_pool, session);
                }
            }
            lb_pool_free(&client_pool, client);
        }
        if (reserved && (lb_table_buckets(&s->clients)
                         > lb_table_buckets(&spare_clients))) {
            lb_table_swap(&s->clients, &spare_clients);
        }
    } else {
        /* The last switch's: every object in the pools is its own, and all
         * go at once, with the memory set aside (one by one, a few million
         * clients took most of a second at exit). */
        lb_pool_destroy(&client_pool);
        lb_pool_destroy(&session_pool);
        reserved = 0;
    }
    lb_table_destroy(&s->sessions);
    lb_table_destroy(&s->clients);
}

size_t
lb_sessions_count_clients(const struct lb_sessions *s)
{
    return lb_table_count(&s->clients);
}

/* The clients without a session. */
size_t
lb_sessions_count_idle_clients(const struct lb_sessions *s)
{
    return s->n_idle_clients;
}

size_t
lb_sessions_count(const struct lb_sessions *s)
{
    return s->n_sessions;
}

static uint32_t
hash_session(const struct lb_service *svc, ovs_be32 client_ip,
             ovs_be16 client_port)
{
    /* One hash of all three: a client with many connections looks its
     * sessions up with it at each new one. */
    return lb_hash_ip(client_ip ^ (OVS_FORCE ovs_be32) (svc->id * 0x9e3779b1u)
                      ^ (OVS_FORCE ovs_be32) (OVS_FORCE uint16_t) client_port);
}

/* Clients. */

struct lb_client *
lb_sessions_find_client(const struct lb_sessions *s, ovs_be32 ip)
{
    struct lb_client *client;

    LB_TABLE_FOR_EACH_WITH_HASH (client, node, lb_hash_ip(ip), &s->clients) {
        if (client->ip == ip) {
            return client;
        }
    }
    return NULL;
}

/* Starts loading the bucket where the client with 'client_ip' would be,
 * so that looking it (and through it, its sessions) up a little later does
 * not wait for memory; lb_sessions_prefetch_entries() then loads what the
 * buckets point to. */
void
lb_sessions_prefetch(struct lb_sessions *s, ovs_be32 client_ip)
{
    lb_table_prefetch(&s->clients, lb_hash_ip(client_ip));
}

void
lb_sessions_prefetch_entries(struct lb_sessions *s)
{
    lb_table_prefetch_entries(&s->clients);
}

/* Adds a client, which the caller has made room for. */
struct lb_client *
lb_sessions_add_client(struct lb_sessions *s, ovs_be32 ip,
                       struct eth_addr mac, ofp_port_t ofport,
                       long long int now)
{
    struct lb_client *client = lb_pool_alloc(&client_pool);

    client->ip = ip;
    client->mac = mac;
    client->ofport = ofport;
    client->last_seen = now;
    lb_table_insert(&s->clients, &client->node, lb_hash_ip(ip));
    ovs_list_push_back(&s->idle_clients, &client->idle_node);
    s->n_idle_clients++;
    if (s->client_hook) {
        s->client_hook(s->hook_aux, client, true);
    }
    return client;
}

/* Notes that 'client' was seen at 'now'. */
void
lb_sessions_saw_client(struct lb_sessions *s, struct lb_client *client,
                       long long int now)
{
    client->last_seen = now;
    if (!client->n_sessions) {
        /* Keep 'idle_clients' in the order of 'last_seen'. */
        ovs_list_remove(&client->idle_node);
        ovs_list_push_back(&s->idle_clients, &client->idle_node);
    }
}

static void
forget_client(struct lb_sessions *s, struct lb_client *client)
{
    if (s->client_hook) {
        s->client_hook(s->hook_aux, client, false);
    }
    lb_pool_free(&client_pool, client);
}

/* Forgets 'client', which has no session. */
void
lb_sessions_remove_client(struct lb_sessions *s, struct lb_client *client)
{
    ovs_assert(!client->n_sessions);
    lb_table_remove(&s->clients, &client->node);
    ovs_list_remove(&client->idle_node);
    s->n_idle_clients--;
    forget_client(s, client);
}

/* Sessions. */

/* A client's sessions are in its list alone up to this many; with more,
 * in 'sessions' too (see lb-sessions.h). */
#define LB_LISTED_SESSIONS 8

/* Returns 'client''s session of 'svc' from 'client_port', or NULL. */
struct lb_session *
lb_sessions_find_of_client(const struct lb_sessions *s,
                           const struct lb_client *client,
                           const struct lb_service *svc,
                           ovs_be16 client_port)
{
    struct lb_session *session;

    if (!client->n_sessions) {
        return NULL;
    } else if (!client->sessions_hashed) {
        LIST_FOR_EACH (session, client_node, &client->sessions) {
            if (session->member->service == svc
                && session->client_port == client_port) {
                return session;
            }
        }
        return NULL;
    }
    LB_TABLE_FOR_EACH_WITH_HASH (session, node,
                                 hash_session(svc, client->ip, client_port),
                                 &s->sessions) {
        if (session->member->service == svc
            && session->client == client
            && session->client_port == client_port) {
            return session;
        }
    }
    return NULL;
}

struct lb_session *
lb_sessions_find(const struct lb_sessions *s, const struct lb_service *svc,
                 ovs_be32 client_ip, ovs_be16 client_port)
{
    const struct lb_client *client = lb_sessions_find_client(s, client_ip);

    return (client
            ? lb_sessions_find_of_client(s, client, svc, client_port)
            : NULL);
}

static void
hash_session_node(struct lb_sessions *s, struct lb_session *session)
{
    lb_table_insert(&s->sessions, &session->node,
                    hash_session(session->member->service,
                                 session->client->ip,
                                 session->client_port));
}

/* Binds 'client' (or its connection from 'client_port') to 'member'.  The
 * caller has made room.  A new session has no flows yet. */
struct lb_session *
lb_sessions_add(struct lb_sessions *s, struct lb_member *member,
                struct lb_client *client, ovs_be16 client_port,
                long long int now)
{
    struct lb_session *session = lb_pool_alloc(&session_pool);

    session->member = member;
    session->client = client;
    session->client_port = client_port;
    session->idle_since = now;
    s->n_sessions++;
    ovs_list_push_back(&member->sessions, &session->member_node);
    ovs_list_push_back(&s->idle_sessions, &session->idle_node);
    lb_member_count_session(member, 1);
    if (!client->n_sessions++) {
        ovs_list_remove(&client->idle_node);
        s->n_idle_clients--;
        ovs_list_init(&client->sessions);
    }
    ovs_list_push_back(&client->sessions, &session->client_node);

    if (client->sessions_hashed) {
        hash_session_node(s, session);
    } else if (client->n_sessions > LB_LISTED_SESSIONS) {
        /* Too many to look through: into the table with all of them. */
        struct lb_session *other;
        LIST_FOR_EACH (other, client_node, &client->sessions) {
            hash_session_node(s, other);
        }
        client->sessions_hashed = true;
    }
    return session;
}

/* Forgets 'session'.  Its client goes too if it has no other session and
 * has not been seen for the client timeout, or if 'force'. */
static void
remove_session(struct lb_sessions *s, struct lb_session *session, bool force,
               long long int now)
{
    struct lb_client *client = session->client;

    if (client->sessions_hashed) {
        lb_table_remove(&s->sessions, &session->node);
    }
    s->n_sessions--;
    ovs_list_remove(&session->member_node);
    ovs_list_remove(&session->client_node);
    if (!session->flows) {
        ovs_list_remove(&session->idle_node);
    }
    lb_member_count_session(session->member, -1);
    lb_pool_free(&session_pool, session);

    if (!--client->n_sessions) {
        client->sessions_hashed = false;
        if (force || client->last_seen + s->timeout <= now) {
            lb_table_remove(&s->clients, &client->node);
            forget_client(s, client);
        } else {
            ovs_list_push_back(&s->idle_clients, &client->idle_node);
            s->n_idle_clients++;
        }
    }
}

void
lb_sessions_remove(struct lb_sessions *s, struct lb_session *session,
                   long long int now)
{
    remove_session(s, session, false, now);
}

/* Records that the switch has the flows 'flows' (LB_FLOW_BIT()s) of
 * 'session'. */
void
lb_sessions_set_flows(struct lb_sessions *s, struct lb_session *session,
                      unsigned int flows, long long int now)
{
    if (session->flows && !flows) {
        session->idle_since = now;
        ovs_list_push_back(&s->idle_sessions, &session->idle_node);
    } else if (!session->flows && flows) {
        ovs_list_remove(&session->idle_node);
    }
    session->flows = flows;
}

/* Limits. */

static struct lb_session *
oldest_idle_session(const struct lb_sessions *s)
{
    return (ovs_list_is_empty(&s->idle_sessions) ? NULL
            : CONTAINER_OF(ovs_list_front(&s->idle_sessions),
                           struct lb_session, idle_node));
}

static struct lb_client *
oldest_idle_client(const struct lb_sessions *s)
{
    return (ovs_list_is_empty(&s->idle_clients) ? NULL
            : CONTAINER_OF(ovs_list_front(&s->idle_clients),
                           struct lb_client, idle_node));
}

/* lb_sessions_has_room()'s slow path, at or above the limit. */
bool
lb_sessions_make_room(struct lb_sessions *s, bool for_client,
                      long long int now)
{
    if (!for_client) {
        struct lb_session *session = s->evict ? oldest_idle_session(s) : NULL;
        if (session) {
            VLOG_DBG("evicted session of client "IP_FMT,
                     IP_ARGS(session->client->ip));
            remove_session(s, session, false, now);
        }
        return session != NULL;
    }

    if (!s->evict) {
        return false;
    }
    struct lb_client *client = oldest_idle_client(s);
    if (client) {
        VLOG_DBG("evicted client "IP_FMT, IP_ARGS(client->ip));
        lb_sessions_remove_client(s, client);
        return true;
    }
    /* Idle sessions go until one takes its client with it. */
    struct lb_session *session;
    while ((session = oldest_idle_session(s))) {
        bool last = session->client->n_sessions == 1;

        VLOG_DBG("evicted client "IP_FMT" with its session",
                 IP_ARGS(session->client->ip));
        remove_session(s, session, true, now);
        if (last) {
            return true;
        }
    }
    return false;
}

/* Expiry. */

/* Returns the oldest session whose flows have been gone for the client
 * timeout at 'now', or NULL. */
struct lb_session *
lb_sessions_expired(const struct lb_sessions *s, long long int now)
{
    struct lb_session *session = oldest_idle_session(s);

    return (session && session->idle_since <= now - s->timeout
            ? session : NULL);
}

/* Returns the oldest client without sessions that has not been seen for
 * the client timeout at 'now', or NULL. */
struct lb_client *
lb_sessions_expired_client(const struct lb_sessions *s, long long int now)
{
    struct lb_client *client = oldest_idle_client(s);

    return (client && client->last_seen <= now - s->timeout
            ? client : NULL);
}

/* Returns when the next session or client expires, or LLONG_MAX. */
long long int
lb_sessions_next_expiry(const struct lb_sessions *s)
{
    const struct lb_session *session = oldest_idle_session(s);
    const struct lb_client *client = oldest_idle_client(s);
    long long int next = LLONG_MAX;

    if (session) {
        next = MIN(next, session->idle_since + s->timeout);
    }
    if (client) {
        next = MIN(next, client->last_seen + s->timeout);
    }
    return next;
}

/* Returns the session whose flow in direction 'dir' says 'b' (as read
 * from a match alone: the service, the client, and the backend for
 * LB_S2C), or NULL. */
struct lb_session *
lb_sessions_find_binding(const struct lb_sessions *s,
                         const struct lb_services *svcs,
                         const struct lb_binding *b, enum lb_flow_dir dir)
{
    if (dir == LB_C2S) {
        struct lb_service *svc = lb_services_find_exact(svcs, b->vip,
                                                        b->proto,
                                                        ntohs(b->vip_port));
        return (svc ? lb_sessions_find(s, svc, b->client_ip, b->client_port)
                : NULL);
    } else {
        struct lb_member *m = lb_services_find_member(svcs, b->backend_ip,
                                                      b->proto,
                                                      ntohs(b->backend_port));
        struct lb_session *session
            = (m ? lb_sessions_find(s, m->service, b->client_ip,
                                    b->client_port)
               : NULL);
        return session && session->member == m ? session : NULL;
    }
}

/* Everything the flows of 'session' say. */
void
lb_session_binding(const struct lb_session *session, struct lb_binding *b)
{
    const struct lb_member *m = session->member;
    const struct lb_service_config *svc = &m->service->cfg;
    const struct lb_client *c = session->client;

    b->vip = svc->vip;
    b->proto = svc->proto;
    b->vip_port = htons(svc->port);
    b->client_ip = c->ip;
    b->client_port = session->client_port;
    b->client_mac = c->mac;
    b->client_ofport = c->ofport;
    b->backend_ip = m->backend->ip;
    b->backend_port = htons(m->port);
    b->backend_mac = m->backend->loc.mac;
    b->backend_ofport = m->backend->loc.ofport;
}

/* Appends "client IP[:PORT] -> server IP[:PORT] of SERVICE". */
void
lb_session_format(const struct lb_session *session, struct ds *s)
{
    const struct lb_member *m = session->member;

    ds_put_cstr(s, "client ");
    lb_format_endpoint(s, session->client->ip, ntohs(session->client_port));
    ds_put_cstr(s, " -> server ");
    lb_format_endpoint(s, m->backend->ip, m->port);
    ds_put_format(s, " of %s", m->service->cfg.name);
}

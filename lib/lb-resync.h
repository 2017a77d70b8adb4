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

#ifndef LB_RESYNC_H
#define LB_RESYNC_H 1

/* Reconciling a switch's tables with the flows the switch has.
 *
 * Whenever a switch connects, the balancer asks it for every flow with the
 * balancer's cookie.  A base flow is kept if the configuration still wants
 * it exactly; a session flow is kept if the balancer would have installed
 * it itself, and the client, backend location and session it stands for
 * are taken into the tables if they are not there: after a restart of
 * ovs-balancer this is how clients stay on their backends, and after the
 * switch reconnects how the tables learn which flows survived.  Any other
 * flow with the cookie is deleted, so that none is stale or duplicated,
 * and base flows that are missing are added.
 *
 * The switch's packet-ins wait until the flows it had are in the tables;
 * the rest, bringing the sessions and clients in line with them, goes on
 * beside new packet-ins, in slices.  An audit is the same, done while
 * connected to find what others changed (see lb-repair.h); packet-ins do
 * not wait for it at all. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hmapx.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"

struct lb_config;
struct lb_flow_set;
struct lb_ofp;
struct lb_client;
struct lb_services;
struct lb_session;
struct lb_sessions;
struct lb_resync;
struct ofp_header;

/* One switch's tables, for the modules that reconcile them with the
 * switch's flows: lb-resync and lb-repair. */
struct lb_tables {
    const char *name;           /* The switch, for logging. */
    const struct lb_config *cfg;
    const struct lb_ofp *ofp;
    const struct lb_flow_set *base;
    struct lb_services *services;
    struct lb_sessions *sessions;
    const struct lb_resync *resync; /* Its read-back, which must know of
                                     * flows sent meanwhile. */
};

struct lb_resync {
    bool active;
    bool audit;                 /* An audit, not a (re)connection? */
    long long int started;      /* When the flows were asked for. */
    long long int quiet_until;  /* No audit before then. */
    uint32_t epoch;             /* Sessions' 'seen' counts in this one. */
    size_t kept, deleted;       /* Flows so far. */
    struct ovs_list later;      /* Flows to look at again at the end. */
    struct hmapx seen_base;     /* Base flows found ("struct lb_flow"s). */

    /* After a connection, the clients of ARP guards read before any of
     * their clients' flows: kept if their clients are taken in by the end,
     * deleted otherwise. */
    ovs_be32 *later_guards;
    size_t n_later_guards, allocated_later_guards;

    /* Once the switch has answered, the sessions are brought in line in
     * slices, from 'pos' on. */
    bool finishing;
    struct hmap_position pos;           /* In the sessions... */
    struct hmap_position client_pos;    /* ...then in the clients. */
    bool sessions_done;         /* All sessions seen: on to the clients. */
    size_t n_with_flows;        /* Sessions with flows, so far. */
    size_t n_guards;            /* Clients' ARP guards added. */
};

void lb_resync_init(struct lb_resync *);
void lb_resync_destroy(struct lb_resync *);
void lb_resync_start(struct lb_resync *, const struct lb_tables *,
                     bool audit, long long int now);
void lb_resync_abort(struct lb_resync *);
void lb_resync_reply(struct lb_resync *, const struct lb_tables *,
                     const struct ofp_header *, long long int now);
void lb_resync_run(struct lb_resync *, const struct lb_tables *,
                   long long int now);
void lb_resync_flows_sent__(const struct lb_resync *, struct lb_session *);
void lb_resync_guard_sent__(const struct lb_resync *, struct lb_client *);
void lb_resync_flow_gone(const struct lb_resync *, struct lb_session *,
                         unsigned int flow_bit);

/* Both of 'session''s flows were just sent (for a packet-in, or restored
 * after another controller deleted one): if that is during resync 'rs',
 * the switch has them, whatever it said it had.  Inline: every new
 * session's flows are sent, nearly always outside a resync. */
static inline void
lb_resync_flows_sent(const struct lb_resync *rs, struct lb_session *session)
{
    if (rs->active) {
        lb_resync_flows_sent__(rs, session);
    }
}

/* 'client''s ARP guard was just sent (a client learned, or its guard
 * restored): if that is during resync 'rs', the resync need not send it
 * again, nor count it as one that went.  Inline, as above, for every new
 * client. */
static inline void
lb_resync_guard_sent(const struct lb_resync *rs, struct lb_client *client)
{
    if (rs->active) {
        lb_resync_guard_sent__(rs, client);
    }
}

/* May an audit start at 'now'?  Not while a read-back goes on, nor so
 * soon after the last audit that the switch would spend more than a tenth
 * of its time telling its flows: a switch with many takes seconds. */
static inline bool
lb_resync_may_audit(const struct lb_resync *rs, long long int now)
{
    return !rs->active && now >= rs->quiet_until;
}

/* Must the switch's packet-ins wait?  After a connection, until the flows
 * the switch had are taken into the tables: a packet-in handled before then
 * could pick another backend for a client whose flows are still to be read
 * or adopted.  The walk through the sessions and clients that follows, which
 * takes seconds with millions of them, does not hold them: a session whose
 * flows are sent meanwhile is marked as seen (lb_resync_flows_sent()).
 * Inline: every packet-in asks. */
static inline bool
lb_resync_holds_packets(const struct lb_resync *rs)
{
    return (rs->active && !rs->audit
            && (!rs->finishing || !ovs_list_is_empty(&rs->later)));
}

#endif /* lb-resync.h */

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

#ifndef LB_STATS_H
#define LB_STATS_H 1

/* Traffic per member of a service, from the switch's counters: every
 * stats interval the balancer asks the switch for its flows (those with its
 * cookie) and adds up each session's two flows into its member; the
 * counters of flows that the switch removed come with the flow-removed
 * message.  New sessions are counted as they are made, and their rate is
 * taken between two polls. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/types.h"

struct lb_member;
struct lb_tables;
struct ofp_header;

struct lb_traffic {
    uint64_t packets;
    uint64_t bytes;
};

/* Kept in each lb_member. */
struct lb_member_stats {
    uint64_t n_new;             /* Sessions made. */
    struct lb_traffic gone;     /* Of its flows that the switch removed. */
    struct lb_traffic live;     /* Of its flows, at the last poll. */
    struct lb_traffic acc;      /* Of its flows, added up by a poll. */
    uint64_t poll_new;          /* 'n_new' at the last poll. */
    double new_rate;            /* Sessions a second between two polls. */
};

/* One switch's polls. */
struct lb_stats_poll {
    bool active;                /* Waiting for the replies? */
    ovs_be32 xid;               /* Of the request. */
    long long int next;         /* When to ask next. */
    long long int last;         /* When the last poll ended. */
};

void lb_stats_poll_init(struct lb_stats_poll *, long long int now);
void lb_stats_poll_run(struct lb_stats_poll *, const struct lb_tables *,
                       int interval_s, long long int now);
bool lb_stats_poll_reply(struct lb_stats_poll *, const struct lb_tables *,
                         int interval_s, const struct ofp_header *,
                         long long int now);
long long int lb_stats_poll_next_timer(const struct lb_stats_poll *,
                                       int interval_s);

void lb_member_stats_total(const struct lb_member *, struct lb_traffic *);
void lb_member_stats_flow_removed(struct lb_member *, uint64_t packets,
                                  uint64_t bytes);

#endif /* lb-stats.h */

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
#include "lib/lb-stats.h"

#include <limits.h>
#include "lib/lb-flows.h"
#include "lib/lb-ofp.h"
#include "lib/lb-resync.h"
#include "lib/lb-service.h"
#include "lib/lb-sessions.h"
#include "lib/lb-stateful.h"
#include "lib/lb-config.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_stats);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 60);

/* The first poll comes one interval after the switch connects. */
void
lb_stats_poll_init(struct lb_stats_poll *poll, long long int now)
{
    poll->active = false;
    poll->xid = 0;
    poll->next = now;
    poll->last = now;
}

long long int
lb_stats_poll_next_timer(const struct lb_stats_poll *poll, int interval_s)
{
    return (poll->active || !interval_s
            ? LLONG_MAX
            : poll->last + interval_s * 1000LL);
}

void
lb_stats_poll_run(struct lb_stats_poll *poll, const struct lb_tables *t,
                  int interval_s, long long int now)
{
    if (now < lb_stats_poll_next_timer(poll, interval_s)) {
        return;
    }
    struct lb_member *m;
    HMAP_FOR_EACH (m, node, &t->services->members) {
        m->stats.acc = (struct lb_traffic) { 0, 0 };
    }
    poll->xid = (t->cfg->datapath == LB_DATAPATH_STATEFUL
                 ? lb_ofp_flow_stats_request_in(t->ofp, OFPTT_ALL)
                 : lb_ofp_flow_stats_request(t->ofp));
    poll->active = true;
}

static void
add_traffic(struct lb_traffic *t, uint64_t packets, uint64_t bytes)
{
    /* UINT64_MAX is what a switch says for a counter it does not keep. */
    t->packets += packets == UINT64_MAX ? 0 : packets;
    t->bytes += bytes == UINT64_MAX ? 0 : bytes;
}

/* Adds up a session flow's counters into its member's. */
static void
poll_flow(const struct ofputil_flow_stats *fs, void *t_)
{
    const struct lb_tables *t = t_;
    struct lb_binding b;
    enum lb_flow_dir dir;

    if (fs->priority != LB_PRIO_SESSION) {
        return;
    }
    struct lb_session *session
        = (lb_binding_parse(&fs->match, NULL, 0, &dir, &b)
           ? lb_sessions_find_binding(t->sessions, t->services, &b, dir)
           : NULL);
    if (session) {
        add_traffic(&session->member->stats.acc, fs->packet_count,
                    fs->byte_count);
    }
}

/* Takes the flow stats reply 'oh' if it answers the poll, and returns
 * true; otherwise returns false (it is someone else's). */
static void
poll_stateful_flow(const struct ofputil_flow_stats *fs, void *t_)
{
    const struct lb_tables *t = t_;

    lb_stateful_count(t->services, fs);
}

bool
lb_stats_poll_reply(struct lb_stats_poll *poll, const struct lb_tables *t,
                    int interval_s OVS_UNUSED, const struct ofp_header *oh,
                    long long int now)
{
    if (!poll->active || oh->xid != poll->xid) {
        return false;
    }

    enum ofperr error = (t->cfg->datapath == LB_DATAPATH_STATEFUL
                         ? lb_ofp_flow_stats_foreach_in(t->ofp, oh, true,
                                                        poll_stateful_flow,
                                                        (void *) t)
                         : lb_ofp_flow_stats_foreach(t->ofp, oh, poll_flow,
                                                     (void *) t));
    if (error) {
        VLOG_WARN_RL(&rl, "%s: bad flow stats reply (%s)", t->name,
                     ofperr_to_string(error));
    }

    if (!ofpmp_more(oh)) {
        double seconds = MAX(now - poll->last, 1) / 1000.0;
        struct lb_member *m;

        HMAP_FOR_EACH (m, node, &t->services->members) {
            m->stats.live = m->stats.acc;
            m->stats.new_rate = (m->stats.n_new - m->stats.poll_new) / seconds;
            m->stats.poll_new = m->stats.n_new;
        }
        poll->active = false;
        poll->last = now;
    }
    return true;
}

/* What 'm''s flows carried, those the switch has and those it removed. */
void
lb_member_stats_total(const struct lb_member *m, struct lb_traffic *total)
{
    total->packets = m->stats.gone.packets + m->stats.live.packets;
    total->bytes = m->stats.gone.bytes + m->stats.live.bytes;
}

/* Counts the traffic of a removed flow of 'm''s. */
void
lb_member_stats_flow_removed(struct lb_member *m, uint64_t packets,
                             uint64_t bytes)
{
    add_traffic(&m->stats.gone, packets, bytes);
}

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
#include "lib/lb-repair.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "byte-order.h"
#include "lib/lb-config.h"
#include "lib/lb-flows.h"
#include "lib/lb-ofp.h"
#include "lib/lb-resync.h"
#include "lib/lb-service.h"
#include "lib/lb-sessions.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-monitor.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_repair);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(10, 60);

/* The ID of the balancer's flow monitor (one per connection). */
#define MONITOR_ID 1

/* How long to wait for the answer to the flow monitor request, and how
 * often to audit without one. */
#define REPAIR_WAIT_MS 2000
#define REPAIR_AUDIT_MS 1000

/* A flow changed again within REPAIR_FIGHT_MS of being restored is fought
 * over (another controller wants it otherwise, at once): it is restored
 * after a delay that doubles with each round, up to REPAIR_MAX_BACKOFF_MS,
 * rather than in a loop.  Slower changes (an operator's) are restored at
 * once, every time. */
#define REPAIR_FIGHT_MS 250
#define REPAIR_MAX_BACKOFF_MS 60000

/* A flow that was restored, and how it is fought over. */
struct contested_flow {
    struct hmap_node node;      /* In lb_repair's 'contested'. */
    struct minimatch match;
    int priority;
    long long int last;         /* When last restored (or will be). */
    long long int backoff;      /* The delay of the last round, or 0. */
};

void
lb_repair_init(struct lb_repair *rp)
{
    rp->mode = LB_REPAIR_OFF;
    rp->audit_due = false;
    hmap_init(&rp->contested);
}

static void
clear_contested(struct lb_repair *rp)
{
    struct contested_flow *cf;

    HMAP_FOR_EACH_POP (cf, node, &rp->contested) {
        minimatch_destroy(&cf->match);
        free(cf);
    }
}

void
lb_repair_destroy(struct lb_repair *rp)
{
    clear_contested(rp);
    hmap_destroy(&rp->contested);
}

const char *
lb_repair_mode_name(enum lb_repair_mode mode)
{
    return (mode == LB_REPAIR_WAIT ? "waiting for the flow monitor"
            : mode == LB_REPAIR_MONITOR ? "flow monitor"
            : mode == LB_REPAIR_AUDIT ? "audit every second"
            : "off");
}

/* The switch has connected: asks it to report changes to table 0. */
void
lb_repair_start(struct lb_repair *rp, const struct lb_tables *t,
                long long int now)
{
    struct ofputil_flow_monitor_request rq = {
        .id = MONITOR_ID,
        .flags = (OFPFMF_ADD | OFPFMF_REMOVED | OFPFMF_MODIFY
                  | OFPFMF_INSTRUCTIONS),
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = 0,
    };

    match_init_catchall(&rq.match);
    clear_contested(rp);
    rp->monitor_xid = lb_ofp_flow_monitor_request(t->ofp, &rq);
    rp->mode = LB_REPAIR_WAIT;
    rp->deadline = now + REPAIR_WAIT_MS;
    rp->audit_due = false;
}

/* Cancels the flow monitor on a connection that stays, where another
 * controller takes over: a new start on it would find the monitor's ID
 * taken. */
void
lb_repair_cancel(struct lb_repair *rp, const struct lb_tables *t)
{
    if (rp->mode == LB_REPAIR_WAIT || rp->mode == LB_REPAIR_MONITOR) {
        lb_ofp_flow_monitor_cancel(t->ofp, MONITOR_ID);
    }
    lb_repair_stop(rp);
}

void
lb_repair_stop(struct lb_repair *rp)
{
    rp->mode = LB_REPAIR_OFF;
    rp->audit_due = false;
}

static void
start_audits(struct lb_repair *rp, const struct lb_tables *t,
             const char *why, long long int now)
{
    if (rp->mode != LB_REPAIR_AUDIT) {
        VLOG_INFO("%s: %s; reading the flows back every second instead",
                  t->name, why);
    }
    rp->mode = LB_REPAIR_AUDIT;
    rp->audit_due = true;
    rp->next_audit = now;
}

/* The switch reported an error: if about the monitor request, it has no
 * flow monitors. */
void
lb_repair_error(struct lb_repair *rp, const struct lb_tables *t,
                const struct ofp_header *oh, long long int now)
{
    if (rp->mode == LB_REPAIR_WAIT && oh->xid == rp->monitor_xid) {
        struct ds s = DS_EMPTY_INITIALIZER;
        ds_put_format(&s, "switch refused the flow monitor (%s)",
                      ofperr_to_string(ofperr_decode_msg(oh, NULL)));
        start_audits(rp, t, ds_cstr(&s), now);
        ds_destroy(&s);
    }
}

/* Updates are paused (the switch's buffers filled) or resumed; either way
 * some were lost, so an audit finds what they would have said. */
void
lb_repair_paused(struct lb_repair *rp, const struct lb_tables *t,
                 bool paused, long long int now)
{
    if (rp->mode == LB_REPAIR_MONITOR || rp->mode == LB_REPAIR_AUDIT) {
        VLOG_INFO_RL(&rl, "%s: flow monitor %s", t->name,
                     paused ? "paused" : "resumed");
        rp->audit_due = true;
        rp->next_audit = now;
    }
}

/* Returns true if an audit (lb_resync_start() with 'audit') is due now. */
bool
lb_repair_run(struct lb_repair *rp, const struct lb_tables *t,
              long long int now)
{
    if (rp->mode == LB_REPAIR_WAIT && now >= rp->deadline) {
        char why[80];
        snprintf(why, sizeof why, "switch did not answer the flow monitor "
                 "request in %d ms", REPAIR_WAIT_MS);
        start_audits(rp, t, why, now);
    }
    if (rp->mode == LB_REPAIR_AUDIT && now >= rp->next_audit) {
        rp->audit_due = true;
    }
    if (rp->audit_due && now >= rp->next_audit) {
        rp->audit_due = false;
        rp->next_audit = now + REPAIR_AUDIT_MS;
        return true;
    }
    return false;
}

long long int
lb_repair_next_timer(const struct lb_repair *rp)
{
    return (rp->mode == LB_REPAIR_WAIT ? rp->deadline
            : rp->mode == LB_REPAIR_AUDIT || rp->audit_due ? rp->next_audit
            : LLONG_MAX);
}

/* Returns true if the flow with 'match' and 'priority' may be restored at
 * 'now', and notes that it is.  A flow changed again within its backoff
 * of its last restoration is being fought over: its backoff doubles, and
 * an audit restores it when the backoff is over. */
static bool
may_restore(struct lb_repair *rp, const struct lb_tables *t,
            const struct match *match, int priority, long long int now)
{
    struct contested_flow *cf = NULL, *iter;
    struct minimatch mm;
    uint32_t hash;

    minimatch_init(&mm, match);
    hash = minimatch_hash(&mm, priority);
    HMAP_FOR_EACH_WITH_HASH (iter, node, hash, &rp->contested) {
        if (iter->priority == priority
            && minimatch_equal(&iter->match, &mm)) {
            cf = iter;
            break;
        }
    }
    if (!cf) {
        cf = xmalloc(sizeof *cf);
        minimatch_clone(&cf->match, &mm);
        cf->priority = priority;
        cf->last = LLONG_MIN / 2;
        cf->backoff = 0;
        hmap_insert(&rp->contested, &cf->node, hash);
    }
    minimatch_destroy(&mm);

    if (now < cf->last + REPAIR_FIGHT_MS) {
        /* 'last' becomes when the audit restores it. */
        cf->backoff = (cf->backoff
                       ? MIN(2 * cf->backoff, REPAIR_MAX_BACKOFF_MS)
                       : REPAIR_AUDIT_MS);
        cf->last = now + cf->backoff;
        struct ds s = DS_EMPTY_INITIALIZER;
        match_format(match, NULL, &s, priority);
        VLOG_ERR_RL(&rl, "%s: another controller keeps changing flow %s; "
                    "restoring it in %lld ms", t->name, ds_cstr(&s),
                    cf->backoff);
        ds_destroy(&s);
        rp->next_audit = (rp->audit_due ? MIN(rp->next_audit, cf->last)
                          : cf->last);
        rp->audit_due = true;
        return false;
    }
    cf->backoff = 0;
    cf->last = now;
    return true;
}

static void
format_update(const struct ofputil_flow_update *fu, struct ds *s)
{
    ds_put_format(s, "cookie=%#"PRIx64", ", ntohll(fu->cookie));
    match_format(&fu->match, NULL, s, fu->priority);
    if (fu->event != OFPFME_REMOVED) {
        ds_put_cstr(s, " actions=");
        struct ofpact_format_params fp = { .s = s };
        ofpacts_format(fu->ofpacts, fu->ofpacts_len, &fp);
    }
}

/* Gives 'session' its flows again. */
static void
restore_session(const struct lb_tables *t, struct lb_session *session,
                long long int now)
{
    struct lb_binding b;

    lb_session_binding(session, &b);
    lb_binding_install(&session->member->service->tmpl, &b, t->ofp->out);
    session->installed_at = now;
    lb_sessions_set_flows(t->sessions, session, LB_FLOWS_BOTH, now);
    lb_resync_flows_sent(t->resync, session);
}

/* The backends could not answer probes while the flows that bring their
 * answers were missing: the misses counted meanwhile do not count. */
static void
forgive_misses(const struct lb_tables *t)
{
    struct lb_backend *b;

    HMAP_FOR_EACH (b, node, &t->services->backends) {
        lb_health_restart(&b->health);
    }
}

/* Restores the balancer's flow at 'fu''s match and priority, if it has
 * one there, and returns true; or returns false. */
static bool
restore_own_flow(struct lb_repair *rp, const struct lb_tables *t,
                 const struct ofputil_flow_update *fu, long long int now)
{
    if (fu->priority == LB_PRIO_SESSION) {
        struct lb_binding b;
        enum lb_flow_dir dir;
        struct lb_session *session
            = (lb_binding_parse(&fu->match, NULL, 0, &dir, &b)
               ? lb_sessions_find_binding(t->sessions, t->services, &b, dir)
               : NULL);
        if (!session) {
            return false;
        }
        if (may_restore(rp, t, &fu->match, fu->priority, now)) {
            restore_session(t, session, now);
        }
        return true;
    }

    ovs_be32 client_ip;
    if (lb_client_arp_parse(&fu->match, fu->priority, &client_ip)) {
        struct lb_client *client = lb_sessions_find_client(t->sessions,
                                                           client_ip);
        if (!client) {
            return false;
        }
        if (may_restore(rp, t, &fu->match, fu->priority, now)) {
            lb_client_arp_install(t->ofp, client_ip);
            lb_resync_guard_sent(t->resync, client);
        }
        return true;
    }

    const struct lb_flow *flow = lb_flow_set_find(t->base, &fu->match,
                                                  fu->priority);
    if (!flow) {
        return false;
    }
    if (may_restore(rp, t, &fu->match, fu->priority, now)) {
        lb_flows_install(t->ofp, flow);
        if (fu->priority == LB_PRIO_PUNT) {
            forgive_misses(t);
        }
    }
    return true;
}

/* Is the flow in 'fu' (added or changed) one the balancer wants, exactly
 * as it is? */
static bool
is_wanted(const struct lb_tables *t, const struct ofputil_flow_update *fu)
{
    if (fu->priority == LB_PRIO_SESSION) {
        struct lb_binding b, want;
        enum lb_flow_dir dir;
        const struct lb_session *session
            = (lb_binding_parse(&fu->match, fu->ofpacts, fu->ofpacts_len,
                                &dir, &b)
               ? lb_sessions_find_binding(t->sessions, t->services, &b, dir)
               : NULL);
        if (!session) {
            return false;
        }
        lb_session_binding(session, &want);
        return (dir == LB_C2S
                ? (eth_addr_equals(b.backend_mac, want.backend_mac)
                   && b.backend_ip == want.backend_ip
                   && b.backend_port == want.backend_port
                   && b.backend_ofport == want.backend_ofport)
                : (eth_addr_equals(b.client_mac, want.client_mac)
                   && b.client_ofport == want.client_ofport
                   && b.vip == want.vip && b.vip_port == want.vip_port));
    }
    ovs_be32 client_ip;
    if (lb_client_arp_parse(&fu->match, fu->priority, &client_ip)) {
        return (lb_sessions_find_client(t->sessions, client_ip)
                && lb_client_arp_actions_ok(fu->ofpacts, fu->ofpacts_len));
    }
    return (fu->priority == LB_PRIO_PASS
            || lb_flow_set_find_same(t->base, &fu->match, fu->priority,
                                     fu->ofpacts, fu->ofpacts_len));
}

/* Acts on one flow monitor update.  A deletion of one of the balancer's
 * flows, restored, is counted in '*n_deleted' and the first one is
 * described in 'first_deleted', for one log line per message (deleting a
 * bridge or all its flows deletes them all at once). */
static void
handle_update(struct lb_repair *rp, const struct lb_tables *t,
              const struct ofputil_flow_update *fu, long long int now,
              int *n_deleted, struct ds *first_deleted)
{
    if (fu->event == OFPFME_ABBREV) {
        /* The balancer's own change: only its xid is filled in. */
        return;
    }
    if (fu->table_id != 0 && fu->table_id != 255) {
        return;
    }

    bool ours = fu->cookie == t->ofp->cookie;
    struct ds s = DS_EMPTY_INITIALIZER;
    if (fu->event == OFPFME_REMOVED) {
        if (!ours || fu->reason == OFPRR_IDLE_TIMEOUT
            || fu->reason == OFPRR_HARD_TIMEOUT) {
            /* Expiry is for the flow-removed messages to tell. */
            return;
        }
        if (restore_own_flow(rp, t, fu, now) && !(*n_deleted)++) {
            format_update(fu, first_deleted);
        }
    } else if (fu->event == OFPFME_ADDED || fu->event == OFPFME_MODIFIED) {
        if (ours && is_wanted(t, fu)) {
            /* Someone else set it as the balancer would. */
        } else if (!ours) {
            /* Another controller's flow: it matters only if it took the
             * place of one of the balancer's, and does something else
             * (another balancer on the bridge sets the same fallback). */
            const struct lb_flow *same = lb_flow_set_find_same(
                t->base, &fu->match, fu->priority, fu->ofpacts,
                fu->ofpacts_len);
            if (!same && restore_own_flow(rp, t, fu, now)) {
                format_update(fu, &s);
                VLOG_ERR_RL(&rl, "%s: another controller replaced a flow of "
                            "the balancer's (cookie %#"PRIx64") with %s; "
                            "restored it", t->name,
                            ntohll(t->ofp->cookie), ds_cstr(&s));
            }
        } else {
            format_update(fu, &s);
            if (restore_own_flow(rp, t, fu, now)) {
                VLOG_ERR_RL(&rl, "%s: another controller changed a flow "
                            "with the balancer's cookie to %s; restored it",
                            t->name, ds_cstr(&s));
            } else {
                lb_ofp_flow_delete_strict(t->ofp, &fu->match, fu->priority);
                VLOG_ERR_RL(&rl, "%s: another controller added a flow with "
                            "the balancer's cookie: %s; deleted it",
                            t->name, ds_cstr(&s));
            }
        }
    }
    ds_destroy(&s);
}

/* A flow monitor reply: the answer to the request, or an update. */
void
lb_repair_update(struct lb_repair *rp, const struct lb_tables *t,
                 const struct ofp_header *oh, long long int now)
{
    struct ofpbuf msg = ofpbuf_const_initializer(oh, ntohs(oh->length));
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;

    if (rp->mode == LB_REPAIR_WAIT && oh->xid == rp->monitor_xid) {
        VLOG_INFO("%s: watching the switch's flows with a flow monitor",
                  t->name);
        rp->mode = LB_REPAIR_MONITOR;
    } else if (rp->mode == LB_REPAIR_AUDIT && oh->xid == rp->monitor_xid) {
        /* A busy switch answered after the deadline: the monitor works,
         * and audits every second would keep the switch busy. */
        VLOG_INFO("%s: the flow monitor answered late; watching the "
                  "switch's flows with it, no more audits", t->name);
        rp->mode = LB_REPAIR_MONITOR;
        rp->audit_due = false;
    }
    if (rp->mode == LB_REPAIR_OFF) {
        return;
    }

    struct ds first_deleted = DS_EMPTY_INITIALIZER;
    int n_deleted = 0;
    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    for (;;) {
        struct ofputil_flow_update fu;
        int error = ofputil_decode_flow_update(&fu, &msg, &ofpacts);
        if (error) {
            if (error != EOF) {
                VLOG_WARN_RL(&rl, "%s: bad flow monitor update (%s)",
                             t->name, ofperr_to_string(error));
            }
            break;
        }
        handle_update(rp, t, &fu, now, &n_deleted, &first_deleted);
    }
    ofpbuf_uninit(&ofpacts);
    if (n_deleted == 1) {
        VLOG_WARN_RL(&rl, "%s: restored flow deleted by another "
                     "controller: %s", t->name, ds_cstr(&first_deleted));
    } else if (n_deleted) {
        VLOG_WARN_RL(&rl, "%s: restored %d flows deleted by another "
                     "controller or with the bridge, the first: %s",
                     t->name, n_deleted, ds_cstr(&first_deleted));
    }
    ds_destroy(&first_deleted);
}

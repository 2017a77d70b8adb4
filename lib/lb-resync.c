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
#include "lib/lb-resync.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>

#include "flow.h"
#include "lib/lb-config.h"
#include "lib/lb-flows.h"
#include "lib/lb-ofp.h"
#include "lib/lb-service.h"
#include "lib/lb-sessions.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_resync);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Sessions looked at per slice once the switch has answered. */
#define LB_RESYNC_SLICE 500

/* Buckets of the clients' table looked at in a slice, empty or not (half a
 * megabyte, read in order): a table with memory set aside for millions of
 * clients has millions of buckets, of which a few may be in use, and
 * packets go on being handled during the walk. */
#define LB_RESYNC_SLICE_BUCKETS 65536

/* Buckets of what a growth of the clients' table left to move, moved in a
 * slice before the walk goes on: the walk sees only where entries are
 * added, and new clients, handled during the walk, may make the table grow
 * (moving the rest of a growth of millions of entries at once stalled the
 * main loop for tens of milliseconds). */
#define LB_RESYNC_SETTLE_BUCKETS 8192

/* A backend-to-client flow read before the flow in the other direction
 * that tells the backend's MAC. */
struct later_flow {
    struct ovs_list node;       /* In lb_resync's 'later'. */
    struct lb_binding b;
    enum lb_flow_dir dir;
    struct match match;
    long long int installed_at;
};

/* Whether a session's flows are seen is kept per resync, by epoch, so that
 * starting one costs nothing whatever the number of sessions. */
static unsigned int
seen_flows(const struct lb_resync *rs, const struct lb_session *session)
{
    return session->seen_epoch == rs->epoch ? session->seen : 0;
}

/* In 'seen' beside the LB_FLOW_BIT()s: the flows were sent during the
 * resync, not read back. */
#define SEEN_SENT 0x80

static void
mark_seen(const struct lb_resync *rs, struct lb_session *session,
          unsigned int flow_bit)
{
    session->seen = seen_flows(rs, session) | flow_bit;
    session->seen_epoch = rs->epoch;
}

/* lb_resync_flows_sent() during resync 'rs'. */
void
lb_resync_flows_sent__(const struct lb_resync *rs,
                       struct lb_session *session)
{
    mark_seen(rs, session,
              LB_FLOWS_BOTH | (seen_flows(rs, session) ? 0 : SEEN_SENT));
}

/* lb_resync_guard_sent() during resync 'rs'. */
void
lb_resync_guard_sent__(const struct lb_resync *rs, struct lb_client *client)
{
    client->arp_seen_epoch = rs->epoch;
}

/* The switch says that a session's flow has gone: if it was seen while
 * reading them back, it is not there any more. */
void
lb_resync_flow_gone(const struct lb_resync *rs, struct lb_session *session,
                    unsigned int flow_bit)
{
    if (session->seen_epoch == rs->epoch) {
        session->seen &= ~flow_bit;
    }
}

void
lb_resync_init(struct lb_resync *rs)
{
    rs->active = rs->audit = rs->finishing = false;
    rs->quiet_until = LLONG_MIN;
    rs->epoch = 0;
    rs->kept = rs->deleted = 0;
    ovs_list_init(&rs->later);
    hmapx_init(&rs->seen_base);
}

void
lb_resync_destroy(struct lb_resync *rs)
{
    lb_resync_abort(rs);
    hmapx_destroy(&rs->seen_base);
}

/* Asks the switch for its flows with the balancer's cookie, for a
 * (re)connection or, if 'audit', an audit. */
void
lb_resync_start(struct lb_resync *rs, const struct lb_tables *ctx,
                bool audit, long long int now)
{
    lb_resync_abort(rs);
    rs->epoch = rs->epoch + 1 ? rs->epoch + 1 : 1;   /* Never 0, as new. */
    rs->active = true;
    rs->audit = audit;
    rs->started = now;
    rs->kept = rs->deleted = 0;
    lb_ofp_flow_stats_request(ctx->ofp);
}

/* Forgets a resync that will not finish: the switch went away. */
void
lb_resync_abort(struct lb_resync *rs)
{
    struct later_flow *lf;

    LIST_FOR_EACH_POP (lf, node, &rs->later) {
        free(lf);
    }
    hmapx_clear(&rs->seen_base);
    free(rs->later_guards);
    rs->later_guards = NULL;
    rs->n_later_guards = rs->allocated_later_guards = 0;
    rs->active = rs->finishing = false;
}

/* Takes the session flow 'b' (in direction 'dir') into the tables.  Returns
 * false if it contradicts them: another location for the client or the
 * backend, another backend for the client, a backend that is down, or a
 * service or member that does not exist; or, if 'last', if the backend's
 * MAC is still unknown. */
static bool
adopt_binding(struct lb_resync *rs, const struct lb_tables *ctx,
              const struct lb_binding *b, enum lb_flow_dir dir,
              const struct match *match, long long int installed_at,
              bool last, long long int now)
{
    struct lb_service *svc = lb_services_find_exact(ctx->services, b->vip,
                                                    b->proto,
                                                    ntohs(b->vip_port));
    struct lb_member *m = (svc ? lb_service_find_member(svc, b->backend_ip,
                                                        ntohs(b->backend_port))
                           : NULL);
    if (!m || m->backend->health.state == LB_HEALTH_DOWN
        || (svc->cfg.affinity == LB_AFFINITY_CONNECTION) != !!b->client_port) {
        return false;
    }

    struct lb_backend *backend = m->backend;
    struct lb_location *loc = &backend->loc;
    if (loc->known) {
        if (loc->ofport != b->backend_ofport
            || (dir == LB_C2S && !eth_addr_equals(loc->mac,
                                                  b->backend_mac))) {
            return false;
        }
    } else if (dir == LB_C2S) {
        /* The backend's location, as the balancer itself installed it; its
         * probes will confirm it or take it down. */
        loc->known = true;
        loc->mac = b->backend_mac;
        loc->ofport = b->backend_ofport;
        lb_health_assume_up(&backend->health);
        lb_backend_changed(backend);
        VLOG_INFO("%s: server "IP_FMT" is at "ETH_ADDR_FMT" on port %"PRIu16
                  " (from its flows)", ctx->name, IP_ARGS(backend->ip),
                  ETH_ADDR_ARGS(loc->mac), ofp_to_u16(loc->ofport));
    } else if (!last) {
        /* Look again at the end: the other direction, which carries the
         * backend's MAC, may come later. */
        struct later_flow *lf = xmalloc(sizeof *lf);
        lf->b = *b;
        lf->dir = dir;
        lf->match = *match;
        lf->installed_at = installed_at;
        ovs_list_push_back(&rs->later, &lf->node);
        return true;
    } else {
        return false;
    }

    struct lb_sessions *sessions = ctx->sessions;
    struct lb_client *client = lb_sessions_find_client(sessions,
                                                       b->client_ip);
    if (!client) {
        if (!lb_sessions_has_room(sessions, true, now)) {
            return false;
        }
        client = lb_sessions_add_client(sessions, b->client_ip,
                                        b->client_mac, b->client_ofport,
                                        now);
    } else if (!eth_addr_equals(client->mac, b->client_mac)
               || client->ofport != b->client_ofport) {
        return false;
    }

    struct lb_session *session = lb_sessions_find_of_client(
        sessions, client, svc, b->client_port);
    if (!session) {
        if (!lb_sessions_has_room(sessions, false, now)) {
            return false;
        }
        session = lb_sessions_add(sessions, m, client, b->client_port, now);

        struct ds s = DS_EMPTY_INITIALIZER;
        lb_session_format(session, &s);
        VLOG_INFO("%s: %s (from its flows)", ctx->name, ds_cstr(&s));
        ds_destroy(&s);
    } else if (session->member != m) {
        return false;
    }
    mark_seen(rs, session, LB_FLOW_BIT(dir));
    session->installed_at = MAX(session->installed_at, installed_at);
    return true;
}

/* Is the flow with 'fs' one the balancer wants, taken into the tables if it
 * is a session's? */
static bool
keep_flow(struct lb_resync *rs, const struct lb_tables *ctx,
          const struct ofputil_flow_stats *fs, long long int now)
{
    struct lb_binding b;
    enum lb_flow_dir dir;

    switch (fs->priority) {
    case LB_PRIO_FALLBACK:
    case LB_PRIO_VIP_DROP:
    case LB_PRIO_PUNT:
    case LB_PRIO_ICMP_ERROR:
    case LB_PRIO_CHECK: {
        const struct lb_flow *flow = lb_flow_set_find_same(
            ctx->base, &fs->match, fs->priority, fs->ofpacts,
            fs->ofpacts_len);
        if (flow) {
            hmapx_add(&rs->seen_base, CONST_CAST(struct lb_flow *, flow));
        }
        return flow != NULL;
    }

    case LB_PRIO_PASS:
        /* A backend's traffic to its own hosts: harmless, and expires. */
        return true;

    case LB_PRIO_CLIENT_ARP: {
        /* A client's ARP guard.  After a connection, one whose client is
         * not known yet waits for its client's flows, which may come
         * further on; in an audit it is stale. */
        ovs_be32 ip;
        if (!lb_client_arp_parse(&fs->match, fs->priority, &ip)
            || !lb_client_arp_actions_ok(fs->ofpacts, fs->ofpacts_len)) {
            return false;
        }
        struct lb_client *client = lb_sessions_find_client(ctx->sessions,
                                                           ip);
        if (client) {
            client->arp_seen_epoch = rs->epoch;
        } else if (!rs->audit) {
            if (rs->n_later_guards >= rs->allocated_later_guards) {
                rs->later_guards = x2nrealloc(rs->later_guards,
                                              &rs->allocated_later_guards,
                                              sizeof *rs->later_guards);
            }
            rs->later_guards[rs->n_later_guards++] = ip;
            return true;
        }
        return client != NULL;
    }

    case LB_PRIO_SESSION:
        return (lb_binding_parse(&fs->match, fs->ofpacts, fs->ofpacts_len,
                                 &dir, &b)
                && adopt_binding(rs, ctx, &b, dir, &fs->match,
                                 now - fs->duration_sec * 1000LL, false,
                                 now));

    default:
        return false;
    }
}

/* Does up to 'budget' steps of the end of a resync, and ends it once they
 * are all done. */
static void
resync_finish(struct lb_resync *rs, const struct lb_tables *ctx,
              size_t budget, long long int now)
{
    struct later_flow *lf;
    while (budget && !ovs_list_is_empty(&rs->later)) {
        lf = CONTAINER_OF(ovs_list_pop_front(&rs->later), struct later_flow,
                          node);
        if (!adopt_binding(rs, ctx, &lf->b, lf->dir, &lf->match,
                           lf->installed_at, true, now)) {
            lb_ofp_flow_delete_strict(ctx->ofp, &lf->match,
                                      LB_PRIO_SESSION);
            rs->kept--;
            rs->deleted++;
        }
        free(lf);
        budget--;
    }
    while (budget && rs->n_later_guards) {
        ovs_be32 ip = rs->later_guards[--rs->n_later_guards];
        struct lb_client *client = lb_sessions_find_client(ctx->sessions,
                                                           ip);
        if (client) {
            client->arp_seen_epoch = rs->epoch;
        } else {
            lb_client_arp_delete(ctx->ofp, ip);
            rs->kept--;
            rs->deleted++;
        }
        budget--;
    }
    if (rs->n_later_guards) {
        return;
    }

    /* Sessions keep the flows that were there: those whose flows went
     * (an audit finds what others deleted) get them again with their next
     * packet.  Flows sent since the switch was asked are not in its
     * answer.  (Sessions that come or go meanwhile may be missed or seen
     * twice: both are harmless.) */
    const struct lb_table *clients = &ctx->sessions->clients;
    size_t n_buckets = LB_RESYNC_SLICE_BUCKETS;
    struct hmap_node *node;
    if (!lb_table_settle_some(&ctx->sessions->clients,
                              LB_RESYNC_SETTLE_BUCKETS)) {
        return;
    }
    while (budget && !rs->sessions_done) {
        /* Sessions are walked through their clients. */
        node = lb_table_walk(clients, &rs->pos, &n_buckets);
        if (!node) {
            rs->sessions_done = lb_table_walk_done(clients, &rs->pos);
            break;
        }
        struct lb_client *client = CONTAINER_OF(node, struct lb_client, node);
        struct lb_session *session;
        size_t n = 1;
        if (client->n_sessions) {
            LIST_FOR_EACH (session, client_node, &client->sessions) {
                unsigned int seen = seen_flows(rs, session);
                if (session->installed_at < rs->started || !rs->audit) {
                    lb_sessions_set_flows(ctx->sessions, session,
                                          seen & LB_FLOWS_BOTH, now);
                }
                rs->n_with_flows += session->flows && !(seen & SEEN_SENT);
            }
            n = client->n_sessions;
        }
        /* A client with many sessions may take more than what is left. */
        budget -= MIN(budget, n);
    }

    /* Clients whose ARP guard was not there get it.  (The switch may have
     * lost its flows, or another controller deleted one.) */
    while (budget && rs->sessions_done
           && (node = lb_table_walk(clients, &rs->client_pos, &n_buckets))) {
        struct lb_client *client = CONTAINER_OF(node, struct lb_client, node);
        if (client->arp_seen_epoch != rs->epoch) {
            lb_client_arp_install(ctx->ofp, client->ip);
            rs->n_guards++;
        }
        budget--;
    }
    if (!budget || !lb_table_walk_done(clients, &rs->client_pos)) {
        return;
    }

    /* An audit restores the base flows that went.  (On connection they
     * were all sent just before the switch was asked.) */
    size_t n_added = 0;
    const struct lb_flow *flow;
    HMAP_FOR_EACH (flow, node, &ctx->base->flows) {
        if (rs->audit
            && !hmapx_contains(&rs->seen_base, CONST_CAST(struct lb_flow *,
                                                          flow))) {
            lb_flows_install(ctx->ofp, flow);
            n_added++;
        }
    }

    if (!rs->audit) {
        VLOG_INFO("%s: read back %"PRIuSIZE" flows, deleted %"PRIuSIZE
                  "; %"PRIuSIZE" session%s with flows", ctx->name,
                  rs->kept + rs->deleted, rs->deleted, rs->n_with_flows,
                  rs->n_with_flows == 1 ? "" : "s");
    } else if (n_added || rs->n_guards || rs->deleted) {
        VLOG_WARN("%s: audit found its flows changed: restored %"PRIuSIZE
                  " flows, deleted %"PRIuSIZE, ctx->name,
                  n_added + rs->n_guards, rs->deleted);
    }
    if (rs->audit) {
        rs->quiet_until = now + 9 * (now - rs->started);
    }
    lb_resync_abort(rs);
}

struct reply_ctx {
    struct lb_resync *rs;
    const struct lb_tables *ctx;
    long long int now;
};

/* One of the flows a resync read back: kept, or deleted. */
static void
reply_flow(const struct ofputil_flow_stats *fs, void *rc_)
{
    struct reply_ctx *rc = rc_;

    if (keep_flow(rc->rs, rc->ctx, fs, rc->now)) {
        rc->rs->kept++;
    } else {
        lb_ofp_flow_delete_strict(rc->ctx->ofp, &fs->match, fs->priority);
        rc->rs->deleted++;
    }
}

/* Handles one part of the reply to lb_resync_start()'s request; after the
 * last, the end of the resync begins (lb_resync_run()). */
void
lb_resync_reply(struct lb_resync *rs, const struct lb_tables *ctx,
                const struct ofp_header *oh, long long int now)
{
    if (!rs->active) {
        return;
    }
    struct reply_ctx rc = { rs, ctx, now };
    enum ofperr error = lb_ofp_flow_stats_foreach(ctx->ofp, oh, reply_flow,
                                                  &rc);
    if (error) {
        VLOG_WARN_RL(&rl, "%s: bad flow stats reply (%s)", ctx->name,
                     ofperr_to_string(error));
    }

    if (ofpmp_more(oh)) {
        return;
    }
    rs->finishing = true;
    rs->pos.bucket = rs->pos.offset = 0;
    rs->client_pos.bucket = rs->client_pos.offset = 0;
    rs->sessions_done = false;
    rs->n_with_flows = rs->n_guards = 0;
    lb_resync_run(rs, ctx, now);
}

/* Goes on with the end of a resync, for a slice. */
void
lb_resync_run(struct lb_resync *rs, const struct lb_tables *ctx,
              long long int now)
{
    if (rs->finishing) {
        resync_finish(rs, ctx, LB_RESYNC_SLICE, now);
    }
}

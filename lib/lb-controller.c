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
#include "lib/lb-controller.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "hash.h"
#include "lib/lb-config.h"
#include "lib/lb-service.h"
#include "lib/lb-sessions.h"
#include "lib/lb-switch.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_controller);

/* A switch that has connected at some time. */
struct controller_switch {
    struct hmap_node node;      /* In lb_controller's 'switches'. */
    struct lb_switch *sw;
    char *via;                  /* "OpenFlow13 on unix#3", or NULL. */
};

struct lb_controller {
    struct lb_config *cfg;      /* NULL until configured. */
    struct hmap switches;       /* "struct controller_switch"es. */
};

struct lb_controller *
lb_controller_create(void)
{
    struct lb_controller *ctl = xzalloc(sizeof *ctl);

    hmap_init(&ctl->switches);
    return ctl;
}

static void
free_config(struct lb_config *cfg)
{
    if (cfg) {
        lb_config_destroy(cfg);
        free(cfg);
    }
}

void
lb_controller_destroy(struct lb_controller *ctl)
{
    if (ctl) {
        struct controller_switch *cs;

        HMAP_FOR_EACH_POP (cs, node, &ctl->switches) {
            lb_switch_destroy(cs->sw);
            free(cs->via);
            free(cs);
        }
        hmap_destroy(&ctl->switches);
        free_config(ctl->cfg);
        free(ctl);
    }
}

/* Makes 'cfg' (which is copied) the configuration, if it is valid;
 * otherwise returns an error and changes nothing. */
char *
lb_controller_reconfigure(struct lb_controller *ctl,
                          const struct lb_config *cfg, long long int now)
{
    char *error = lb_config_check(cfg);
    if (error) {
        return error;
    }

    /* The switches compare the new configuration with the old, which must
     * live until they are done. */
    struct lb_config *old = ctl->cfg;
    ctl->cfg = xmalloc(sizeof *ctl->cfg);
    lb_config_clone(ctl->cfg, cfg);

    struct controller_switch *cs;
    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        lb_switch_reconfigure(cs->sw, ctl->cfg, now);
    }
    free_config(old);
    return NULL;
}

/* Returns the configuration, or NULL before the first one. */
const struct lb_config *
lb_controller_get_config(const struct lb_controller *ctl)
{
    return ctl->cfg;
}

static struct controller_switch *
find_switch(const struct lb_controller *ctl, uint64_t dpid)
{
    struct controller_switch *cs;

    HMAP_FOR_EACH_WITH_HASH (cs, node, hash_uint64(dpid), &ctl->switches) {
        if (lb_switch_get_dpid(cs->sw) == dpid) {
            return cs;
        }
    }
    return NULL;
}

struct lb_switch *
lb_controller_find_switch(const struct lb_controller *ctl, uint64_t dpid)
{
    struct controller_switch *cs = find_switch(ctl, dpid);
    return cs ? cs->sw : NULL;
}

/* Switch 'dpid' has connected, speaking 'protocol', 'via' a connection
 * described so for lb/show; messages to it go to 'out'.  Returns its
 * lb_switch, for the messages it sends. */
struct lb_switch *
lb_controller_connect(struct lb_controller *ctl, uint64_t dpid,
                      enum ofputil_protocol protocol,
                      const struct hmapx *ports, struct ofpbuf *out,
                      const char *via, long long int now)
{
    struct controller_switch *cs = find_switch(ctl, dpid);

    ovs_assert(ctl->cfg);
    if (!cs) {
        cs = xzalloc(sizeof *cs);
        cs->sw = lb_switch_create(ctl->cfg, dpid, now);
        hmap_insert(&ctl->switches, &cs->node, hash_uint64(dpid));
    }
    free(cs->via);
    cs->via = xstrdup(via);
    lb_switch_connected(cs->sw, protocol, ports, out, now);
    return cs->sw;
}

void
lb_controller_disconnect(struct lb_controller *ctl, uint64_t dpid,
                         long long int now)
{
    struct controller_switch *cs = find_switch(ctl, dpid);

    if (cs) {
        lb_switch_disconnected(cs->sw, now);
        free(cs->via);
        cs->via = NULL;
    }
}

void
lb_controller_run(struct lb_controller *ctl, long long int now)
{
    struct controller_switch *cs;

    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        if (now >= lb_switch_next_timer(cs->sw)) {
            lb_switch_run(cs->sw, now);
        }
    }
}

long long int
lb_controller_next_timer(const struct lb_controller *ctl)
{
    const struct controller_switch *cs;
    long long int next = LLONG_MAX;

    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        next = MIN(next, lb_switch_next_timer(cs->sw));
    }
    return next;
}

/* lb/show. */

static int
compare_services(const void *a_, const void *b_)
{
    const struct lb_service *const *a = a_;
    const struct lb_service *const *b = b_;

    return strcmp((*a)->cfg.name, (*b)->cfg.name);
}

static int
compare_sessions(const void *a_, const void *b_)
{
    const struct lb_session *const *a = a_;
    const struct lb_session *const *b = b_;
    uint32_t a_ip = ntohl((*a)->client->ip), b_ip = ntohl((*b)->client->ip);
    uint16_t a_port = ntohs((*a)->client_port);
    uint16_t b_port = ntohs((*b)->client_port);

    return (a_ip != b_ip ? (a_ip < b_ip ? -1 : 1)
            : a_port != b_port ? (a_port < b_port ? -1 : 1)
            : 0);
}

static int
compare_clients(const void *a_, const void *b_)
{
    const struct lb_client *const *a = a_;
    const struct lb_client *const *b = b_;
    uint32_t a_ip = ntohl((*a)->ip), b_ip = ntohl((*b)->ip);

    return a_ip < b_ip ? -1 : a_ip > b_ip;
}

static void
format_client(const struct lb_client *c, ovs_be16 port, struct ds *s)
{
    ds_put_cstr(s, "client ");
    lb_format_endpoint(s, c->ip, ntohs(port));
    ds_put_format(s, ": "ETH_ADDR_FMT" port %"PRIu16,
                  ETH_ADDR_ARGS(c->mac), ofp_to_u16(c->ofport));
}

static void
format_service(const struct lb_service *svc, struct ds *s)
{
    const struct lb_service_config *cfg = &svc->cfg;

    ds_put_format(s, "  service %s: VIP ", cfg->name);
    lb_format_endpoint(s, cfg->vip, cfg->port);
    if (cfg->proto) {
        ds_put_format(s, "/%s", lb_proto_to_string(cfg->proto));
    }
    ds_put_format(s, ", %s, affinity %s%s\n", cfg->scheduler->name,
                  lb_affinity_to_string(cfg->affinity),
                  svc->unavailable ? ", no server up" : "");

    const struct lb_session **sessions = NULL;
    size_t n_sessions = 0, allocated = 0;
    for (size_t i = 0; i < svc->n_members; i++) {
        const struct lb_member *m = svc->members[i];
        const struct lb_backend *b = m->backend;
        size_t n = lb_member_n_sessions(m);

        ds_put_cstr(s, "    server ");
        lb_format_endpoint(s, b->ip, m->port);
        if (m->weight != LB_DEFAULT_WEIGHT) {
            ds_put_format(s, " weight %u", m->weight);
        }
        ds_put_cstr(s, ": ");
        if (b->loc.known) {
            ds_put_format(s, ETH_ADDR_FMT" port %"PRIu16", ",
                          ETH_ADDR_ARGS(b->loc.mac),
                          ofp_to_u16(b->loc.ofport));
        }
        ds_put_format(s, "%s, %"PRIuSIZE" client%s\n",
                      lb_health_state_name(b->health.state), n,
                      n == 1 ? "" : "s");

        const struct lb_session *session;
        LIST_FOR_EACH (session, member_node, &m->sessions) {
            if (n_sessions >= allocated) {
                sessions = x2nrealloc(sessions, &allocated,
                                      sizeof *sessions);
            }
            sessions[n_sessions++] = session;
        }
    }

    if (n_sessions) {
        qsort(sessions, n_sessions, sizeof *sessions, compare_sessions);
    }
    for (size_t i = 0; i < n_sessions; i++) {
        const struct lb_session *session = sessions[i];
        const struct lb_member *m = session->member;

        ds_put_cstr(s, "    ");
        format_client(session->client, session->client_port, s);
        ds_put_cstr(s, ", server ");
        lb_format_endpoint(s, m->backend->ip, m->port);
        ds_put_format(s, "%s\n", session->flows ? "" : " (idle)");
    }
    free(sessions);
}

/* Appends to 's' the balancer's state on switch 'sw': each service with
 * its backends and sessions, then the clients without a session. */
static void
format_switch(const struct lb_switch *sw, struct ds *s)
{
    const struct lb_services *svcs = lb_switch_get_services(sw);
    const struct lb_sessions *sessions = lb_switch_get_sessions(sw);
    size_t n = hmap_count(&svcs->by_name);
    const struct lb_service **services = xmalloc(n * sizeof *services);
    const struct lb_service *svc;
    size_t i = 0;

    HMAP_FOR_EACH (svc, name_node, &svcs->by_name) {
        services[i++] = svc;
    }
    qsort(services, n, sizeof *services, compare_services);
    for (i = 0; i < n; i++) {
        format_service(services[i], s);
    }
    free(services);

    const struct lb_client **idle = NULL;
    size_t n_idle = 0, allocated = 0;
    const struct lb_client *c;
    HMAP_FOR_EACH (c, node, &sessions->clients) {
        if (!c->n_sessions) {
            if (n_idle >= allocated) {
                idle = x2nrealloc(idle, &allocated, sizeof *idle);
            }
            idle[n_idle++] = c;
        }
    }
    if (n_idle) {
        qsort(idle, n_idle, sizeof *idle, compare_clients);
    }
    for (i = 0; i < n_idle; i++) {
        ds_put_cstr(s, "  ");
        format_client(idle[i], 0, s);
        ds_put_cstr(s, ", no server\n");
    }
    free(idle);
}

static int
compare_switches(const void *a_, const void *b_)
{
    const struct controller_switch *const *a = a_;
    const struct controller_switch *const *b = b_;
    uint64_t a_dpid = lb_switch_get_dpid((*a)->sw);
    uint64_t b_dpid = lb_switch_get_dpid((*b)->sw);

    return a_dpid < b_dpid ? -1 : a_dpid > b_dpid;
}

/* lb/show [DPID]: appends to 's' the state of every switch, or of the one
 * with 'dpid_s' (if nonnull).  Returns an error if there is no such
 * switch. */
char *
lb_controller_show(const struct lb_controller *ctl, const char *dpid_s,
                   struct ds *s)
{
    uint64_t dpid = 0;

    if (dpid_s && !dpid_from_string(dpid_s, &dpid)) {
        return xstrdup("bad datapath ID (use 16 hex digits, as in lb/show's "
                       "output)");
    }

    size_t n = hmap_count(&ctl->switches);
    const struct controller_switch **sorted = xmalloc(n * sizeof *sorted);
    const struct controller_switch *cs;
    size_t i = 0;
    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        sorted[i++] = cs;
    }
    qsort(sorted, n, sizeof *sorted, compare_switches);

    bool found = false;
    for (i = 0; i < n; i++) {
        cs = sorted[i];
        if (dpid_s && lb_switch_get_dpid(cs->sw) != dpid) {
            continue;
        }
        found = true;
        ds_put_format(s, "switch %016"PRIx64, lb_switch_get_dpid(cs->sw));
        if (cs->via) {
            ds_put_format(s, " (%s): connected\n", cs->via);
        } else {
            ds_put_cstr(s, ": disconnected\n");
        }
        format_switch(cs->sw, s);
    }
    free(sorted);
    return dpid_s && !found ? xstrdup("no such switch") : NULL;
}

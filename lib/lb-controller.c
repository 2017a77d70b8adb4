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
#include "lib/lb-stateful.h"
#include "lib/lb-sessions.h"
#include "lib/lb-switch.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "simap.h"
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
    if (ctl->cfg && ctl->cfg->datapath != cfg->datapath) {
        return xasprintf("the datapath cannot change from %s to %s while "
                         "ovs-balancer runs: restart it",
                         lb_datapath_to_string(ctl->cfg->datapath),
                         lb_datapath_to_string(cfg->datapath));
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

/* Fills '*st' with what the switches know of backend 'ip' and 'port' of
 * 'service'. */
void
lb_controller_member_status(const struct lb_controller *ctl,
                            const char *service, ovs_be32 ip, uint16_t port,
                            struct lb_member_status *st)
{
    const struct controller_switch *cs;

    memset(st, 0, sizeof *st);
    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        const struct lb_services *svcs = lb_switch_get_services(cs->sw);
        const struct lb_service *svc = lb_services_find_name(svcs, service);
        const struct lb_member *m = (svc
                                     ? lb_service_find_member(svc, ip, port)
                                     : NULL);
        if (m) {
            struct lb_traffic traffic;

            lb_member_stats_total(m, &traffic);
            st->found = true;
            st->n_clients += lb_member_n_sessions(m);
            st->n_undrained += (lb_switch_get_stateful(cs->sw)
                                ? !m->drained
                                : lb_member_n_sessions(m) > 0);
            st->packets += traffic.packets;
            st->bytes += traffic.bytes;
            st->n_new += m->stats.n_new;
            st->new_rate += m->stats.new_rate;
            if (lb_switch_is_connected(cs->sw)) {
                enum lb_health_state h = m->backend->health.state;
                st->n_up += h == LB_HEALTH_UP;
                st->n_down += h == LB_HEALTH_DOWN;
                if (!st->checked && svc->cfg.check.kind != LB_CHECK_NONE) {
                    st->checked = true;
                    st->check_state = lb_check_state_name(m->check.state);
                    ovs_strlcpy(st->check_result, m->check.result,
                                sizeof st->check_result);
                    st->check_changed = m->check.changed;
                }
            }
        }
    }
}

static void
format_traffic(struct ds *s, size_t n_clients, double new_rate,
               uint64_t packets, uint64_t bytes)
{
    ds_put_format(s, "%"PRIuSIZE" client%s, %.1f new/s, %"PRIu64" packets, "
                  "%"PRIu64" bytes\n", n_clients, n_clients == 1 ? "" : "s",
                  new_rate, packets, bytes);
}

/* Adds what the balancer holds, for OVS's memory module (memory/show, and
 * the log line that comes with a report of its growth). */
void
lb_controller_get_memory_usage(const struct lb_controller *ctl,
                               struct simap *usage)
{
    const struct controller_switch *cs;
    size_t n_clients = 0, n_sessions = 0;

    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        const struct lb_sessions *s = lb_switch_get_sessions(cs->sw);
        n_clients += lb_sessions_count_clients(s);
        n_sessions += lb_sessions_count(s);
    }
    simap_increase(usage, "switches", hmap_count(&ctl->switches));
    simap_increase(usage, "services", ctl->cfg ? ctl->cfg->n_services : 0);
    simap_increase(usage, "clients", n_clients);
    simap_increase(usage, "sessions", n_sessions);
    lb_sessions_get_memory_usage(usage);
}

/* Appends, for "lb/stats", each service's and backend's traffic on all
 * switches together. */
void
lb_controller_stats(const struct lb_controller *ctl, struct ds *s)
{
    const struct lb_config *cfg = ctl->cfg;

    if (!cfg) {
        return;
    }
    ds_put_format(s, "counters read every %d s", cfg->stats_interval);
    ds_put_cstr(s, cfg->stats_interval ? "\n" : " (never: stats-interval is "
                "0)\n");
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct lb_service_config *sc = &cfg->services[i];
        struct lb_member_status *st = xcalloc(MAX(sc->n_backends, 1),
                                              sizeof *st);
        struct lb_member_status total;

        memset(&total, 0, sizeof total);
        for (size_t j = 0; j < sc->n_backends; j++) {
            lb_controller_member_status(ctl, sc->name, sc->backends[j].ip,
                                        sc->backends[j].port, &st[j]);
            total.n_clients += st[j].n_clients;
            total.new_rate += st[j].new_rate;
            total.packets += st[j].packets;
            total.bytes += st[j].bytes;
        }
        ds_put_format(s, "service %s: ", sc->name);
        format_traffic(s, total.n_clients, total.new_rate, total.packets,
                       total.bytes);
        for (size_t j = 0; j < sc->n_backends; j++) {
            ds_put_cstr(s, "  backend ");
            lb_format_endpoint(s, sc->backends[j].ip, sc->backends[j].port);
            ds_put_cstr(s, ": ");
            format_traffic(s, st[j].n_clients, st[j].new_rate,
                           st[j].packets, st[j].bytes);
        }
        free(st);
    }
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
                      const struct lb_ports *ports, struct ofpbuf *out,
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

/* Forgets the connection to switch 'dpid': it went away, or ('stays') this
 * instance stops acting on it while it stays. */
static void
forget_connection(struct lb_controller *ctl, uint64_t dpid, bool stays,
                  long long int now)
{
    struct controller_switch *cs = find_switch(ctl, dpid);

    if (cs) {
        if (stays) {
            lb_switch_release(cs->sw, now);
        } else {
            lb_switch_disconnected(cs->sw, now);
        }
        free(cs->via);
        cs->via = NULL;
    }
}

void
lb_controller_disconnect(struct lb_controller *ctl, uint64_t dpid,
                         long long int now)
{
    forget_connection(ctl, dpid, false, now);
}

/* Stops acting on switch 'dpid', whose connection stays. */
void
lb_controller_release(struct lb_controller *ctl, uint64_t dpid,
                      long long int now)
{
    forget_connection(ctl, dpid, true, now);
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

/* What lb/show is asked for. */
struct show_args {
    bool has_dpid;
    uint64_t dpid;
    size_t max_clients;         /* Client lines per switch, 0 for none. */
    bool has_ip;
    ovs_be32 ip;                /* One client only. */
};

/* Client lines printed per switch by "--clients" without a number. */
#define SHOW_DEFAULT_CLIENTS 100

static char *
parse_show_args(int argc, const char *argv[], struct show_args *args)
{
    memset(args, 0, sizeof *args);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];

        if (!strcmp(arg, "--clients")) {
            args->max_clients = SHOW_DEFAULT_CLIENTS;
        } else if (!strncmp(arg, "--clients=", 10)) {
            unsigned int n;
            if (!str_to_uint(arg + 10, 10, &n) || !n) {
                return xasprintf("\"%s\": the number of clients must be a "
                                 "positive number", arg);
            }
            args->max_clients = n;
        } else if (strchr(arg, '.') && ip_parse(arg, &args->ip)) {
            args->has_ip = true;
        } else if (dpid_from_string(arg, &args->dpid)) {
            args->has_dpid = true;
        } else {
            return xasprintf("\"%s\" is neither a datapath ID (16 hex "
                             "digits, as in lb/show's output), a client's "
                             "IP nor --clients[=N]", arg);
        }
    }
    return NULL;
}

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
format_session(const struct lb_session *session, struct ds *s)
{
    const struct lb_member *m = session->member;

    ds_put_cstr(s, ", server ");
    lb_format_endpoint(s, m->backend->ip, m->port);
    ds_put_format(s, "%s\n", session->flows ? "" : " (idle)");
}

static void
format_service_header(const struct lb_service *svc, struct ds *s)
{
    const struct lb_service_config *cfg = &svc->cfg;

    ds_put_format(s, "  service %s: VIP ", cfg->name);
    lb_format_endpoint(s, cfg->vip, cfg->port);
    if (cfg->proto) {
        ds_put_format(s, "/%s", lb_proto_to_string(cfg->proto));
    }
    ds_put_format(s, ", %s, affinity %s", cfg->scheduler->name,
                  lb_affinity_to_string(cfg->affinity));
    if (cfg->check.kind != LB_CHECK_NONE) {
        const struct lb_check_config *c = &cfg->check;

        ds_put_format(s, ", %s check", lb_check_kind_to_string(c->kind));
        if (c->path) {
            ds_put_format(s, " %s", c->path);
        }
        ds_put_format(s, " every %d ms (timeout %d ms, rise %d, fall %d",
                      c->interval, c->timeout, c->rise, c->fall);
        if (c->slow_start) {
            ds_put_format(s, ", slow start %d s", c->slow_start);
        }
        ds_put_char(s, ')');
    }
    ds_put_format(s, "%s\n", svc->unavailable ? ", no server up" : "");
}

/* Appends 'svc''s backends and, within '*budget' client lines (which it
 * decreases), its sessions, each backend's first. */
static void
format_service(const struct lb_service *svc, size_t *budget, struct ds *s)
{
    const struct lb_session **sessions = xmalloc(MAX(*budget, 1)
                                                 * sizeof *sessions);
    size_t n_sessions = 0;

    format_service_header(svc, s);
    for (size_t i = 0; i < svc->n_members; i++) {
        const struct lb_member *m = svc->members[i];
        const struct lb_backend *b = m->backend;
        size_t n = lb_member_n_sessions(m);

        ds_put_cstr(s, "    server ");
        lb_format_endpoint(s, b->ip, m->port);
        if (m->weight != LB_DEFAULT_WEIGHT) {
            ds_put_format(s, " weight %u", m->weight);
        }
        if (m->draining) {
            ds_put_cstr(s, " draining");
        }
        ds_put_cstr(s, ": ");
        if (b->loc.known) {
            ds_put_format(s, ETH_ADDR_FMT" port %"PRIu16", ",
                          ETH_ADDR_ARGS(b->loc.mac),
                          ofp_to_u16(b->loc.ofport));
        }
        ds_put_format(s, "%s, ", lb_health_state_name(b->health.state));
        if (svc->cfg.check.kind != LB_CHECK_NONE) {
            const struct lb_check *c = &m->check;
            ds_put_format(s, "%s check %s", lb_check_kind_to_string(
                              svc->cfg.check.kind),
                          lb_check_state_name(c->state));
            if (c->result[0]) {
                ds_put_format(s, " (%s)", c->result);
            }
            if (c->ramp < 1000) {
                ds_put_format(s, " at %u%% of its weight", c->ramp / 10);
            }
            ds_put_cstr(s, ", ");
        }
        ds_put_format(s, "%"PRIuSIZE" client%s\n", n, n == 1 ? "" : "s");

        const struct lb_session *session;
        LIST_FOR_EACH (session, member_node, &m->sessions) {
            if (n_sessions >= *budget) {
                break;
            }
            sessions[n_sessions++] = session;
        }
    }

    /* Only what is shown is sorted: a million sessions are not. */
    qsort(sessions, n_sessions, sizeof *sessions, compare_sessions);
    for (size_t i = 0; i < n_sessions; i++) {
        ds_put_cstr(s, "    ");
        format_client(sessions[i]->client, sessions[i]->client_port, s);
        format_session(sessions[i], s);
    }
    *budget -= n_sessions;
    free(sessions);
}

/* Appends to 's' the balancer's state on switch 'sw': a summary, each
 * service with its backends, and as many sessions and clients without a
 * session as 'args' asks for; or only the client that 'args' names. */
static void
format_switch(const struct lb_switch *sw, const struct show_args *args,
              struct ds *s)
{
    const struct lb_services *svcs = lb_switch_get_services(sw);
    const struct lb_sessions *sessions = lb_switch_get_sessions(sw);
    size_t n = hmap_count(&svcs->by_name);
    const struct lb_service **services = xmalloc(n * sizeof *services);
    const struct lb_service *svc;
    size_t i = 0;

    const struct lb_stateful *st = lb_switch_get_stateful(sw);
    if (st && lb_switch_is_connected(sw)) {
        lb_stateful_format(st, s);
    }
    if (args->has_ip) {
        const struct lb_client *c = lb_sessions_find_client(sessions,
                                                            args->ip);
        if (c) {
            ds_put_cstr(s, "  ");
            format_client(c, 0, s);
            ds_put_format(s, ", %"PRIu32" session%s\n", c->n_sessions,
                          c->n_sessions == 1 ? "" : "s");
            const struct lb_session *session;
            if (c->n_sessions) {
                LIST_FOR_EACH (session, client_node, &c->sessions) {
                    ds_put_format(s, "    service %s",
                                  session->member->service->cfg.name);
                    if (session->client_port) {
                        ds_put_format(s, ", client port %"PRIu16,
                                      ntohs(session->client_port));
                    }
                    format_session(session, s);
                }
            }
        } else {
            ds_put_format(s, "  no client "IP_FMT"\n", IP_ARGS(args->ip));
        }
        free(services);
        return;
    }

    size_t n_clients = lb_sessions_count_clients(sessions);
    size_t n_sessions = lb_sessions_count(sessions);
    ds_put_format(s, "  %"PRIuSIZE" client%s, %"PRIuSIZE" session%s; "
                  "flows: %s\n", n_clients, n_clients == 1 ? "" : "s",
                  n_sessions, n_sessions == 1 ? "" : "s",
                  lb_repair_mode_name(lb_switch_get_repair_mode(sw)));
    HMAP_FOR_EACH (svc, name_node, &svcs->by_name) {
        services[i++] = svc;
    }
    qsort(services, n, sizeof *services, compare_services);
    size_t budget = args->max_clients;
    for (i = 0; i < n; i++) {
        format_service(services[i], &budget, s);
    }
    free(services);

    /* Clients without a session: the idle list holds exactly them. */
    const struct lb_client **idle = xmalloc(MAX(budget, 1) * sizeof *idle);
    const struct lb_client *c;
    size_t n_idle = 0;
    LIST_FOR_EACH (c, idle_node, &sessions->idle_clients) {
        if (n_idle >= budget) {
            break;
        }
        idle[n_idle++] = c;
    }
    qsort(idle, n_idle, sizeof *idle, compare_clients);
    for (i = 0; i < n_idle; i++) {
        ds_put_cstr(s, "  ");
        format_client(idle[i], 0, s);
        ds_put_cstr(s, ", no server\n");
    }
    free(idle);

    size_t shown = args->max_clients - budget + n_idle;
    size_t total = (lb_sessions_count(sessions)
                    + lb_sessions_count_idle_clients(sessions));
    if (args->max_clients && shown < total) {
        ds_put_format(s, "  (%"PRIuSIZE" of %"PRIuSIZE" shown: lb/show "
                      "--clients=N shows more, lb/show IP one client)\n",
                      shown, total);
    }
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

/* lb/show [DPID] [--clients[=N]] [IP]: appends to 's' the state of every
 * switch (or the one with DPID): a summary and each service's backends;
 * with --clients, up to N (default 100) sessions and clients per switch
 * too; with IP, that client only.  Returns an error for bad arguments or
 * no such switch.  Its work is bounded by what it shows, whatever the
 * number of clients. */
char *
lb_controller_show(const struct lb_controller *ctl, int argc,
                   const char *argv[], struct ds *s)
{
    struct show_args args;
    char *error = parse_show_args(argc, argv, &args);
    if (error) {
        return error;
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
        if (args.has_dpid && lb_switch_get_dpid(cs->sw) != args.dpid) {
            continue;
        }
        found = true;
        ds_put_format(s, "switch %016"PRIx64, lb_switch_get_dpid(cs->sw));
        if (cs->via) {
            ds_put_format(s, " (%s): connected\n", cs->via);
        } else {
            ds_put_cstr(s, ": disconnected\n");
        }
        format_switch(cs->sw, &args, s);
    }
    free(sorted);
    return args.has_dpid && !found ? xstrdup("no such switch") : NULL;
}

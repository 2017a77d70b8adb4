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

/* ovs-balancer: an OpenFlow controller that makes switches balance
 * services on virtual IPs across backend servers. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command-line.h"
#include "controller/dbconn.h"
#include "controller/listener.h"
#include "controller/swconn.h"
#include "daemon.h"
#include "dummy.h"
#include "fatal-signal.h"
#include "lib/lb-config.h"
#include "lib/lb-controller.h"
#include "lib/lb-hugemem.h"
#include "lib/lb-ofp.h"
#include "lib/lb-sessions.h"
#include "lib/lb-switch.h"
#include "memory.h"
#include "ofp-version-opt.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-connection.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vconn.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "simap.h"
#include "timeval.h"
#include "socket-util.h"
#include "stream-ssl.h"
#include "stream.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovs_balancer);

/* A listener for switches (ptcp:, punix:, pssl:). */
struct listener_node {
    struct ovs_list node;       /* In 'listeners'. */
    struct listener *listener;
};

/* A connection to one switch. */
struct switch_node {
    struct ovs_list node;       /* In 'switches'. */
    struct swconn *swconn;
    bool active;                /* Reconnects rather than dies? */
    struct lb_switch *lb;       /* While balancing on it, its state. */

    /* With --ha: the role this instance last asked the switch for, and
     * what the switch said. */
    enum ofp12_controller_role role_asked;  /* OFPCR12_ROLE_NOCHANGE: none. */
    int64_t role_generation;    /* Asked with. */
    const char *role_refused;   /* Why it does not act here, or NULL. */
};

static struct ovs_list listeners = OVS_LIST_INITIALIZER(&listeners);
static struct ovs_list switches = OVS_LIST_INITIALIZER(&switches);

/* While busy, listeners are served at most this often (see main()). */
#define LISTEN_MS 10

/* Rounds of the main loop that read something before it waits anyway. */
#define MAX_ROUNDS_WITHOUT_WAIT 16

/* What to balance, from the command line. */
static struct lb_config config;

/* The balancer, for all switches. */
static struct lb_controller *controller;

/* --enable-dummy: virtual time for tests (time/stop, time/warp). */
static bool enable_dummy;

/* --unixctl: control socket, or NULL for the default. */
static char *unixctl_path;

/* --inactivity-probe: seconds of silence before an echo request. */
static int probe_interval = 5;

/* --reserve-clients: clients to set memory aside for at startup. */
static int reserve_clients;

/* --db: the database to follow, or NULL to take the command line's. */
static const char *db_remote;

/* --max-backoff: longest wait between reconnection attempts. */
static int max_backoff = 8;

/* --ha: one of several instances, with --db; and this instance's name
 * (by default, set once it runs: HOST:PID). */
static bool ha;
static const char *ha_name;

/* Does this instance act on the switches (always, without --ha)?  And the
 * generation of the instance that does, with --ha. */
static bool acting = true;
static int64_t generation;

/* The balancer's next timer (see next_timer_get()). */
static long long int next_timer;
static long long int next_timer_computed = LLONG_MIN;
static bool next_timer_stale = true;

static long long int next_timer_get(long long int now);
static void run_memory(void);
static unixctl_cb_func ovs_balancer_exit;
static unixctl_cb_func lb_unixctl_show;
static unixctl_cb_func lb_unixctl_stats;

static void parse_options(int argc, char *argv[]);
static void check_db_remote(const char *);
static const char *default_instance_name(void);
static char *check_method(const char *);
static void open_targets(int argc, char *argv[]);
OVS_NO_RETURN static void usage(void);

static void switch_ready(struct swconn *, void *aux);
static void switch_prefetch(struct swconn *, const void *msg, size_t len,
                            void *aux);
static void switch_prefetch_done(struct swconn *, void *aux);
static void switch_message(struct swconn *, enum ofptype,
                           const struct ofp_header *, void *aux);
static void switch_disconnected(struct swconn *, void *aux);
static void switch_node_destroy(struct switch_node *);
static void accept_switches(void);
static void update_role(const struct dbconn *);

static const struct swconn_handler switch_handler = {
    .ready = switch_ready,
    .prefetch = switch_prefetch,
    .prefetch_done = switch_prefetch_done,
    .message = switch_message,
    .disconnected = switch_disconnected,
};

int
main(int argc, char *argv[])
{
    struct unixctl_server *unixctl;
    bool exiting = false;

#ifdef __GLIBC__
    /* Sessions and clients go by the million when they expire, and glibc
     * keeps small freed blocks in "fast bins" that it sorts out all at once
     * at the next large allocation: a stall of most of a second.  Without
     * fast bins each free() does its own part. */
    mallopt(M_MXFAST, 0);
#endif
    ovs_cmdl_proctitle_init(argc, argv);
    ovs_set_program_name(argv[0], OVSB_VERSION);
    service_start(&argc, &argv);
    lb_config_init(&config);
    parse_options(argc, argv);
    fatal_ignore_sigpipe();
    if (enable_dummy) {
        timeval_dummy_register();
    }
    controller = lb_controller_create();
    char *error = lb_controller_reconfigure(controller, &config, time_msec());
    if (error) {
        ovs_fatal(0, "%s", error);
    }

    /* Open everything before detaching, so that a bad target or a port in
     * use is reported on the terminal with a nonzero exit status. */
    open_targets(argc - optind, argv + optind);

    daemon_become_new_user(false);
    daemonize_start(false);
    if (reserve_clients) {
        /* In the daemon itself: pages touched before it forked would each
         * fault again at the first write after. */
        long long int start = time_msec();
        lb_sessions_reserve(reserve_clients);
        VLOG_INFO("memory set aside for %d clients in %lld ms",
                  reserve_clients, time_msec() - start);
    }

    int retval = unixctl_server_create(unixctl_path, &unixctl);
    if (retval) {
        exit(EXIT_FAILURE);
    }
    unixctl_command_register("exit", "", 0, 0, ovs_balancer_exit, &exiting);
    unixctl_command_register("lb/stats", "", 0, 0, lb_unixctl_stats, NULL);

    daemonize_complete();
    VLOG_INFO("%s", ovs_get_program_version());
    struct dbconn *db = db_remote ? dbconn_create(db_remote) : NULL;
    if (ha) {
        /* Standby until the database says otherwise.  (The default name
         * has the daemon's PID, known only now that it has detached.) */
        if (!ha_name) {
            ha_name = default_instance_name();
        }
        dbconn_set_ha(db, ha_name);
        acting = false;
        VLOG_INFO("instance %s: standby until it holds the database lock",
                  ha_name);
    }
    unixctl_command_register("lb/show", "[DPID] [--clients[=N]] [IP]", 0, 3,
                             lb_unixctl_show, db);

    run_memory();               /* Registers memory/show. */
    long long int next_listen = LLONG_MIN;
    int n_rounds = 0;
    while (!exiting) {
        /* A failed accept() is not free: Linux makes the new socket first
         * and frees it through RCU, work done by the CPU's softirq thread
         * in slices that stall the balancer for half a millisecond.  Tried
         * on every iteration of a busy loop, the listeners (the switches'
         * and unixctl's) made the balancer's setup latency p99 several
         * times worse, so they are served at most every LISTEN_MS.  (Of
         * real time: on virtual time, stopped, time_msec() stands still.
         * A wall clock that jumps back serves them at once.) */
        long long int wall = time_wall_msec();
        bool serve_listeners = (wall >= next_listen
                                || wall < next_listen - LISTEN_MS);
        if (serve_listeners) {
            accept_switches();
            unixctl_server_run(unixctl);
            run_memory();
            next_listen = wall + LISTEN_MS;
            next_timer_stale = true;
        }

        /* The database first: an instance that lost its lock, or hung and
         * came back, stops acting before it handles anything else. */
        if (db) {
            bool was_acting = acting;
            if (dbconn_run(db, controller, &config)) {
                next_timer_stale = true;
            }
            update_role(db);
            if (acting != was_acting) {
                next_timer_stale = true;
            }
        }

        struct switch_node *sn;
        bool got = false;
        swconn_find_ready();
        long long int now = time_msec();
        LIST_FOR_EACH_SAFE (sn, node, &switches) {
            if (swconn_run(sn->swconn, now)) {
                got = true;
                if (sn->lb) {
                    next_timer = MIN(next_timer,
                                     lb_switch_next_timer(sn->lb));
                }
            }
            if (!sn->active && !swconn_is_alive(sn->swconn)) {
                switch_node_destroy(sn);
            }
        }
        now = time_msec();
        if (now >= next_timer_get(now)) {
            lb_controller_run(controller, now);
            next_timer_stale = true;
        }
        LIST_FOR_EACH (sn, node, &switches) {
            swconn_flush(sn->swconn);
        }

        /* While the switches keep sending, go round again before waiting:
         * a read that finds nothing is one system call, where waiting is
         * poll(), getrusage() and the poll loop's bookkeeping, and under
         * load the next messages have usually come meanwhile.  Bounded, so
         * that the loop still waits now and then. */
        if (got && !exiting && ++n_rounds < MAX_ROUNDS_WITHOUT_WAIT) {
            continue;
        }
        n_rounds = 0;

        /* Listeners just served wake the loop when they have something;
         * the others are served when their time comes. */
        if (serve_listeners) {
            struct listener_node *l;
            LIST_FOR_EACH (l, node, &listeners) {
                listener_wait(l->listener);
            }
            unixctl_server_wait(unixctl);
        } else {
            poll_timer_wait(MAX(next_listen - wall, 0));
        }
        LIST_FOR_EACH (sn, node, &switches) {
            swconn_wait(sn->swconn);
        }
        swconn_wait_ready();
        poll_timer_wait_until(next_timer_get(time_msec()));
        if (db) {
            dbconn_wait(db);
        }
        if (exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    struct switch_node *sn;
    LIST_FOR_EACH_SAFE (sn, node, &switches) {
        switch_node_destroy(sn);
    }
    dbconn_destroy(db);
    lb_controller_destroy(controller);
    lb_config_destroy(&config);
    struct listener_node *l;
    LIST_FOR_EACH_POP (l, node, &listeners) {
        listener_close(l->listener);
        free(l);
    }
    unixctl_server_destroy(unixctl);
    service_stop();
    return 0;
}

/* Returns the balancer's next timer, 'now' being time_msec().  Computing it
 * looks at every switch, which on every turn of the main loop cost more
 * with 64 switches than their messages did.  So it is computed in full at
 * most once a millisecond, and after what else than a switch's own
 * messages may have changed it (the timers themselves, the database, the
 * control commands), and in between lowered by the timers of the switches
 * that had messages (see main()): a switch's messages change only its own
 * timers. */
static long long int
next_timer_get(long long int now)
{
    if (next_timer_stale || now != next_timer_computed) {
        next_timer = lb_controller_next_timer(controller);
        next_timer_computed = now;
        next_timer_stale = false;
    }
    return next_timer;
}

static void
switch_node_destroy(struct switch_node *sn)
{
    if (sn->lb) {
        lb_controller_disconnect(controller, lb_switch_get_dpid(sn->lb),
                                 time_msec());
    }
    ovs_list_remove(&sn->node);
    swconn_destroy(sn->swconn);
    free(sn);
}

static const char *
role_name(enum ofp12_controller_role role)
{
    return (role == OFPCR12_ROLE_PRIMARY ? "master"
            : role == OFPCR12_ROLE_SECONDARY ? "slave"
            : role == OFPCR12_ROLE_EQUAL ? "equal"
            : "no");
}

/* With --ha, asks the switch for 'role' with the current generation.  A
 * slave's request waits until the generation is known: one older than the
 * switch has seen would be refused, and leave this instance "equal". */
static void
ask_role(struct switch_node *sn, enum ofp12_controller_role role)
{
    if (!ha || !swconn_is_ready(sn->swconn)
        || (role == OFPCR12_ROLE_SECONDARY && !generation)) {
        return;
    }
    sn->role_asked = role;
    sn->role_generation = generation;
    swconn_send(sn->swconn,
                lb_ofp_encode_role_request(swconn_get_version(sn->swconn),
                                           role, generation));
}

/* Starts balancing on the switch behind 'sn', whose handshake is done
 * (and, with --ha, which has made this instance its master). */
static void
start_balancing(struct switch_node *sn)
{
    struct swconn *swconn = sn->swconn;
    uint64_t dpid = swconn_get_dpid(swconn);
    struct switch_node *other;

    /* The same switch over a second connection: the newest wins. */
    LIST_FOR_EACH (other, node, &switches) {
        if (other != sn && other->lb
            && lb_switch_get_dpid(other->lb) == dpid) {
            VLOG_INFO("%s: switch %016"PRIx64" also connected on %s, which "
                      "takes over", swconn_get_name(other->swconn), dpid,
                      swconn_get_name(swconn));
            other->lb = NULL;
        }
    }

    enum ofp_version version = swconn_get_version(swconn);
    char *via = xasprintf("%s on %s", ofputil_version_to_string(version),
                          swconn_get_name(swconn));
    sn->lb = lb_controller_connect(controller, dpid,
                                   swconn_get_protocol(swconn),
                                   swconn_get_ports(swconn),
                                   swconn_get_tx(swconn), via, time_msec());
    free(via);
}

/* Acts on the switch behind 'sn': with --ha, once it has accepted this
 * instance as master (a switch that refuses, having seen a newer
 * generation, would otherwise take this instance's flows as from an
 * "equal" controller). */
static void
take_switch(struct switch_node *sn)
{
    sn->role_refused = NULL;
    if (ha) {
        ask_role(sn, OFPCR12_ROLE_PRIMARY);
    } else {
        start_balancing(sn);
    }
}

/* Stops balancing on the switch behind 'sn': nothing more is sent to it,
 * and what comes from it is ignored.  'why' says so in lb/show. */
static void
release_switch(struct switch_node *sn, const char *why)
{
    if (sn->lb) {
        lb_controller_release(controller, lb_switch_get_dpid(sn->lb),
                              time_msec());
        sn->lb = NULL;
    }
    sn->role_refused = why;
}

static void
switch_ready(struct swconn *swconn OVS_UNUSED, void *sn_)
{
    struct switch_node *sn = sn_;

    if (acting) {
        take_switch(sn);
    } else {
        ask_role(sn, OFPCR12_ROLE_SECONDARY);
    }
}

/* Follows the database's word on who acts: becomes master on every switch
 * and balances, or stops and becomes a slave. */
static void
update_role(const struct dbconn *db)
{
    struct dbconn_role role;
    struct switch_node *sn;

    dbconn_get_role(db, &role);
    if (role.active != acting) {
        acting = role.active;
        generation = role.generation;
        LIST_FOR_EACH (sn, node, &switches) {
            if (!swconn_is_ready(sn->swconn)) {
                continue;
            }
            if (acting) {
                take_switch(sn);
            } else {
                release_switch(sn, NULL);
                ask_role(sn, OFPCR12_ROLE_SECONDARY);
            }
        }
    } else if (role.generation != generation && !role.claiming) {
        /* Another instance took over, or the first generation is known:
         * the slave's role, with a generation the switches accept.  (Not
         * for the generation this instance is about to take itself.) */
        generation = role.generation;
        if (!acting) {
            LIST_FOR_EACH (sn, node, &switches) {
                ask_role(sn, OFPCR12_ROLE_SECONDARY);
            }
        }
    }
}

/* With --ha: the switch's word on roles.  Returns true if 'oh' was about
 * them. */
static bool
switch_role_message(struct switch_node *sn, enum ofptype type,
                    const struct ofp_header *oh)
{
    const char *name = swconn_get_name(sn->swconn);

    if (type == OFPTYPE_ERROR) {
        enum ofperr error = ofperr_decode_msg(oh, NULL);
        if (error == OFPERR_OFPRRFC_STALE
            && sn->role_asked == OFPCR12_ROLE_SECONDARY) {
            /* A standby that has not heard of the newest generation yet:
             * it asks again when the database tells it. */
            VLOG_INFO("%s: the switch has seen a generation newer than "
                      "%"PRId64": another instance is master there",
                      name, sn->role_generation);
            return true;
        } else if (error == OFPERR_OFPRRFC_STALE) {
            VLOG_WARN("%s: the switch refused the master role with "
                      "generation %"PRId64" as stale: another controller "
                      "has been master with a newer one; not acting on this "
                      "switch", name, sn->role_generation);
            release_switch(sn, "the switch refused its generation as stale");
            return true;
        } else if (error == OFPERR_OFPBRC_IS_SECONDARY) {
            if (sn->lb) {
                VLOG_WARN("%s: the switch made this instance a slave: "
                          "another controller is master; not acting on "
                          "this switch", name);
                release_switch(sn, "another controller is master");
            }
            return true;
        }
    } else if (type == OFPTYPE_ROLE_REPLY) {
        struct ofputil_role_request rr;
        if (!ofputil_decode_role_message(oh, &rr)) {
            VLOG_DBG("%s: the switch says this instance is %s, generation "
                     "%"PRIu64, name, role_name(rr.role),
                     rr.have_generation_id ? rr.generation_id : 0);
            if (acting && rr.role == OFPCR12_ROLE_PRIMARY && !sn->lb
                && sn->role_asked == OFPCR12_ROLE_PRIMARY
                && !sn->role_refused) {
                start_balancing(sn);
            }
        }
        return true;
    } else if (type == OFPTYPE_ROLE_STATUS) {
        struct ofputil_role_status rs;
        if (!ofputil_decode_role_status(oh, &rs)
            && rs.role != OFPCR12_ROLE_PRIMARY && sn->lb) {
            VLOG_WARN("%s: another controller became master (generation "
                      "%"PRIu64"); not acting on this switch", name,
                      rs.generation_id);
            release_switch(sn, "another controller became master");
        }
        return true;
    }
    return false;
}

static void
switch_prefetch(struct swconn *swconn OVS_UNUSED, const void *msg,
                size_t len, void *sn_)
{
    struct switch_node *sn = sn_;

    if (sn->lb) {
        lb_switch_prefetch(sn->lb, msg, len);
    }
}

static void
switch_prefetch_done(struct swconn *swconn OVS_UNUSED, void *sn_)
{
    struct switch_node *sn = sn_;

    if (sn->lb) {
        lb_switch_prefetch_entries(sn->lb);
    }
}

static void
switch_message(struct swconn *swconn, enum ofptype type,
               const struct ofp_header *oh, void *sn_)
{
    struct switch_node *sn = sn_;

    if (ha && switch_role_message(sn, type, oh)) {
        return;
    }
    if (!sn->lb) {
        return;
    }
    if (type == OFPTYPE_PACKET_IN) {
        lb_switch_packet_in(sn->lb, oh, swconn_read_time(swconn));
    } else if (type == OFPTYPE_FLOW_REMOVED) {
        lb_switch_flow_removed(sn->lb, oh, time_msec());
    } else if (type == OFPTYPE_FLOW_STATS_REPLY) {
        lb_switch_flow_stats_reply(sn->lb, oh, time_msec());
    } else if (type == OFPTYPE_FLOW_MONITOR_STATS_REPLY) {
        lb_switch_flow_monitor(sn->lb, oh, time_msec());
    } else if (type == OFPTYPE_FLOW_MONITOR_PAUSED
               || type == OFPTYPE_FLOW_MONITOR_RESUMED) {
        lb_switch_flow_monitor_paused(sn->lb,
                                      type == OFPTYPE_FLOW_MONITOR_PAUSED,
                                      time_msec());
    } else if (type == OFPTYPE_ERROR) {
        lb_switch_error(sn->lb, oh, time_msec());
    }
}

static void
switch_disconnected(struct swconn *swconn OVS_UNUSED, void *sn_)
{
    struct switch_node *sn = sn_;

    if (sn->lb) {
        lb_controller_disconnect(controller, lb_switch_get_dpid(sn->lb),
                                 time_msec());
        sn->lb = NULL;
    }
    sn->role_refused = NULL;
    sn->role_asked = OFPCR12_ROLE_NOCHANGE;
}

/* Takes the switches that connected to the listeners. */
static void
accept_switches(void)
{
    struct listener_node *l;

    LIST_FOR_EACH (l, node, &listeners) {
        struct stream *stream;
        int error, fd;

        while (!(error = listener_accept(l->listener, &stream, &fd))) {
            struct switch_node *sn = xzalloc(sizeof *sn);
            sn->swconn = swconn_create_passive(stream, fd, probe_interval,
                                               &switch_handler, sn);
            ovs_list_push_back(&switches, &sn->node);
        }
        if (error != EAGAIN) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
            VLOG_ERR_RL(&rl, "%s: accept failed (%s)",
                        listener_get_name(l->listener), ovs_strerror(error));
        }
    }
}

/* lb/show [DPID] [--clients[=N]] [IP]: see lb_controller_show(). */
static void
lb_unixctl_stats(struct unixctl_conn *conn, int argc OVS_UNUSED,
                 const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    lb_controller_stats(controller, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* With --ha, lb/show begins with who acts, and the roles on the
 * switches. */
static void
show_role(const struct dbconn *db, struct ds *s)
{
    struct dbconn_role role;

    dbconn_get_role(db, &role);
    ds_put_format(s, "instance %s: %s", ha_name,
                  acting ? "active" : "standby");
    if (role.active_name) {
        if (!acting) {
            ds_put_format(s, "; active: %s", role.active_name);
        }
        ds_put_format(s, " since %s, generation %"PRId64,
                      role.active_since ? role.active_since : "(unknown)",
                      role.generation);
    }
    ds_put_char(s, '\n');

    struct switch_node *sn;
    LIST_FOR_EACH (sn, node, &switches) {
        if (swconn_is_ready(sn->swconn)) {
            ds_put_format(s, "  switch %016"PRIx64": %s",
                          swconn_get_dpid(sn->swconn),
                          role_name(sn->role_asked));
            if (sn->role_refused) {
                ds_put_format(s, ", not acting: %s", sn->role_refused);
            }
            ds_put_char(s, '\n');
        }
    }
}

static void
lb_unixctl_show(struct unixctl_conn *conn, int argc, const char *argv[],
                void *db_)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    if (ha) {
        show_role(db_, &s);
    }
    char *error = lb_controller_show(controller, argc - 1, argv + 1, &s);

    if (error) {
        unixctl_command_reply_error(conn, error);
        free(error);
    } else {
        unixctl_command_reply(conn, ds_cstr(&s));
    }
    ds_destroy(&s);
}

/* SSL settings given on the command line, for checking pssl: and ssl:
 * before the first connection needs them. */
static bool ssl_private_key, ssl_certificate, ssl_ca_cert;

/* Returns an error if 'addr' is neither an IPv4 nor an IPv6 address
 * (possibly in brackets). */
static char *
check_ip(const char *addr)
{
    size_t len = strlen(addr);
    char *ip = (addr[0] == '[' && len > 1 && addr[len - 1] == ']'
                ? xmemdup0(addr + 1, len - 2) : xstrdup(addr));
    struct in6_addr ip6;
    ovs_be32 ip4;
    bool ok = ip_parse(ip, &ip4) || ipv6_parse(ip, &ip6);

    free(ip);
    return ok ? NULL : xasprintf("\"%s\" is not an IP address", addr);
}

static char *
check_port(const char *port)
{
    unsigned int n;

    return (str_to_uint(port, 10, &n) && n <= 65535 ? NULL
            : xasprintf("bad port \"%s\" (use a number from 0 to 65535)",
                        port));
}

/* Returns an error, naming the problem, if 'name' is a tcp or ssl
 * connection method with a bad port or IP address, or an ssl one without the
 * keys and certificates it needs; NULL otherwise (other methods are left
 * to OVS). */
static char *
check_method(const char *name)
{
    bool passive = !strncmp(name, "ptcp:", 5) || !strncmp(name, "pssl:", 5);
    bool active = !strncmp(name, "tcp:", 4) || !strncmp(name, "ssl:", 4);
    bool ssl = !strncmp(name, "pssl:", 5) || !strncmp(name, "ssl:", 4);

    if (!passive && !active) {
        return NULL;
    }
    if (ssl && (!ssl_private_key || !ssl_certificate || !ssl_ca_cert)) {
        return xstrdup("SSL needs --private-key, --certificate and "
                       "--ca-cert");
    }

    /* passive: [PORT][:IP]; active: IP[:PORT]; an IPv6 IP in brackets. */
    char *rest = xstrdup(strchr(name, ':') + 1);
    char *port, *ip;
    if (passive) {
        port = rest;
        ip = strchr(rest, ':');
        if (ip) {
            *ip++ = '\0';
        }
    } else {
        ip = rest;
        char *end = rest[0] == '[' ? strchr(rest, ']') : rest;
        port = end ? strchr(end, ':') : NULL;
        if (port && rest[0] != '[' && strchr(port + 1, ':')) {
            free(rest);
            return xstrdup("an IPv6 address goes in brackets, "
                           "e.g. tcp:[::1]:6653");
        }
        if (port) {
            *port++ = '\0';
        }
    }

    char *error = NULL;
    if (active && !*ip) {
        error = xasprintf("the address to connect to is missing "
                          "(%.*sIP[:PORT])",
                          (int) (strchr(name, ':') - name + 1), name);
    } else if (port && *port) {
        error = check_port(port);
    }
    /* An active method may name a host; only what looks like an address
     * must be one. */
    if (!error && ip && *ip
        && (passive || ip[0] == '['
            || ip[strspn(ip, "0123456789.")] == '\0')) {
        error = check_ip(ip);
    }
    free(rest);
    return error;
}

/* Opens each connection method in 'targets': listeners for the passive
 * ones, reconnecting connections for the active ones.  Exits with a message
 * if one is malformed or cannot listen. */
static void
open_targets(int n, char *targets[])
{
    if (!n) {
        ovs_fatal(0, "at least one OpenFlow connection method is required, "
                  "e.g. ptcp:6653 (use --help for usage)");
    }

    /* All are checked before any is opened. */
    for (int i = 0; i < n; i++) {
        const char *name = targets[i];
        char *problem = check_method(name);

        if (problem) {
            ovs_fatal(0, "%s: %s", name, problem);
        } else if (pvconn_verify_name(name) && vconn_verify_name(name)) {
            ovs_fatal(0, "%s: not an OpenFlow connection method (expected "
                      "ptcp:[PORT][:IP], punix:FILE, pssl:[PORT][:IP], "
                      "tcp:IP[:PORT], unix:FILE or ssl:IP[:PORT])", name);
        }
    }

    for (int i = 0; i < n; i++) {
        const char *name = targets[i];

        if (!pvconn_verify_name(name)) {
            struct listener_node *l = xmalloc(sizeof *l);
            int error = listener_open(name, &l->listener);
            if (error) {
                ovs_fatal(error, "%s: cannot listen", name);
            }
            ovs_list_push_back(&listeners, &l->node);
        } else {
            struct switch_node *sn = xzalloc(sizeof *sn);
            sn->active = true;
            sn->swconn = swconn_create_active(name, probe_interval,
                                              max_backoff, &switch_handler,
                                              sn);
            ovs_list_push_back(&switches, &sn->node);
        }
    }
}

static void
ovs_balancer_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
                  const char *argv[] OVS_UNUSED, void *exiting_)
{
    bool *exiting = exiting_;
    *exiting = true;
    unixctl_command_reply(conn, NULL);
}

/* OVS's memory module: logs the peak resident size when it grows by half,
 * and answers memory/show, each with what the balancer holds.  (Its
 * requests are answered in the iteration that reads them, so that it needs
 * no memory_wait().) */
static void
run_memory(void)
{
    memory_run();
    if (memory_should_report()) {
        struct simap usage = SIMAP_INITIALIZER(&usage);

        lb_controller_get_memory_usage(controller, &usage);
        memory_report(&usage);
        simap_destroy(&usage);
    }
}

/* Parses a whole number in [min, max] of 'what' for 'option' or exits. */
static int
parse_int(const char *option, const char *arg, int min, int max,
          const char *what)
{
    int value;

    if (!str_to_int(arg, 10, &value) || value < min || value > max) {
        ovs_fatal(0, "--%s: \"%s\" is not a number%s between %d and %d",
                  option, arg, what, min, max);
    }
    return value;
}

static int
parse_seconds(const char *option, const char *arg, int min, int max)
{
    return parse_int(option, arg, min, max, " of seconds");
}

static void
parse_options(int argc, char *argv[])
{
    enum {
        OPT_UNIXCTL = UCHAR_MAX + 1,
        OPT_SERVICE,
        OPT_VIP,
        OPT_SERVERS,
        OPT_SETTING,
        OPT_INACTIVITY_PROBE,
        OPT_MAX_BACKOFF,
        OPT_PEER_CA_CERT,
        OPT_ENABLE_DUMMY,
        OPT_HUGE_PAGES,
        OPT_RESERVE_CLIENTS,
        OPT_DB,
        OPT_HA,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
        SSL_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"service", required_argument, NULL, OPT_SERVICE},
        {"db", required_argument, NULL, OPT_DB},
        {"ha", optional_argument, NULL, OPT_HA},
        {"vip", required_argument, NULL, OPT_VIP},
        {"servers", required_argument, NULL, OPT_SERVERS},
        /* The balancer's settings (lb_config_set()). */
        {"lb-mac", required_argument, NULL, OPT_SETTING},
        {"cookie", required_argument, NULL, OPT_SETTING},
        {"idle-timeout", required_argument, NULL, OPT_SETTING},
        {"hard-timeout", required_argument, NULL, OPT_SETTING},
        {"client-timeout", required_argument, NULL, OPT_SETTING},
        {"probe-interval", required_argument, NULL, OPT_SETTING},
        {"probe-misses", required_argument, NULL, OPT_SETTING},
        {"max-clients", required_argument, NULL, OPT_SETTING},
        {"client-overflow", required_argument, NULL, OPT_SETTING},
        {"fallback", required_argument, NULL, OPT_SETTING},
        {"no-backend", required_argument, NULL, OPT_SETTING},
        {"stats-interval", required_argument, NULL, OPT_SETTING},
        {"datapath", required_argument, NULL, OPT_SETTING},
        {"removed-connections", required_argument, NULL, OPT_SETTING},
        {"inactivity-probe", required_argument, NULL, OPT_INACTIVITY_PROBE},
        {"max-backoff", required_argument, NULL, OPT_MAX_BACKOFF},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"enable-dummy", no_argument, NULL, OPT_ENABLE_DUMMY},
        {"huge-pages", no_argument, NULL, OPT_HUGE_PAGES},
        {"reserve-clients", required_argument, NULL, OPT_RESERVE_CLIENTS},
        {"help", no_argument, NULL, 'h'},
        DAEMON_LONG_OPTIONS,
        OFP_VERSION_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        STREAM_SSL_LONG_OPTIONS,
        {"peer-ca-cert", required_argument, NULL, OPT_PEER_CA_CERT},
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);
    const char *vip = NULL, *servers = NULL;
    char *error;

    for (;;) {
        int idx;
        int c = getopt_long(argc, argv, short_options, long_options, &idx);
        if (c == -1) {
            break;
        }

        switch (c) {
        case OPT_SERVICE:
            error = lb_config_add_service(&config, optarg);
            if (error) {
                ovs_fatal(0, "--service: %s", error);
            }
            break;

        case OPT_VIP:
            if (vip) {
                ovs_fatal(0, "--vip is given twice (use --service for "
                          "several services)");
            }
            vip = optarg;
            break;

        case OPT_SERVERS:
            if (servers) {
                ovs_fatal(0, "--servers is given twice (list the servers "
                          "in one, separated by commas)");
            }
            servers = optarg;
            break;

        case OPT_ENABLE_DUMMY:
            enable_dummy = true;
            break;

        case OPT_HUGE_PAGES:
            lb_hugemem_enable();
            break;

        case OPT_RESERVE_CLIENTS:
            reserve_clients = parse_int("reserve-clients", optarg, 0,
                                        100000000, "");
            break;

        case OPT_DB:
            db_remote = optarg;
            break;

        case OPT_HA:
            ha = true;
            ha_name = optarg;
            if (ha_name && (!ha_name[0] || strchr(ha_name, ' '))) {
                ovs_fatal(0, "--ha: \"%s\" is not an instance name (no "
                          "spaces, not empty)", ha_name);
            }
            break;

        case OPT_SETTING:
            error = lb_config_set(&config, long_options[idx].name, optarg);
            if (error) {
                ovs_fatal(0, "--%s: %s", long_options[idx].name, error);
            }
            break;

        case OPT_INACTIVITY_PROBE:
            probe_interval = parse_seconds("inactivity-probe", optarg, 5,
                                           3600);
            break;

        case OPT_MAX_BACKOFF:
            max_backoff = parse_seconds("max-backoff", optarg, 1, 3600);
            break;

        case OPT_UNIXCTL:
            unixctl_path = optarg;
            break;

        case 'h':
            usage();

        VLOG_OPTION_HANDLERS
        OFP_VERSION_OPTION_HANDLERS
        DAEMON_OPTION_HANDLERS
        /* OVS's STREAM_SSL_OPTION_HANDLERS, noting what was given. */
        case 'p':
            stream_ssl_set_private_key_file(optarg);
            ssl_private_key = true;
            break;

        case 'c':
            stream_ssl_set_certificate_file(optarg);
            ssl_certificate = true;
            break;

        case 'C':
            stream_ssl_set_ca_cert_file(optarg, false);
            ssl_ca_cert = true;
            break;

        case OPT_SSL_PROTOCOLS:
            stream_ssl_set_protocols(optarg);
            break;

        case OPT_SSL_CIPHERS:
            stream_ssl_set_ciphers(optarg);
            break;

        case OPT_PEER_CA_CERT:
            stream_ssl_set_peer_ca_cert_file(optarg);
            break;

        case '?':
            exit(EXIT_FAILURE);

        default:
            abort();
        }
    }
    free(short_options);

    if (vip || servers) {
        if (!vip) {
            ovs_fatal(0, "--servers needs --vip (use --help for usage)");
        } else if (!servers) {
            ovs_fatal(0, "--vip needs --servers (use --help for usage)");
        }
        error = lb_config_add_lab_service(&config, vip, servers);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
    }
    if (db_remote) {
        check_db_remote(db_remote);
    }
    if (ha && !db_remote) {
        ovs_fatal(0, "--ha needs --db: the instances share the database "
                  "and take turns by its lock");
    }
    if (db_remote && config.n_services) {
        ovs_fatal(0, "--db takes the services from the database: use "
                  "ovs-balancer-ctl lb-add rather than --service or --vip");
    } else if (!db_remote && !config.n_services) {
        ovs_fatal(0, "no service defined (use --service, or --vip and "
                  "--servers, or --db)");
    }
}

/* --ha without a name: HOST:PID, unique while the instance runs. */
static const char *
default_instance_name(void)
{
    char host[256];

    if (gethostname(host, sizeof host)) {
        ovs_strlcpy(host, "localhost", sizeof host);
    }
    host[sizeof host - 1] = '\0';
    return xasprintf("%s:%ld", host, (long int) getpid());
}

/* Checks each of the comma-separated remotes of --db (several for a
 * clustered database). */
static void
check_db_remote(const char *remotes)
{
    char *copy = xstrdup(remotes);
    char *save_ptr = NULL;

    for (char *r = strtok_r(copy, ",", &save_ptr); r;
         r = strtok_r(NULL, ",", &save_ptr)) {
        if (stream_verify_name(r)) {
            ovs_fatal(0, "--db: \"%s\" is not a database connection "
                      "method (unix:FILE, tcp:IP:PORT or ssl:IP:PORT)", r);
        }
        char *problem = check_method(r);
        if (problem) {
            ovs_fatal(0, "--db: %s: %s", r, problem);
        }
    }
    if (!copy[0] || strstr(remotes, ",,")
        || remotes[strlen(remotes) - 1] == ',') {
        ovs_fatal(0, "--db: empty connection method in \"%s\"", remotes);
    }
    free(copy);
}

static void
usage(void)
{
    printf("%s: OpenFlow server load balancer\n"
           "usage: %s [OPTIONS] --service=SPEC... METHOD...\n"
           "   or: %s [OPTIONS] --vip=IP --servers=IP[,IP]... METHOD...\n"
           "   or: %s [OPTIONS] --db=DATABASE METHOD...\n"
           "where each METHOD is an OpenFlow connection method on which\n"
           "switches connect (passive) or that ovs-balancer connects to\n"
           "(active).\n",
           program_name, program_name, program_name, program_name);
    vconn_usage(true, true, false);
    printf("\nServices:\n"
           "  --service='NAME VIP[:PORT] BACKEND[:PORT][=WEIGHT],... "
           "[tcp|udp]\n"
           "             [scheduler=rr|wrr|wlc|mh] "
           "[affinity=client|connection]\n"
           "             [health=tcp|udp|http:/PATH [interval=S] "
           "[timeout=S] [rise=N]\n"
           "              [fall=N] [slow-start=S] [check-source=IP] "
           "[http-status=N-M]\n"
           "              [expect=STRING]]'\n"
           "                          a service (repeatable); with a "
           "port, tcp unless\n"
           "                          udp is given; weights 0-100 (1); "
           "health checks\n"
           "                          every 2 s, timeout 1, rise 2, fall "
           "3\n"
           "  --vip=IP --servers=IP[,IP]...  the lab's service: all "
           "IPv4 to IP,\n"
           "                          round robin over the servers\n"
           "  --db=DATABASE           follow the services and options in "
           "DATABASE\n"
           "                          (unix:FILE, tcp:IP:PORT, ssl:IP:PORT, "
           "several\n"
           "                          separated by commas), changed with "
           "ovs-balancer-ctl;\n"
           "                          the options given here are its "
           "defaults\n"
           "  --ha[=NAME]             one of several instances on --db: "
           "act only while\n"
           "                          holding its lock, as master of the "
           "switches (NAME:\n"
           "                          HOST:PID)\n"
           "\nService options:\n"
           "  --lb-mac=MAC            the MAC the balancer answers with "
           "(%s)\n"
           "  --cookie=COOKIE         the cookie of its flows, its own on "
           "a shared bridge\n"
           "                          (0x6f76736c62)\n"
           "  --idle-timeout=SECS     idle timeout of per-client flows, "
           "0 for none (%d)\n"
           "  --hard-timeout=SECS     hard timeout of per-client flows, "
           "0 for none (0)\n"
           "  --client-timeout=SECS   forget a client's server after SECS "
           "without flows (%d)\n"
           "  --probe-interval=SECS   ARP-probe the servers every SECS (%d)\n"
           "  --probe-misses=N        a server is down after N probes "
           "unanswered (%d)\n"
           "  --no-backend=drop|reject  with no server up, drop the "
           "service's traffic\n"
           "                          or answer as a host without it: TCP "
           "RST, ICMP\n"
           "                          port (UDP) or host unreachable "
           "(drop)\n"
           "  --max-clients=N         most clients per switch (%d)\n"
           "  --client-overflow=refuse|evict  past that, refuse new "
           "clients or evict\n"
           "                          the least recently used idle "
           "ones (refuse)\n"
           "  --fallback=normal|drop  what the switch does with other "
           "traffic (normal)\n"
           "  --stats-interval=SECS   read the switches' flow counters "
           "every SECS,\n"
           "                          0 for never (%d)\n"
           "  --datapath=reactive|stateful  balance each new client here "
           "(reactive),\n"
           "                          or in the switch with select groups "
           "and conntrack\n"
           "                          (stateful: OpenFlow 1.3 or later)\n"
           "  --removed-connections=keep|reset  stateful: a removed "
           "backend's\n"
           "                          connections go on until idle, or "
           "are flushed (keep)\n",
           LB_DEFAULT_MAC, LB_DEFAULT_IDLE_TIMEOUT, LB_DEFAULT_CLIENT_TIMEOUT,
           LB_DEFAULT_PROBE_INTERVAL, LB_DEFAULT_PROBE_MISSES,
           LB_DEFAULT_MAX_CLIENTS, LB_DEFAULT_STATS_INTERVAL);
    printf("\nConnection options:\n"
           "  --inactivity-probe=SECS  send an echo request after SECS of "
           "silence (5)\n"
           "  --max-backoff=SECS      longest wait between reconnection "
           "attempts (8)\n");
    daemon_usage();
    ofp_version_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  --huge-pages            clients and sessions in huge pages: "
           "faster setup,\n"
           "                          a stall at each new 2 MB\n"
           "  --reserve-clients=N     memory for N clients made ready at "
           "startup (0)\n"
           "  --unixctl=SOCKET        override default control socket name\n"
           "  --enable-dummy          virtual time for tests (time/warp)\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n");
    exit(EXIT_SUCCESS);
}

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

/* ovs-balancer: an OpenFlow controller that makes switches balance a
 * virtual service IP across backend servers. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command-line.h"
#include "controller/swconn.h"
#include "daemon.h"
#include "fatal-signal.h"
#include "packets.h"
#include "hash.h"
#include "lib/lb-config.h"
#include "lib/lb-switch.h"
#include "ofp-version-opt.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vconn.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "socket-util.h"
#include "stream-ssl.h"
#include "stream.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovs_balancer);

/* A listener for switches (ptcp:, punix:, pssl:). */
struct listener {
    struct ovs_list node;       /* In 'listeners'. */
    struct pstream *pstream;
};

/* A connection to one switch. */
struct switch_node {
    struct ovs_list node;       /* In 'switches'. */
    struct swconn *swconn;
    bool active;                /* Reconnects rather than dies? */
    struct balancer *balancer;  /* Once the switch is known, its state. */
};

/* The balancer's state for one switch, by datapath ID.  It outlives the
 * connection, so that a switch that reconnects keeps its clients. */
struct balancer {
    struct hmap_node node;      /* In 'balancers', by datapath ID. */
    struct lb_switch *lb;
    struct switch_node *conn;   /* The connection it talks over, or NULL. */
};

static struct ovs_list listeners = OVS_LIST_INITIALIZER(&listeners);
static struct ovs_list switches = OVS_LIST_INITIALIZER(&switches);
static struct hmap balancers = HMAP_INITIALIZER(&balancers);

/* While busy, listeners are served at most this often (see main()). */
#define LISTEN_MS 10

/* What to balance, from the command line. */
static struct lb_config config;

/* --unixctl: control socket, or NULL for the default. */
static char *unixctl_path;

/* --inactivity-probe: seconds of silence before an echo request. */
static int probe_interval = 5;

/* --max-backoff: longest wait between reconnection attempts. */
static int max_backoff = 8;

static unixctl_cb_func ovs_balancer_exit;
static unixctl_cb_func lb_unixctl_show;

static void parse_options(int argc, char *argv[]);
static void open_targets(int argc, char *argv[]);
OVS_NO_RETURN static void usage(void);

static void switch_ready(struct swconn *, void *aux);
static void switch_message(struct swconn *, enum ofptype,
                           const struct ofp_header *, void *aux);
static void switch_disconnected(struct swconn *, void *aux);
static void switch_node_destroy(struct switch_node *);
static void accept_switches(void);
static void balancers_run(void);
static void balancers_wait(void);
static void balancers_destroy(void);

static const struct swconn_handler switch_handler = {
    .ready = switch_ready,
    .message = switch_message,
    .disconnected = switch_disconnected,
};

int
main(int argc, char *argv[])
{
    struct unixctl_server *unixctl;
    bool exiting = false;

    ovs_cmdl_proctitle_init(argc, argv);
    ovs_set_program_name(argv[0], OVSB_VERSION);
    service_start(&argc, &argv);
    lb_config_init(&config);
    parse_options(argc, argv);
    fatal_ignore_sigpipe();

    /* Open everything before detaching, so that a bad target or a port in
     * use is reported on the terminal with a nonzero exit status. */
    open_targets(argc - optind, argv + optind);

    daemon_become_new_user(false);
    daemonize_start(false);

    int retval = unixctl_server_create(unixctl_path, &unixctl);
    if (retval) {
        exit(EXIT_FAILURE);
    }
    unixctl_command_register("exit", "", 0, 0, ovs_balancer_exit, &exiting);
    unixctl_command_register("lb/show", "[DPID]", 0, 1, lb_unixctl_show,
                             NULL);

    daemonize_complete();
    VLOG_INFO("%s", ovs_get_program_version());

    long long int next_listen = LLONG_MIN;
    while (!exiting) {
        /* A failed accept() is not free: Linux makes the new socket first
         * and frees it through RCU, work done by the CPU's softirq thread
         * in slices that stall the balancer for half a millisecond.  Tried
         * on every iteration of a busy loop, the listeners (the switches'
         * and unixctl's) made the balancer's setup latency p99 several
         * times worse, so they are served at most every LISTEN_MS. */
        bool serve_listeners = time_msec() >= next_listen;
        if (serve_listeners) {
            accept_switches();
            unixctl_server_run(unixctl);
            next_listen = time_msec() + LISTEN_MS;
        }

        struct switch_node *sn;
        LIST_FOR_EACH_SAFE (sn, node, &switches) {
            swconn_run(sn->swconn);
            if (!sn->active && !swconn_is_alive(sn->swconn)) {
                switch_node_destroy(sn);
            }
        }
        balancers_run();
        LIST_FOR_EACH (sn, node, &switches) {
            swconn_flush(sn->swconn);
        }

        /* Listeners just served wake the loop when they have something;
         * the others are served when their time comes. */
        if (serve_listeners) {
            struct listener *l;
            LIST_FOR_EACH (l, node, &listeners) {
                pstream_wait(l->pstream);
            }
            unixctl_server_wait(unixctl);
        } else {
            poll_timer_wait_until(next_listen);
        }
        LIST_FOR_EACH (sn, node, &switches) {
            swconn_wait(sn->swconn);
        }
        balancers_wait();
        if (exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    struct switch_node *sn;
    LIST_FOR_EACH_SAFE (sn, node, &switches) {
        switch_node_destroy(sn);
    }
    balancers_destroy();
    lb_config_destroy(&config);
    struct listener *l;
    LIST_FOR_EACH_POP (l, node, &listeners) {
        pstream_close(l->pstream);
        free(l);
    }
    unixctl_server_destroy(unixctl);
    service_stop();
    return 0;
}

/* Returns where 'b''s messages go: the transmit buffer of its switch's
 * connection, or a scratch buffer whose content is dropped if it has
 * none. */
static struct ofpbuf *
balancer_out(struct balancer *b)
{
    static struct ofpbuf scratch;
    struct ofpbuf *out = b->conn ? swconn_get_tx(b->conn->swconn) : NULL;

    if (!out) {
        if (!scratch.base) {
            ofpbuf_init(&scratch, 0);
        }
        ofpbuf_clear(&scratch);
        out = &scratch;
    }
    return out;
}

static struct balancer *
balancer_find(uint64_t dpid)
{
    struct balancer *b;

    HMAP_FOR_EACH_WITH_HASH (b, node, hash_uint64(dpid), &balancers) {
        if (lb_switch_get_dpid(b->lb) == dpid) {
            return b;
        }
    }
    return NULL;
}

static void
switch_node_destroy(struct switch_node *sn)
{
    if (sn->balancer) {
        lb_switch_disconnected(sn->balancer->lb, time_msec());
        sn->balancer->conn = NULL;
    }
    ovs_list_remove(&sn->node);
    swconn_destroy(sn->swconn);
    free(sn);
}

static void
switch_ready(struct swconn *swconn, void *sn_)
{
    struct switch_node *sn = sn_;
    uint64_t dpid = swconn_get_dpid(swconn);
    struct balancer *b = balancer_find(dpid);

    if (!b) {
        b = xzalloc(sizeof *b);
        b->lb = lb_switch_create(&config, dpid);
        hmap_insert(&balancers, &b->node, hash_uint64(dpid));
    } else if (b->conn && b->conn != sn) {
        /* The same switch over a second connection: the newest wins. */
        VLOG_INFO("%s: switch %016"PRIx64" also connected on %s, which "
                  "takes over", swconn_get_name(b->conn->swconn), dpid,
                  swconn_get_name(swconn));
        b->conn->balancer = NULL;
    }
    b->conn = sn;
    sn->balancer = b;

    lb_switch_connected(b->lb, swconn_get_protocol(swconn),
                        swconn_get_ports(swconn), time_msec(),
                        balancer_out(b));
}

static void
switch_message(struct swconn *swconn OVS_UNUSED, enum ofptype type,
               const struct ofp_header *oh, void *sn_)
{
    struct switch_node *sn = sn_;
    struct balancer *b = sn->balancer;

    if (!b) {
        return;
    }
    if (type == OFPTYPE_PACKET_IN) {
        lb_switch_packet_in(b->lb, oh, time_msec(), balancer_out(b));
    } else if (type == OFPTYPE_FLOW_REMOVED) {
        lb_switch_flow_removed(b->lb, oh, time_msec());
    } else if (type == OFPTYPE_FLOW_STATS_REPLY) {
        lb_switch_flow_stats_reply(b->lb, oh, time_msec(), balancer_out(b));
    }
}

static void
switch_disconnected(struct swconn *swconn OVS_UNUSED, void *sn_)
{
    struct switch_node *sn = sn_;

    if (sn->balancer) {
        lb_switch_disconnected(sn->balancer->lb, time_msec());
        sn->balancer->conn = NULL;
        sn->balancer = NULL;
    }
}

/* Takes the switches that connected to the listeners. */
static void
accept_switches(void)
{
    struct listener *l;

    LIST_FOR_EACH (l, node, &listeners) {
        struct stream *stream;
        int error;

        while (!(error = pstream_accept(l->pstream, &stream))) {
            struct switch_node *sn = xzalloc(sizeof *sn);
            sn->swconn = swconn_create_passive(stream, probe_interval,
                                               &switch_handler, sn);
            ovs_list_push_back(&switches, &sn->node);
        }
        if (error != EAGAIN) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
            VLOG_ERR_RL(&rl, "%s: accept failed (%s)",
                     pstream_get_name(l->pstream), ovs_strerror(error));
        }
    }
}

static void
balancers_run(void)
{
    long long int now = time_msec();
    struct balancer *b;

    HMAP_FOR_EACH (b, node, &balancers) {
        if (now >= lb_switch_next_timer(b->lb)) {
            lb_switch_run(b->lb, now, balancer_out(b));
        }
    }
}

static void
balancers_wait(void)
{
    struct balancer *b;

    HMAP_FOR_EACH (b, node, &balancers) {
        poll_timer_wait_until(lb_switch_next_timer(b->lb));
    }
}

static void
balancers_destroy(void)
{
    struct balancer *b;

    HMAP_FOR_EACH_POP (b, node, &balancers) {
        lb_switch_destroy(b->lb);
        free(b);
    }
}

static int
compare_balancers(const void *a_, const void *b_)
{
    const struct balancer *const *a = a_;
    const struct balancer *const *b = b_;
    uint64_t a_dpid = lb_switch_get_dpid((*a)->lb);
    uint64_t b_dpid = lb_switch_get_dpid((*b)->lb);

    return a_dpid < b_dpid ? -1 : a_dpid > b_dpid;
}

/* lb/show [DPID]: the state of every switch, or of the one with DPID. */
static void
lb_unixctl_show(struct unixctl_conn *conn, int argc, const char *argv[],
                void *aux OVS_UNUSED)
{
    uint64_t dpid = 0;

    if (argc > 1 && !dpid_from_string(argv[1], &dpid)) {
        unixctl_command_reply_error(conn, "bad datapath ID (use 16 hex "
                                    "digits, as in lb/show's output)");
        return;
    }

    size_t n = hmap_count(&balancers);
    struct balancer **sorted = xmalloc(n * sizeof *sorted);
    struct balancer *b;
    size_t i = 0;
    HMAP_FOR_EACH (b, node, &balancers) {
        sorted[i++] = b;
    }
    qsort(sorted, n, sizeof *sorted, compare_balancers);

    struct ds s = DS_EMPTY_INITIALIZER;
    for (i = 0; i < n; i++) {
        b = sorted[i];
        if (argc > 1 && lb_switch_get_dpid(b->lb) != dpid) {
            continue;
        }
        ds_put_format(&s, "switch %016"PRIx64, lb_switch_get_dpid(b->lb));
        if (b->conn) {
            struct swconn *swconn = b->conn->swconn;
            ds_put_format(&s, " (%s on %s): connected\n",
                          ofputil_version_to_string(
                              swconn_get_version(swconn)),
                          swconn_get_name(swconn));
        } else {
            ds_put_cstr(&s, ": disconnected\n");
        }
        lb_switch_format(b->lb, &s);
    }
    free(sorted);

    if (argc > 1 && !s.length) {
        unixctl_command_reply_error(conn, "no such switch");
    } else {
        unixctl_command_reply(conn, ds_cstr(&s));
    }
    ds_destroy(&s);
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

    for (int i = 0; i < n; i++) {
        const char *name = targets[i];

        if (!pvconn_verify_name(name)) {
            struct pstream *pstream;
            int error = pstream_open_with_default_port(name, OFP_PORT,
                                                       &pstream,
                                                       DSCP_DEFAULT);
            if (error) {
                ovs_fatal(error, "%s: cannot listen", name);
            }
            struct listener *l = xmalloc(sizeof *l);
            l->pstream = pstream;
            ovs_list_push_back(&listeners, &l->node);
        } else if (!vconn_verify_name(name)) {
            struct switch_node *sn = xzalloc(sizeof *sn);
            sn->active = true;
            sn->swconn = swconn_create_active(name, probe_interval,
                                              max_backoff, &switch_handler,
                                              sn);
            ovs_list_push_back(&switches, &sn->node);
        } else {
            ovs_fatal(0, "%s: not an OpenFlow connection method (expected "
                      "ptcp:[PORT][:IP], punix:FILE, pssl:[PORT][:IP], "
                      "tcp:IP[:PORT], unix:FILE or ssl:IP[:PORT])", name);
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

static int
parse_number(const char *option, const char *arg, int min, int max)
{
    return parse_int(option, arg, min, max, "");
}

static void
parse_options(int argc, char *argv[])
{
    enum {
        OPT_UNIXCTL = UCHAR_MAX + 1,
        OPT_VIP,
        OPT_SERVERS,
        OPT_LB_MAC,
        OPT_IDLE_TIMEOUT,
        OPT_HARD_TIMEOUT,
        OPT_CLIENT_TIMEOUT,
        OPT_PROBE_INTERVAL,
        OPT_PROBE_MISSES,
        OPT_MAX_CLIENTS,
        OPT_CLIENT_OVERFLOW,
        OPT_FALLBACK,
        OPT_NO_BACKEND,
        OPT_INACTIVITY_PROBE,
        OPT_MAX_BACKOFF,
        OPT_PEER_CA_CERT,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
        SSL_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"vip", required_argument, NULL, OPT_VIP},
        {"servers", required_argument, NULL, OPT_SERVERS},
        {"lb-mac", required_argument, NULL, OPT_LB_MAC},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"hard-timeout", required_argument, NULL, OPT_HARD_TIMEOUT},
        {"client-timeout", required_argument, NULL, OPT_CLIENT_TIMEOUT},
        {"probe-interval", required_argument, NULL, OPT_PROBE_INTERVAL},
        {"probe-misses", required_argument, NULL, OPT_PROBE_MISSES},
        {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
        {"client-overflow", required_argument, NULL, OPT_CLIENT_OVERFLOW},
        {"fallback", required_argument, NULL, OPT_FALLBACK},
        {"no-backend", required_argument, NULL, OPT_NO_BACKEND},
        {"inactivity-probe", required_argument, NULL, OPT_INACTIVITY_PROBE},
        {"max-backoff", required_argument, NULL, OPT_MAX_BACKOFF},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
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
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }

        switch (c) {
        case OPT_VIP:
            vip = optarg;
            break;

        case OPT_SERVERS:
            servers = optarg;
            break;

        case OPT_LB_MAC:
            error = lb_config_set_mac(&config, optarg);
            if (error) {
                ovs_fatal(0, "--lb-mac: %s", error);
            }
            break;

        case OPT_IDLE_TIMEOUT:
            config.idle_timeout = parse_seconds("idle-timeout", optarg, 0,
                                                UINT16_MAX);
            break;

        case OPT_HARD_TIMEOUT:
            config.hard_timeout = parse_seconds("hard-timeout", optarg, 0,
                                                UINT16_MAX);
            break;

        case OPT_CLIENT_TIMEOUT:
            config.client_timeout = parse_seconds("client-timeout", optarg,
                                                  1, 30 * 24 * 3600);
            break;

        case OPT_PROBE_INTERVAL:
            config.probe_interval = parse_seconds("probe-interval", optarg,
                                                  1, 3600);
            break;

        case OPT_PROBE_MISSES:
            config.probe_misses = parse_number("probe-misses", optarg, 1,
                                               100);
            break;

        case OPT_MAX_CLIENTS:
            config.max_clients = parse_number("max-clients", optarg, 1,
                                              100000000);
            break;

        case OPT_CLIENT_OVERFLOW:
            error = lb_config_set_overflow(&config, optarg);
            if (error) {
                ovs_fatal(0, "--client-overflow: %s", error);
            }
            break;

        case OPT_NO_BACKEND:
            error = lb_config_set_no_backend(&config, optarg);
            if (error) {
                ovs_fatal(0, "--no-backend: %s", error);
            }
            break;

        case OPT_FALLBACK:
            error = lb_config_set_fallback(&config, optarg);
            if (error) {
                ovs_fatal(0, "--fallback: %s", error);
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
        STREAM_SSL_OPTION_HANDLERS

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
        error = lb_config_add_service(&config, NULL, vip, servers, NULL);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
    }
    error = lb_config_check(&config);
    if (error) {
        ovs_fatal(0, "%s", error);
    }
}

static void
usage(void)
{
    printf("%s: OpenFlow server load balancer\n"
           "usage: %s [OPTIONS] --vip=IP --servers=IP[,IP]... METHOD...\n"
           "where each METHOD is an OpenFlow connection method on which\n"
           "switches connect (passive) or that ovs-balancer connects to\n"
           "(active).\n",
           program_name, program_name);
    vconn_usage(true, true, false);
    printf("\nService options:\n"
           "  --vip=IP                the virtual IP that clients use\n"
           "  --servers=IP[,IP]...    the backend servers behind it\n"
           "  --lb-mac=MAC            the MAC the balancer answers with "
           "(%s)\n"
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
           "                          or answer ICMP unreachable (drop)\n"
           "  --max-clients=N         most clients per switch (%d)\n"
           "  --client-overflow=refuse|evict  past that, refuse new "
           "clients or evict\n"
           "                          the least recently used idle "
           "ones (refuse)\n"
           "  --fallback=normal|drop  what the switch does with other "
           "traffic (normal)\n",
           LB_DEFAULT_MAC, LB_DEFAULT_IDLE_TIMEOUT, LB_DEFAULT_CLIENT_TIMEOUT,
           LB_DEFAULT_PROBE_INTERVAL, LB_DEFAULT_PROBE_MISSES,
           LB_DEFAULT_MAX_CLIENTS);
    printf("\nConnection options:\n"
           "  --inactivity-probe=SECS  send an echo request after SECS of "
           "silence (5)\n"
           "  --max-backoff=SECS      longest wait between reconnection "
           "attempts (8)\n");
    daemon_usage();
    ofp_version_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  --unixctl=SOCKET        override default control socket name\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n");
    exit(EXIT_SUCCESS);
}

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
#include "ofp-version-opt.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vconn.h"
#include "openvswitch/vlog.h"
#include "socket-util.h"
#include "stream-ssl.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovs_balancer);

/* A listener for switches (ptcp:, punix:, pssl:). */
struct listener {
    struct ovs_list node;       /* In 'listeners'. */
    struct pvconn *pvconn;
};

/* A connection to one switch. */
struct switch_node {
    struct ovs_list node;       /* In 'switches'. */
    struct swconn *swconn;
    bool active;                /* Reconnects rather than dies? */
};

static struct ovs_list listeners = OVS_LIST_INITIALIZER(&listeners);
static struct ovs_list switches = OVS_LIST_INITIALIZER(&switches);

/* --unixctl: control socket, or NULL for the default. */
static char *unixctl_path;

/* --inactivity-probe: seconds of silence before an echo request. */
static int probe_interval = 5;

/* --max-backoff: longest wait between reconnection attempts. */
static int max_backoff = 8;

static unixctl_cb_func ovs_balancer_exit;

static void parse_options(int argc, char *argv[]);
static void open_targets(int argc, char *argv[]);
OVS_NO_RETURN static void usage(void);

static void switch_ready(struct swconn *, void *aux);
static void switch_message(struct swconn *, enum ofptype,
                           const struct ofp_header *, void *aux);
static void switch_disconnected(struct swconn *, void *aux);

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

    daemonize_complete();
    VLOG_INFO("%s", ovs_get_program_version());

    while (!exiting) {
        struct listener *l;
        LIST_FOR_EACH_SAFE (l, node, &listeners) {
            struct vconn *vconn;

            retval = pvconn_accept(l->pvconn, &vconn);
            if (!retval) {
                struct switch_node *sn = xzalloc(sizeof *sn);
                sn->swconn = swconn_create_passive(vconn, probe_interval,
                                                   &switch_handler, sn);
                ovs_list_push_back(&switches, &sn->node);
            } else if (retval != EAGAIN) {
                VLOG_ERR("%s: accept failed (%s)", pvconn_get_name(l->pvconn),
                         ovs_strerror(retval));
            }
        }

        struct switch_node *sn;
        LIST_FOR_EACH_SAFE (sn, node, &switches) {
            swconn_run(sn->swconn);
            if (!sn->active && !swconn_is_alive(sn->swconn)) {
                ovs_list_remove(&sn->node);
                swconn_destroy(sn->swconn);
                free(sn);
            }
        }

        unixctl_server_run(unixctl);

        LIST_FOR_EACH (l, node, &listeners) {
            pvconn_wait(l->pvconn);
        }
        LIST_FOR_EACH (sn, node, &switches) {
            swconn_wait(sn->swconn);
        }
        unixctl_server_wait(unixctl);
        if (exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    struct switch_node *sn;
    LIST_FOR_EACH_POP (sn, node, &switches) {
        swconn_destroy(sn->swconn);
        free(sn);
    }
    struct listener *l;
    LIST_FOR_EACH_POP (l, node, &listeners) {
        pvconn_close(l->pvconn);
        free(l);
    }
    unixctl_server_destroy(unixctl);
    service_stop();
    return 0;
}

static void
switch_ready(struct swconn *swconn OVS_UNUSED, void *aux OVS_UNUSED)
{
}

static void
switch_message(struct swconn *swconn OVS_UNUSED, enum ofptype type OVS_UNUSED,
               const struct ofp_header *oh OVS_UNUSED, void *aux OVS_UNUSED)
{
}

static void
switch_disconnected(struct swconn *swconn OVS_UNUSED, void *aux OVS_UNUSED)
{
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
            struct pvconn *pvconn;
            int error = pvconn_open(name, get_allowed_ofp_versions(),
                                    DSCP_DEFAULT, &pvconn);
            if (error) {
                ovs_fatal(error, "%s: cannot listen", name);
            }
            struct listener *l = xmalloc(sizeof *l);
            l->pvconn = pvconn;
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

/* Parses a whole number of seconds in [min, max] for 'option' or exits. */
static int
parse_seconds(const char *option, const char *arg, int min, int max)
{
    int value;

    if (!str_to_int(arg, 10, &value) || value < min || value > max) {
        ovs_fatal(0, "--%s: \"%s\" is not a number of seconds between %d "
                  "and %d", option, arg, min, max);
    }
    return value;
}

static void
parse_options(int argc, char *argv[])
{
    enum {
        OPT_UNIXCTL = UCHAR_MAX + 1,
        OPT_INACTIVITY_PROBE,
        OPT_MAX_BACKOFF,
        OPT_PEER_CA_CERT,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
        SSL_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
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

    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }

        switch (c) {
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
}

static void
usage(void)
{
    printf("%s: OpenFlow server load balancer\n"
           "usage: %s [OPTIONS] METHOD...\n"
           "where each METHOD is an OpenFlow connection method on which\n"
           "switches connect (passive) or that ovs-balancer connects to\n"
           "(active).\n",
           program_name, program_name);
    vconn_usage(true, true, false);
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

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

/* ovs-balancer-ctl: ovs-balancer's database, in the manner of ovs-vsctl and
 * ovn-nbctl.  OVS's db-ctl-base gives the generic commands (list, find,
 * get, set, ...) and the command-line conventions; this file adds the
 * balancer's own commands and the wait for the daemon. */

#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "command-line.h"
#include "db-ctl-base.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "lib/lb-config.h"
#include "lib/lb-db.h"
#include "lib/ovs-balancer-idl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-data.h"
#include "ovsdb-idl.h"
#include "packets.h"
#include "smap.h"
#include "svec.h"
#include "stream.h"
#include "table.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovs_balancer_ctl);

/* --db: the database; ctl_default_db()'s convention, with our socket. */
static char *db;

/* --timeout: seconds to wait for the database (and, with --wait, for the
 * daemon), 0 for ever. */
static unsigned int timeout;

/* --wait: return only once the daemon has applied the change. */
static bool wait_for_daemon;

/* --oneline, --dry-run, and the table format of "list" and "find". */
static bool oneline;
static bool dry_run;
static struct table_style table_style = TABLE_STYLE_DEFAULT;

static void parse_options(int argc, char *argv[], struct shash *local);
static bool do_commands(struct ctl_command *, size_t n, struct ovsdb_idl *);
static void register_commands(void);
OVS_NO_RETURN static void usage(void);

/* What identifies a row to the generic commands: a Load_Balancer by its
 * name, a Connection by its target. */
static const struct ctl_table_class tables[OBREC_N_TABLES] = {
    [OBREC_TABLE_LOAD_BALANCER].row_ids[0]
    = { &obrec_load_balancer_col_name, NULL, NULL },
    [OBREC_TABLE_CONNECTION].row_ids[0]
    = { &obrec_connection_col_target, NULL, NULL },
};

static void
ctl_exit(int status)
{
    exit(status);
}

static char *
default_db(void)
{
    const char *env = getenv("OVS_BALANCER_DB");
    return (env && env[0]
            ? xstrdup(env)
            : xasprintf("unix:%s/ovs-balancer-db.sock", ovs_rundir()));
}

int
main(int argc, char *argv[])
{
    struct ctl_command *commands;
    struct shash local_options;
    size_t n_commands;

    set_program_name(argv[0]);
    fatal_ignore_sigpipe();
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    vlog_set_levels_from_string_assert("reconnect:warn");

    ctl_init(&obrec_idl_class, obrec_table_classes, tables, NULL, ctl_exit);
    register_commands();

    shash_init(&local_options);
    parse_options(argc, argv, &local_options);
    char *error = ctl_parse_commands(argc - optind, argv + optind,
                                     &local_options, &commands, &n_commands);
    if (error) {
        ctl_fatal("%s", error);
    }
    ctl_timeout_setup(timeout);

    struct ovsdb_idl *idl = ovsdb_idl_create(db, &obrec_idl_class, true,
                                             false);
    ovsdb_idl_set_leader_only(idl, false);
    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        if (c->syntax->prerequisites) {
            struct ctl_context ctx;

            ds_init(&c->output);
            c->table = NULL;
            ctl_context_init(&ctx, c, idl, NULL, NULL, NULL);
            c->syntax->prerequisites(&ctx);
            if (ctx.error) {
                ctl_fatal("%s", ctx.error);
            }
            ctl_context_done(&ctx, c);
        }
    }

    unsigned int seqno = ovsdb_idl_get_seqno(idl);
    for (;;) {
        ovsdb_idl_run(idl);
        if (!ovsdb_idl_is_alive(idl)) {
            int retval = ovsdb_idl_get_last_error(idl);
            ctl_fatal("%s: database connection failed (%s)", db,
                      ovs_retval_to_string(retval));
        }
        if (seqno != ovsdb_idl_get_seqno(idl)) {
            seqno = ovsdb_idl_get_seqno(idl);
            if (do_commands(commands, n_commands, idl)) {
                ovsdb_idl_destroy(idl);
                free(db);
                exit(EXIT_SUCCESS);
            }
        }
        if (seqno == ovsdb_idl_get_seqno(idl)) {
            ovsdb_idl_wait(idl);
            poll_block();
        }
    }
}

static void
parse_options(int argc, char *argv[], struct shash *local_options)
{
    enum {
        OPT_DB = UCHAR_MAX + 1,
        OPT_ONELINE,
        OPT_WAIT,
        OPT_NO_WAIT,
        OPT_DRY_RUN,
        OPT_LOCAL,
        OPT_COMMANDS,
        OPT_OPTIONS,
        VLOG_OPTION_ENUMS,
        TABLE_OPTION_ENUMS,
    };
    static const struct option global_long_options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"timeout", required_argument, NULL, 't'},
        {"wait", no_argument, NULL, OPT_WAIT},
        {"no-wait", no_argument, NULL, OPT_NO_WAIT},
        {"oneline", no_argument, NULL, OPT_ONELINE},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"help", no_argument, NULL, 'h'},
        {"commands", no_argument, NULL, OPT_COMMANDS},
        {"options", no_argument, NULL, OPT_OPTIONS},
        {"version", no_argument, NULL, 'V'},
        VLOG_LONG_OPTIONS,
        TABLE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const size_t n_global = ARRAY_SIZE(global_long_options) - 1;
    char *tmp = ovs_cmdl_long_options_to_short_options(global_long_options);
    char *short_options = xasprintf("+%s", tmp);
    free(tmp);

    /* The global options, then every command's own (--may-exist, ...),
     * which go into 'local_options' for the command that follows. */
    struct option *options = xmemdup(global_long_options,
                                     sizeof global_long_options);
    size_t allocated = ARRAY_SIZE(global_long_options);
    size_t n_options = n_global;
    ctl_add_cmd_options(&options, &n_options, &allocated, OPT_LOCAL);

    for (;;) {
        int idx;
        int c = getopt_long(argc, argv, short_options, options, &idx);
        if (c == -1) {
            break;
        }

        switch (c) {
        case OPT_DB:
            free(db);
            db = xstrdup(optarg);
            break;

        case OPT_ONELINE:
            oneline = true;
            break;

        case OPT_WAIT:
            wait_for_daemon = true;
            break;

        case OPT_NO_WAIT:
            wait_for_daemon = false;
            break;

        case OPT_DRY_RUN:
            dry_run = true;
            break;

        case OPT_LOCAL:
            if (shash_find(local_options, options[idx].name)) {
                ctl_fatal("'%s' option specified multiple times",
                          options[idx].name);
            }
            shash_add_nocopy(local_options,
                             xasprintf("--%s", options[idx].name),
                             nullable_xstrdup(optarg));
            break;

        case 'h':
            usage();

        case OPT_COMMANDS:
            ctl_print_commands();
            /* fall through */

        case OPT_OPTIONS:
            ctl_print_options(global_long_options);
            /* fall through */

        case 'V':
            ovs_print_version(0, 0);
            printf("DB Schema %s\n", obrec_get_db_version());
            exit(EXIT_SUCCESS);

        case 't':
            if (!str_to_uint(optarg, 10, &timeout)) {
                ctl_fatal("value %s on -t or --timeout is invalid", optarg);
            }
            break;

        VLOG_OPTION_HANDLERS
        TABLE_OPTION_HANDLERS(&table_style)

        case '?':
            exit(EXIT_FAILURE);

        default:
            abort();
        }
    }
    free(short_options);
    free(options);

    if (!db) {
        db = default_db();
    }
}

static void
usage(void)
{
    printf("\
%s: ovs-balancer's database configuration utility\n\
usage: %s [OPTIONS] COMMAND [ARG...]\n\
\n\
General commands:\n\
  init                        create the Balancer row if there is none\n\
  show                        print an overview of the database\n\
\n\
Load balancer (service) commands:\n\
  [--may-exist] lb-add NAME VIP[:PORT] BACKEND[:PORT][=WEIGHT],... [tcp|udp]\n\
                              add (or with --may-exist update) a service\n\
  [--if-exists] lb-del NAME   delete a service and its backends\n\
  lb-list [NAME]              list the services\n\
\n\
Backend commands:\n\
  [--may-exist] backend-add NAME BACKEND[:PORT][=WEIGHT]\n\
                              add a backend to service NAME\n\
  [--if-exists] backend-del NAME BACKEND[:PORT]\n\
                              delete a backend from service NAME\n\
  backend-set NAME BACKEND[:PORT] weight=N|state=enabled|draining|disabled...\n\
                              change a backend's weight or state\n\
\n\
Health check commands:\n\
  lb-health-set NAME tcp|udp|http[:/PATH] [KEY=VALUE]...\n\
                              check service NAME's backends (KEY: interval,\n\
                              timeout, rise, fall, slow-start, check-source,\n\
                              http-status, expect)\n\
  lb-health-del NAME          check them by ARP alone\n\
\n\
Connection commands (where the database server also listens):\n\
  [--inactivity-probe=MSECS] set-connection TARGET...\n\
                              listen on each TARGET (e.g. ptcp:6641), and\n\
                              drop a client silent for MSECS and then\n\
                              MSECS more (a hung ovs-balancer --ha)\n\
  get-connection              print them\n\
  del-connection              listen on none of them\n\
\n\
%s\
%s\
\n\
Options:\n\
  --db=DATABASE               connect to DATABASE\n\
                              (default: %s)\n\
  -t, --timeout=SECS          wait at most SECS seconds\n\
  --wait                      return once ovs-balancer applied the change\n\
  --dry-run                   do not commit changes to the database\n\
  --oneline                   print exactly one line of output per command\n",
           program_name, program_name, ctl_get_db_cmd_usage(),
           ctl_list_db_tables_usage(), default_db());
    table_usage();
    vlog_usage();
    printf("\
  --no-syslog             equivalent to --verbose=ovs_balancer_ctl:syslog:warn\n");
    printf("\n\
Other options:\n\
  -h, --help                  display this help message\n\
  -V, --version               display version information\n");
    exit(EXIT_SUCCESS);
}

/* Transactions. */

static bool
do_commands(struct ctl_command *commands, size_t n_commands,
            struct ovsdb_idl *idl)
{
    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(idl);
    struct ovsdb_symbol_table *symtab = ovsdb_symbol_table_create();
    struct ctl_context ctx;
    int64_t next_cfg = 0;

    if (dry_run) {
        ovsdb_idl_txn_set_dry_run(txn);
    }
    ovsdb_idl_txn_add_comment(txn, "ovs-balancer-ctl");

    const struct obrec_balancer *bal = obrec_balancer_first(idl);
    if (wait_for_daemon) {
        if (!bal) {
            bal = obrec_balancer_insert(txn);
        }
        ovsdb_idl_txn_increment(txn, &bal->header_,
                                &obrec_balancer_col_next_cfg, false);
    }

    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        ds_init(&c->output);
        c->table = NULL;
    }
    ctl_context_init(&ctx, NULL, idl, txn, symtab, NULL);
    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        ctl_context_init_command(&ctx, c, c == &commands[n_commands - 1]);
        if (c->syntax->run) {
            c->syntax->run(&ctx);
        }
        if (ctx.error) {
            ctl_fatal("%s", ctx.error);
        }
        ctl_context_done_command(&ctx, c);
        if (ctx.try_again) {
            ctl_context_done(&ctx, NULL);
            goto try_again;
        }
    }
    ctl_context_done(&ctx, NULL);

    struct shash_node *node;
    SHASH_FOR_EACH (node, &symtab->sh) {
        struct ovsdb_symbol *symbol = node->data;
        if (!symbol->created) {
            ctl_fatal("row id \"%s\" is referenced but never created (e.g. "
                      "with \"-- --id=%s create ...\")",
                      node->name, node->name);
        }
        if (!symbol->strong_ref && !symbol->weak_ref) {
            VLOG_WARN("row id \"%s\" was created but no reference to it "
                      "was inserted, so it will not actually appear in "
                      "the database", node->name);
        }
    }

    enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit_block(txn);
    if (wait_for_daemon && status == TXN_SUCCESS) {
        next_cfg = ovsdb_idl_txn_get_increment_new_value(txn);
    }
    if (status == TXN_UNCHANGED || status == TXN_SUCCESS) {
        for (struct ctl_command *c = commands; c < &commands[n_commands];
             c++) {
            if (c->syntax->postprocess) {
                ctl_context_init(&ctx, c, idl, txn, symtab, NULL);
                c->syntax->postprocess(&ctx);
                if (ctx.error) {
                    ctl_fatal("%s", ctx.error);
                }
                ctl_context_done(&ctx, c);
            }
        }
    }

    switch (status) {
    case TXN_UNCHANGED:
    case TXN_SUCCESS:
        break;

    case TXN_TRY_AGAIN:
        goto try_again;

    case TXN_ERROR:
        ctl_fatal("transaction error: %s", ovsdb_idl_txn_get_error(txn));

    case TXN_UNCOMMITTED:
    case TXN_INCOMPLETE:
    case TXN_ABORTED:
    case TXN_NOT_LOCKED:
    default:
        ctl_fatal("transaction failed (%s)",
                  ovsdb_idl_txn_status_to_string(status));
    }
    ovsdb_symbol_table_destroy(symtab);

    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        struct ds *ds = &c->output;

        if (c->table) {
            table_print(c->table, &table_style);
        } else if (oneline) {
            ds_chomp(ds, '\n');
            for (size_t j = 0; j < ds->length; j++) {
                int ch = ds->string[j];
                if (ch == '\n') {
                    fputs("\\n", stdout);
                } else if (ch == '\\') {
                    fputs("\\\\", stdout);
                } else {
                    putchar(ch);
                }
            }
            putchar('\n');
        } else {
            fputs(ds_cstr(ds), stdout);
        }
        ds_destroy(&c->output);
        table_destroy(c->table);
        free(c->table);
        shash_destroy_free_data(&c->options);
    }
    free(commands);

    if (wait_for_daemon && status == TXN_SUCCESS) {
        /* The daemon copies next_cfg to cur_cfg once it has applied what
         * came with it. */
        ovsdb_idl_enable_reconnect(idl);
        for (;;) {
            ovsdb_idl_run(idl);
            bal = obrec_balancer_first(idl);
            if (bal && bal->cur_cfg >= next_cfg) {
                break;
            }
            ovsdb_idl_wait(idl);
            poll_block();
        }
    }
    ovsdb_idl_txn_destroy(txn);
    return true;

try_again:
    /* The database changed under the transaction, or a prerequisite is
     * not met yet: the caller tries again once the database changes. */
    ovsdb_idl_txn_abort(txn);
    ovsdb_idl_txn_destroy(txn);
    ovsdb_symbol_table_destroy(symtab);
    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        ds_destroy(&c->output);
        table_destroy(c->table);
        free(c->table);
    }
    return false;
}

/* Looking things up. */

static const struct obrec_load_balancer *
find_lb(struct ctl_context *ctx, const char *name, bool must_exist)
{
    const struct obrec_load_balancer *lb;

    OBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {
        if (!strcmp(lb->name, name)) {
            return lb;
        }
    }
    if (must_exist) {
        ctl_error(ctx, "%s: no such load balancer", name);
    }
    return NULL;
}

/* The port that a backend of 'lb' without one uses: the VIP's. */
static int
vip_port(const struct obrec_load_balancer *lb)
{
    const char *colon = strchr(lb->vip, ':');
    return colon ? atoi(colon + 1) : 0;
}

/* A backend given on the command line. */
struct backend_arg {
    ovs_be32 ip;
    char ip_s[INET_ADDRSTRLEN];
    int port;                   /* Its own, or 0 for the VIP's. */
    int weight;                 /* -1 if not given. */
};

/* Parses 'word' (BACKEND[:PORT][=WEIGHT]) as a backend of a service with
 * VIP 'vip' and 'protocol' (NULL if none), checked as the daemon would. */
static char *
parse_backend_arg(const char *vip, const char *protocol, const char *word,
                  bool weight_ok, struct backend_arg *arg)
{
    const char *opts[1] = { protocol };
    struct lb_service_config svc;
    char *error = lb_service_config_init(&svc, "lb", vip, opts,
                                         protocol != NULL);
    if (error) {
        lb_service_config_destroy(&svc);
        return error;
    }

    struct lb_config cfg;
    lb_config_init(&cfg);
    char *spec = xasprintf("lb %s %s%s%s", vip, word,
                           protocol ? " " : "", protocol ? protocol : "");
    error = lb_config_add_service(&cfg, spec);
    free(spec);
    if (!error && strchr(word, ',')) {
        error = xasprintf("\"%s\": one backend expected", word);
    }
    if (!error && !weight_ok && strchr(word, '=')) {
        error = xasprintf("\"%s\": no weight expected here", word);
    }
    if (!error) {
        const struct lb_backend_config *b = &cfg.services[0].backends[0];
        size_t len = strcspn(word, "=");

        arg->ip = b->ip;
        snprintf(arg->ip_s, sizeof arg->ip_s, IP_FMT, IP_ARGS(b->ip));
        arg->port = memchr(word, ':', len) ? b->port : 0;
        arg->weight = strchr(word, '=') ? (int) b->weight : -1;
    } else {
        /* Without the "lb: " of the scratch service. */
        char *e = xstrdup(!strncmp(error, "lb: ", 4) ? error + 4 : error);
        free(error);
        error = e;
    }
    lb_config_destroy(&cfg);
    lb_service_config_destroy(&svc);
    return error;
}

static int
backend_port(const struct obrec_load_balancer *lb,
             const struct obrec_backend *b)
{
    return b->n_port ? b->port[0] : vip_port(lb);
}

static const struct obrec_backend *
find_backend(const struct obrec_load_balancer *lb,
             const struct backend_arg *arg)
{
    int port = arg->port ? arg->port : vip_port(lb);

    for (size_t i = 0; i < lb->n_backends; i++) {
        const struct obrec_backend *b = lb->backends[i];
        ovs_be32 ip;
        char *error = lb_parse_unicast_ip(b->address, &ip);

        if (!error && ip == arg->ip && backend_port(lb, b) == port) {
            return b;
        }
        free(error);
    }
    return NULL;
}

/* Checks, as the daemon would, the database's services with 'svc' in
 * place of the one of its name; with 'backend', only that backend is
 * added to the service of that name in the database. */
static void
check_services(struct ctl_context *ctx, const struct lb_service_config *svc,
               const char *name, const struct backend_arg *backend)
{
    struct lb_config defaults, cfg;
    struct lb_db_errors errors;
    char *error = NULL;

    lb_config_init(&defaults);
    lb_db_errors_init(&errors);
    lb_db_read(ctx->idl, &defaults, &cfg, &errors);
    for (size_t i = 0; i < cfg.n_services; i++) {
        struct lb_service_config *old = &cfg.services[i];
        if (strcmp(old->name, name)) {
            continue;
        }
        if (backend) {
            error = lb_service_config_add_backend(
                old, backend->ip_s, backend->port,
                MAX(backend->weight, 0), false);
        } else {
            lb_service_config_destroy(old);
            lb_service_config_clone(old, svc);
        }
        break;
    }
    if (!backend) {
        bool found = false;
        for (size_t i = 0; i < cfg.n_services && !found; i++) {
            found = !strcmp(cfg.services[i].name, name);
        }
        if (!found) {
            struct lb_service_config copy;
            lb_service_config_clone(&copy, svc);
            lb_config_append_service(&cfg, &copy);
        }
    }
    if (!error) {
        error = lb_config_check(&cfg);
    }
    if (error) {
        ctl_error(ctx, "%s", error);
        free(error);
    }
    lb_db_errors_destroy(&errors);
    lb_config_destroy(&cfg);
    lb_config_destroy(&defaults);
}

/* Commands. */

static void
pre_all(struct ctl_context *ctx)
{
    ovsdb_idl_add_table(ctx->idl, &obrec_table_balancer);
    ovsdb_idl_add_table(ctx->idl, &obrec_table_load_balancer);
    ovsdb_idl_add_table(ctx->idl, &obrec_table_backend);
}

static void
cmd_init(struct ctl_context *ctx)
{
    if (!obrec_balancer_first(ctx->idl)) {
        obrec_balancer_insert(ctx->txn);
    }
}

static struct obrec_backend *
insert_backend(struct ctl_context *ctx, const struct backend_arg *arg)
{
    struct obrec_backend *b = obrec_backend_insert(ctx->txn);
    int64_t weight = arg->weight >= 0 ? arg->weight : LB_DEFAULT_WEIGHT;
    int64_t port = arg->port;

    obrec_backend_set_address(b, arg->ip_s);
    if (port) {
        obrec_backend_set_port(b, &port, 1);
    }
    obrec_backend_set_weight(b, &weight, 1);
    obrec_backend_set_state(b, "enabled");
    return b;
}

static void
cmd_lb_add(struct ctl_context *ctx)
{
    bool may_exist = shash_find(&ctx->options, "--may-exist") != NULL;
    const char *name = ctx->argv[1], *vip = ctx->argv[2];
    const char *protocol = ctx->argc > 4 ? ctx->argv[4] : NULL;

    /* The daemon's own parser says whether it is a service. */
    struct lb_config cfg;
    lb_config_init(&cfg);
    char *spec = xasprintf("%s %s %s%s%s", name, vip, ctx->argv[3],
                           protocol ? " " : "", protocol ? protocol : "");
    char *error = lb_config_add_service(&cfg, spec);
    free(spec);
    if (error) {
        ctl_error(ctx, "%s", error);
        free(error);
        lb_config_destroy(&cfg);
        return;
    }
    const struct lb_service_config *svc = &cfg.services[0];
    const char *proto = svc->proto ? lb_proto_to_string(svc->proto) : NULL;

    check_services(ctx, svc, name, NULL);
    const struct obrec_load_balancer *lb = find_lb(ctx, name, false);
    if (ctx->error) {
        goto exit;
    }
    if (lb && !may_exist) {
        ctl_error(ctx, "%s: a load balancer with this name already exists",
                  name);
        goto exit;
    }
    if (!lb) {
        lb = obrec_load_balancer_insert(ctx->txn);
        obrec_load_balancer_set_name(lb, name);
    }
    obrec_load_balancer_set_vip(lb, vip);
    obrec_load_balancer_set_protocol(lb, proto);

    /* Each backend given is added, or its weight set. */
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct lb_backend_config *bc = &svc->backends[i];
        struct backend_arg arg = {
            .ip = bc->ip,
            .port = bc->port != svc->port ? bc->port : 0,
            .weight = bc->weight,
        };
        snprintf(arg.ip_s, sizeof arg.ip_s, IP_FMT, IP_ARGS(bc->ip));

        const struct obrec_backend *b = find_backend(lb, &arg);
        if (b) {
            int64_t weight = arg.weight;
            obrec_backend_set_weight(b, &weight, 1);
        } else {
            obrec_load_balancer_update_backends_addvalue(
                lb, insert_backend(ctx, &arg));
        }
    }
exit:
    lb_config_destroy(&cfg);
}

static void
cmd_lb_del(struct ctl_context *ctx)
{
    bool if_exists = shash_find(&ctx->options, "--if-exists") != NULL;
    const struct obrec_load_balancer *lb = find_lb(ctx, ctx->argv[1],
                                                   !if_exists);
    if (lb) {
        obrec_load_balancer_delete(lb);
    }
}

static int
compare_lbs_by_name(const void *a_, const void *b_)
{
    const struct obrec_load_balancer *const *a = a_, *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* The services in name order, or only 'name'. */
static const struct obrec_load_balancer **
sorted_lbs(struct ctl_context *ctx, const char *name, size_t *n)
{
    const struct obrec_load_balancer **lbs = NULL;
    const struct obrec_load_balancer *lb;
    size_t allocated = 0;

    *n = 0;
    OBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {
        if (!name || !strcmp(lb->name, name)) {
            if (*n >= allocated) {
                lbs = x2nrealloc(lbs, &allocated, sizeof *lbs);
            }
            lbs[(*n)++] = lb;
        }
    }
    if (*n) {
        qsort(lbs, *n, sizeof *lbs, compare_lbs_by_name);
    }
    return lbs;
}

static void
format_backend_endpoint(const struct obrec_load_balancer *lb,
                        const struct obrec_backend *b, struct ds *s)
{
    int port = backend_port(lb, b);

    ds_put_cstr(s, b->address);
    if (port) {
        ds_put_format(s, ":%d", port);
    }
}

static int64_t
backend_weight(const struct obrec_backend *b)
{
    return b->n_weight ? b->weight[0] : LB_DEFAULT_WEIGHT;
}

static void
cmd_lb_list(struct ctl_context *ctx)
{
    size_t n;
    const struct obrec_load_balancer **lbs
        = sorted_lbs(ctx, ctx->argc > 1 ? ctx->argv[1] : NULL, &n);
    struct table *t = xmalloc(sizeof *t);

    if (ctx->argc > 1 && !n) {
        ctl_error(ctx, "%s: no such load balancer", ctx->argv[1]);
        free(lbs);
        free(t);
        return;
    }
    table_init(t);
    table_add_column(t, "NAME");
    table_add_column(t, "VIP");
    table_add_column(t, "PROTOCOL");
    table_add_column(t, "SCHEDULER");
    table_add_column(t, "BACKENDS");
    for (size_t i = 0; i < n; i++) {
        const struct obrec_load_balancer *lb = lbs[i];
        struct obrec_backend **backends = lb_db_sorted_backends(lb);
        struct ds s = DS_EMPTY_INITIALIZER;

        for (size_t j = 0; j < lb->n_backends; j++) {
            if (j) {
                ds_put_char(&s, ',');
            }
            format_backend_endpoint(lb, backends[j], &s);
            ds_put_format(&s, "=%"PRId64, backend_weight(backends[j]));
        }
        free(backends);

        table_add_row(t);
        table_add_cell(t)->text = xstrdup(lb->name);
        table_add_cell(t)->text = xstrdup(lb->vip);
        table_add_cell(t)->text = xstrdup(lb->protocol ? lb->protocol
                                          : "none");
        table_add_cell(t)->text = xstrdup(lb->scheduler ? lb->scheduler
                                          : "rr");
        table_add_cell(t)->text = ds_steal_cstr(&s);
    }
    free(lbs);

    /* A table, as ovn-nbctl's lb-list, unless --format asks otherwise. */
    struct table_style style = table_style;
    if (style.format == TF_LIST) {
        style.format = TF_TABLE;
    }
    table_format(t, &style, &ctx->output);
    table_destroy(t);
    free(t);
}

/* Finds the service argv[1] and the backend argv[2] for the backend
 * commands. */
static const struct obrec_load_balancer *
backend_cmd_args(struct ctl_context *ctx, bool weight_ok,
                 struct backend_arg *arg)
{
    const struct obrec_load_balancer *lb = find_lb(ctx, ctx->argv[1], true);
    if (!lb) {
        return NULL;
    }
    char *error = parse_backend_arg(lb->vip, lb->protocol, ctx->argv[2],
                                    weight_ok, arg);
    if (error) {
        ctl_error(ctx, "%s: %s", lb->name, error);
        free(error);
        return NULL;
    }
    return lb;
}

static void
cmd_backend_add(struct ctl_context *ctx)
{
    bool may_exist = shash_find(&ctx->options, "--may-exist") != NULL;
    struct backend_arg arg;
    const struct obrec_load_balancer *lb = backend_cmd_args(ctx, true, &arg);
    if (!lb) {
        return;
    }

    const struct obrec_backend *b = find_backend(lb, &arg);
    if (!b) {
        check_services(ctx, NULL, lb->name, &arg);
        if (ctx->error) {
            return;
        }
    }
    if (b) {
        if (!may_exist) {
            ctl_error(ctx, "%s: backend %s already exists", lb->name,
                      ctx->argv[2]);
        } else if (arg.weight >= 0) {
            int64_t weight = arg.weight;
            obrec_backend_set_weight(b, &weight, 1);
        }
        return;
    }
    obrec_load_balancer_update_backends_addvalue(lb,
                                                 insert_backend(ctx, &arg));
}

/* Finds the existing backend argv[2] (without a weight) of service
 * argv[1], and its service in '*lbp'.  Returns NULL, with an error unless
 * only the backend is missing and 'must_exist' is false, if there is
 * none. */
static const struct obrec_backend *
find_backend_arg(struct ctl_context *ctx, bool must_exist,
                 const struct obrec_load_balancer **lbp)
{
    struct backend_arg arg;
    const struct obrec_load_balancer *lb = backend_cmd_args(ctx, false,
                                                            &arg);
    const struct obrec_backend *b = lb ? find_backend(lb, &arg) : NULL;

    if (lb && !b && must_exist) {
        ctl_error(ctx, "%s: no backend %s", lb->name, ctx->argv[2]);
    }
    *lbp = lb;
    return b;
}

static void
cmd_backend_del(struct ctl_context *ctx)
{
    bool if_exists = shash_find(&ctx->options, "--if-exists") != NULL;
    const struct obrec_load_balancer *lb;
    const struct obrec_backend *b = find_backend_arg(ctx, !if_exists, &lb);

    if (b) {
        obrec_load_balancer_update_backends_delvalue(lb, b);
    }
}

static void
cmd_backend_set(struct ctl_context *ctx)
{
    const struct obrec_load_balancer *lb;
    const struct obrec_backend *b = find_backend_arg(ctx, true, &lb);
    if (!b) {
        return;
    }

    for (int i = 3; i < ctx->argc; i++) {
        const char *word = ctx->argv[i];
        unsigned int weight;

        if (!strncmp(word, "weight=", 7)) {
            if (!str_to_uint(word + 7, 10, &weight)
                || weight > LB_MAX_WEIGHT) {
                ctl_error(ctx, "\"%s\": the weight is a number between 0 "
                          "and %d", word, LB_MAX_WEIGHT);
                return;
            }
            int64_t w = weight;
            obrec_backend_set_weight(b, &w, 1);
        } else if (!strcmp(word, "state=enabled")
                   || !strcmp(word, "state=draining")
                   || !strcmp(word, "state=disabled")) {
            obrec_backend_set_state(b, word + 6);
        } else {
            ctl_error(ctx, "\"%s\": expected weight=N or "
                      "state=enabled|draining|disabled", word);
            return;
        }
    }
}

/* lb-health-set NAME tcp|udp|http[:/PATH] [KEY=VALUE]... */
static void
cmd_lb_health_set(struct ctl_context *ctx)
{
    const struct obrec_load_balancer *lb = find_lb(ctx, ctx->argv[1], true);
    if (!lb) {
        return;
    }

    const char *kind = ctx->argv[2];
    const char *type, *path = NULL;
    if (!strcmp(kind, "tcp") || !strcmp(kind, "udp")) {
        type = kind;
    } else if (!strcmp(kind, "http")) {
        type = "http";
        path = "/";
    } else if (!strncmp(kind, "http:", 5)) {
        type = "http";
        path = kind + 5;
    } else {
        ctl_error(ctx, "\"%s\": use tcp, udp, http or http:/PATH", kind);
        return;
    }

    /* The daemon's parser says whether the service takes it. */
    struct svec words = SVEC_EMPTY_INITIALIZER;
    struct smap options = SMAP_INITIALIZER(&options);
    if (lb->protocol) {
        svec_add(&words, lb->protocol);
    }
    svec_add_nocopy(&words, (path ? xasprintf("health=http:%s", path)
                             : xasprintf("health=%s", type)));
    for (int i = 3; i < ctx->argc && !ctx->error; i++) {
        const char *eq = strchr(ctx->argv[i], '=');
        char *key = xmemdup0(ctx->argv[i], eq ? eq - ctx->argv[i] : 0);

        if (!eq || !lb_is_check_option(key)) {
            ctl_error(ctx, "\"%s\": expected KEY=VALUE with KEY one of "
                      "interval, timeout, rise, fall, slow-start, "
                      "check-source, http-status, expect", ctx->argv[i]);
        } else {
            svec_add(&words, ctx->argv[i]);
            smap_replace(&options, key, eq + 1);
        }
        free(key);
    }
    if (!ctx->error) {
        struct lb_service_config svc;
        char *error = lb_service_config_init(&svc, lb->name, lb->vip,
                                             (const char **) words.names,
                                             words.n);
        lb_service_config_destroy(&svc);
        if (error) {
            ctl_error(ctx, "%s", error);
            free(error);
        }
    }
    if (!ctx->error) {
        const struct obrec_health_check *hc = lb->health_check;
        if (!hc) {
            hc = obrec_health_check_insert(ctx->txn);
            obrec_load_balancer_set_health_check(lb, hc);
        }
        obrec_health_check_set_type(hc, type);
        obrec_health_check_set_path(hc, path);
        obrec_health_check_set_options(hc, &options);
    }
    smap_destroy(&options);
    svec_destroy(&words);
}

static void
cmd_lb_health_del(struct ctl_context *ctx)
{
    const struct obrec_load_balancer *lb = find_lb(ctx, ctx->argv[1], true);
    if (lb) {
        obrec_load_balancer_set_health_check(lb, NULL);
    }
}

static void
put_status(struct ds *s, const char *indent, const struct smap *status)
{
    const char *error = smap_get(status, "error");
    if (error) {
        ds_put_format(s, "%serror: \"%s\"\n", indent, error);
    }
}

static int64_t
statistic(char **keys, const int64_t *values, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(keys[i], key)) {
            return values[i];
        }
    }
    return 0;
}

/* Appends the traffic in a statistics column, if the daemon wrote it. */
static void
put_traffic(struct ds *s, char **keys, const int64_t *values, size_t n)
{
    int64_t nc = statistic(keys, values, n, "clients");

    ds_put_format(s, ", %"PRId64" client%s", nc, nc == 1 ? "" : "s");
    if (n) {
        ds_put_format(s, ", %"PRId64" new/s, %"PRId64" packets, %"PRId64
                      " bytes", statistic(keys, values, n, "new_clients_rate"),
                      statistic(keys, values, n, "packets"),
                      statistic(keys, values, n, "bytes"));
    }
    ds_put_char(s, '\n');
}

static void
cmd_show(struct ctl_context *ctx)
{
    const struct obrec_balancer *bal = obrec_balancer_first(ctx->idl);
    struct ds *s = &ctx->output;

    if (bal) {
        ds_put_format(s, "Balancer (configuration %"PRId64", applied %"
                      PRId64")\n", bal->next_cfg, bal->cur_cfg);
        const char *active = smap_get(&bal->status, "active");
        if (active) {
            /* Written by the instance that holds the lock (--ha). */
            const char *since = smap_get(&bal->status, "active_since");
            ds_put_format(s, "    active: %s since %s, generation %"PRId64
                          "\n", active, since ? since : "(unknown)",
                          bal->generation);
        }
        const struct smap_node **nodes = smap_sort(&bal->options);
        for (size_t i = 0; i < smap_count(&bal->options); i++) {
            ds_put_format(s, "    %s: %s\n", nodes[i]->key, nodes[i]->value);
        }
        free(nodes);
        put_status(s, "    ", &bal->status);
    }

    size_t n;
    const struct obrec_load_balancer **lbs = sorted_lbs(ctx, NULL, &n);
    for (size_t i = 0; i < n; i++) {
        const struct obrec_load_balancer *lb = lbs[i];
        ds_put_format(s, "Load_Balancer %s: %s %s, scheduler %s, "
                      "affinity %s", lb->name, lb->vip,
                      lb->protocol ? lb->protocol : "(whole IP)",
                      lb->scheduler ? lb->scheduler : "rr",
                      lb->affinity ? lb->affinity : "client");
        put_traffic(s, lb->key_statistics, lb->value_statistics,
                    lb->n_statistics);
        put_status(s, "    ", &lb->status);
        const struct obrec_health_check *hc = lb->health_check;
        if (hc) {
            ds_put_format(s, "    health check %s", hc->type);
            if (hc->path) {
                ds_put_format(s, " %s", hc->path);
            }
            const struct smap_node **nodes = smap_sort(&hc->options);
            for (size_t j = 0; j < smap_count(&hc->options); j++) {
                ds_put_format(s, " %s=%s", nodes[j]->key, nodes[j]->value);
            }
            free(nodes);
            ds_put_char(s, '\n');
        }

        struct obrec_backend **backends = lb_db_sorted_backends(lb);
        for (size_t j = 0; j < lb->n_backends; j++) {
            const struct obrec_backend *b = backends[j];
            const char *health = smap_get(&b->status, "health");
            const char *drained = smap_get(&b->status, "drained");

            ds_put_cstr(s, "    backend ");
            format_backend_endpoint(lb, b, s);
            ds_put_format(s, ": weight %"PRId64", %s", backend_weight(b),
                          b->state ? b->state : "enabled");
            if (drained) {
                ds_put_cstr(s, !strcmp(drained, "true")
                            ? " (drained)" : " (not yet drained)");
            }
            if (health && strcmp(health, "disabled")) {
                ds_put_format(s, ", health %s", health);
            }
            const char *check = smap_get(&b->status, "check");
            if (check) {
                const char *result = smap_get(&b->status, "check_result");
                ds_put_format(s, ", check %s", check);
                if (result) {
                    ds_put_format(s, " (%s)", result);
                }
            }
            put_traffic(s, b->key_statistics, b->value_statistics,
                        b->n_statistics);
            put_status(s, "        ", &b->status);
        }
        free(backends);
    }
    free(lbs);
}

/* Connection commands: where the database server listens, besides its
 * command line (ovs-balancer-db start serves the Connection table). */

static void
pre_connection(struct ctl_context *ctx)
{
    ovsdb_idl_add_table(ctx->idl, &obrec_table_balancer);
    ovsdb_idl_add_table(ctx->idl, &obrec_table_connection);
}

static const struct obrec_balancer *
balancer_or_error(struct ctl_context *ctx)
{
    const struct obrec_balancer *bal = obrec_balancer_first(ctx->idl);
    if (!bal) {
        ctl_error(ctx, "the database has no Balancer row (run "
                  "\"ovs-balancer-ctl init\")");
    }
    return bal;
}

static void
cmd_set_connection(struct ctl_context *ctx)
{
    const struct obrec_balancer *bal = balancer_or_error(ctx);
    const struct shash_node *probe = shash_find(&ctx->options,
                                                "--inactivity-probe");
    long long int probe_arg = 0;

    if (!bal) {
        return;
    }
    if (probe && (!str_to_llong(probe->data, 10, &probe_arg)
                  || probe_arg < 0 || (probe_arg && probe_arg < 1000))) {
        ctl_error(ctx, "--inactivity-probe: \"%s\" is not 0 (no probe) "
                  "or a number of milliseconds from 1000",
                  (const char *) probe->data);
        return;
    }

    struct obrec_connection **conns = xmalloc((ctx->argc - 1)
                                              * sizeof *conns);
    for (int i = 1; i < ctx->argc; i++) {
        const char *target = ctx->argv[i];
        if (pstream_verify_name(target) && stream_verify_name(target)) {
            ctl_error(ctx, "%s: not a connection method (e.g. ptcp:6641 or "
                      "punix:FILE)", target);
            free(conns);
            return;
        }
        conns[i - 1] = obrec_connection_insert(ctx->txn);
        obrec_connection_set_target(conns[i - 1], target);
        if (probe) {
            int64_t probe_ms = probe_arg;
            obrec_connection_set_inactivity_probe(conns[i - 1], &probe_ms,
                                                  1);
        }
    }
    obrec_balancer_set_connections(bal, conns, ctx->argc - 1);
    free(conns);
}

static void
cmd_get_connection(struct ctl_context *ctx)
{
    const struct obrec_balancer *bal = balancer_or_error(ctx);
    struct svec targets = SVEC_EMPTY_INITIALIZER;

    if (!bal) {
        return;
    }
    for (size_t i = 0; i < bal->n_connections; i++) {
        const struct obrec_connection *c = bal->connections[i];
        if (c->n_inactivity_probe) {
            svec_add_nocopy(&targets, xasprintf(
                                "%s (inactivity probe %"PRId64" ms)",
                                c->target, c->inactivity_probe[0]));
        } else {
            svec_add(&targets, c->target);
        }
    }
    svec_sort(&targets);
    for (size_t i = 0; i < targets.n; i++) {
        ds_put_format(&ctx->output, "%s\n", targets.names[i]);
    }
    svec_destroy(&targets);
}

static void
cmd_del_connection(struct ctl_context *ctx)
{
    const struct obrec_balancer *bal = balancer_or_error(ctx);

    if (bal) {
        obrec_balancer_set_connections(bal, NULL, 0);
    }
}

static void
register_commands(void)
{
    static const struct ctl_command_syntax commands[] = {
        {"init", 0, 0, "", pre_all, cmd_init, NULL, "", RW},
        {"show", 0, 0, "", pre_all, cmd_show, NULL, "", RO},
        {"lb-add", 3, 4, "NAME VIP[:PORT] BACKEND[:PORT][=WEIGHT],... "
         "[PROTOCOL]", pre_all, cmd_lb_add, NULL, "--may-exist", RW},
        {"lb-del", 1, 1, "NAME", pre_all, cmd_lb_del, NULL, "--if-exists",
         RW},
        {"lb-list", 0, 1, "[NAME]", pre_all, cmd_lb_list, NULL, "", RO},
        {"backend-add", 2, 2, "NAME BACKEND[:PORT][=WEIGHT]", pre_all,
         cmd_backend_add, NULL, "--may-exist", RW},
        {"backend-del", 2, 2, "NAME BACKEND[:PORT]", pre_all,
         cmd_backend_del, NULL, "--if-exists", RW},
        {"backend-set", 3, INT_MAX, "NAME BACKEND[:PORT] weight=N|state=S...",
         pre_all, cmd_backend_set, NULL, "", RW},
        {"lb-health-set", 2, INT_MAX, "NAME tcp|udp|http[:/PATH] "
         "[KEY=VALUE]...", pre_all, cmd_lb_health_set, NULL, "", RW},
        {"lb-health-del", 1, 1, "NAME", pre_all, cmd_lb_health_del, NULL, "",
         RW},
        {"set-connection", 1, INT_MAX, "TARGET...", pre_connection,
         cmd_set_connection, NULL, "--inactivity-probe=", RW},
        {"get-connection", 0, 0, "", pre_connection, cmd_get_connection,
         NULL, "", RO},
        {"del-connection", 0, 0, "", pre_connection, cmd_del_connection,
         NULL, "", RW},
        {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, RO},
    };
    ctl_register_commands(commands);
}

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
#include "controller/dbconn.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "lib/lb-config.h"
#include "lib/lb-controller.h"
#include "lib/lb-db.h"
#include "lib/ovs-balancer-idl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "openvswitch/poll-loop.h"
#include "smap.h"
#include "timeval.h"
#include "util.h"
#include "uuid.h"

VLOG_DEFINE_THIS_MODULE(dbconn);

/* How often the status columns are brought up to date (and at once after a
 * change of the configuration). */
#define STATUS_INTERVAL_MS 1000

/* The database lock the instances of one balancer compete for. */
#define HA_LOCK "ovs_balancer"

/* What was last written of a Backend row, to see what changed. */
struct backend_note {
    struct hmap_node node;      /* In dbconn's 'notes', by row UUID. */
    struct uuid uuid;
    char *health;
    long long int changed;      /* Wall clock, when 'health' changed. */
    bool drained;
    bool seen;                  /* In this round? */
};

struct dbconn {
    struct ovsdb_idl_loop loop;
    unsigned int seqno;         /* The IDL's, when last applied. */
    bool connected;
    long long int next_status;
    struct lb_db_errors errors;
    struct hmap notes;          /* "struct backend_note"s. */

    /* High availability. */
    char *ha_name;              /* This instance's name, NULL without HA. */
    bool active;                /* Holds the lock and its generation. */
    int64_t claimed;            /* The generation it wrote, 0 if none. */
    char *since;                /* When it became active, ISO 8601. */
};

struct dbconn *
dbconn_create(const char *remote)
{
    struct dbconn *db = xzalloc(sizeof *db);
    struct ovsdb_idl *idl = ovsdb_idl_create(remote, &obrec_idl_class,
                                             true, true);

    /* The daemon's own columns: writing them is no news to itself. */
    ovsdb_idl_omit_alert(idl, &obrec_balancer_col_cur_cfg);
    ovsdb_idl_omit_alert(idl, &obrec_balancer_col_status);
    ovsdb_idl_omit_alert(idl, &obrec_balancer_col_generation);
    ovsdb_idl_omit_alert(idl, &obrec_load_balancer_col_status);
    ovsdb_idl_omit_alert(idl, &obrec_load_balancer_col_statistics);
    ovsdb_idl_omit_alert(idl, &obrec_backend_col_status);
    ovsdb_idl_omit_alert(idl, &obrec_backend_col_statistics);
    db->loop = (struct ovsdb_idl_loop) OVSDB_IDL_LOOP_INITIALIZER(idl);
    db->seqno = ovsdb_idl_get_seqno(idl);
    lb_db_errors_init(&db->errors);
    hmap_init(&db->notes);
    return db;
}

void
dbconn_destroy(struct dbconn *db)
{
    if (db) {
        struct backend_note *note;
        HMAP_FOR_EACH_POP (note, node, &db->notes) {
            free(note->health);
            free(note);
        }
        hmap_destroy(&db->notes);
        lb_db_errors_destroy(&db->errors);
        ovsdb_idl_loop_destroy(&db->loop);
        free(db->ha_name);
        free(db->since);
        free(db);
    }
}

static void
apply_config(struct dbconn *db, struct lb_controller *ctl,
             const struct lb_config *defaults)
{
    struct lb_db_errors old;
    struct lb_config cfg;

    lb_db_errors_init(&old);
    shash_swap(&old.rows, &db->errors.rows);
    lb_db_read(db->loop.idl, defaults, &cfg, &db->errors);

    /* Each refusal is logged once, not at every change of the database. */
    struct shash_node *node;
    SHASH_FOR_EACH (node, &db->errors.rows) {
        const char *before = shash_find_data(&old.rows, node->name);
        if (!before || strcmp(before, node->data)) {
            VLOG_WARN("database row %s refused: %s", node->name,
                      (const char *) node->data);
        }
    }
    lb_db_errors_destroy(&old);
    char *error = lb_controller_reconfigure(ctl, &cfg, time_msec());
    if (error) {
        /* lb_db_read() checked each service: not expected. */
        VLOG_ERR("configuration from the database refused: %s", error);
        free(error);
    } else {
        VLOG_INFO("applied the database's configuration: %"PRIuSIZE
                  " service%s", cfg.n_services,
                  cfg.n_services == 1 ? "" : "s");
    }
    lb_config_destroy(&cfg);
}

static void
set_error(struct smap *status, const struct lb_db_errors *errors,
          const struct uuid *uuid)
{
    const char *error = lb_db_errors_find(errors, uuid);
    if (error) {
        smap_add(status, "error", error);
    }
}

static struct backend_note *
find_note(struct dbconn *db, const struct uuid *uuid)
{
    struct backend_note *note;

    HMAP_FOR_EACH_WITH_HASH (note, node, uuid_hash(uuid), &db->notes) {
        if (uuid_equals(&note->uuid, uuid)) {
            return note;
        }
    }
    note = xzalloc(sizeof *note);
    note->uuid = *uuid;
    hmap_insert(&db->notes, &note->node, uuid_hash(uuid));
    return note;
}

/* Health on all switches in one word: up where any switch sees it up. */
static const char *
health_word(const struct lb_member_status *st)
{
    return (st->n_up ? "up"
            : st->n_down ? "down"
            : "unknown");
}

/* The statistics columns' keys, and values in that order. */
static const char *traffic_keys[] = {
    "bytes", "clients", "new_clients", "new_clients_rate", "packets",
};
struct traffic {
    int64_t values[ARRAY_SIZE(traffic_keys)];
};

static struct traffic
traffic_from_status(const struct lb_member_status *st)
{
    return (struct traffic) { {
        st->bytes, st->n_clients, st->n_new, (int64_t) (st->new_rate + 0.5),
        st->packets,
    } };
}

static struct traffic
traffic_add(struct traffic a, const struct traffic *b)
{
    for (size_t i = 0; i < ARRAY_SIZE(a.values); i++) {
        a.values[i] += b->values[i];
    }
    return a;
}

/* Does the statistics column with 'keys' and 'values' say 't'? */
static bool
statistics_equal(const struct traffic *t, char **keys,
                 const int64_t *values, size_t n)
{
    if (n != ARRAY_SIZE(traffic_keys)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        /* The IDL keeps a map's keys sorted, as 'traffic_keys' is. */
        if (strcmp(keys[i], traffic_keys[i]) || values[i] != t->values[i]) {
            return false;
        }
    }
    return true;
}

/* Writes 'b''s status and statistics, and adds its traffic to '*total'. */
static void
update_backend(struct dbconn *db, const struct lb_controller *ctl,
               const struct obrec_load_balancer *lb,
               const struct obrec_backend *b, uint16_t vip_port,
               long long int wall, struct traffic *total)
{
    struct smap status = SMAP_INITIALIZER(&status);
    struct lb_member_status st;
    ovs_be32 ip;
    char *error = lb_parse_unicast_ip(b->address, &ip);
    uint16_t port = b->n_port ? b->port[0] : vip_port;

    memset(&st, 0, sizeof st);
    if (!error) {
        lb_controller_member_status(ctl, lb->name, ip, port, &st);
    }
    free(error);

    struct backend_note *note = find_note(db, &b->header_.uuid);
    note->seen = true;
    const char *health = (b->state && !strcmp(b->state, "disabled")
                          ? "disabled"
                          : st.found ? health_word(&st) : NULL);
    if (health) {
        if (!note->health || strcmp(note->health, health)) {
            free(note->health);
            note->health = xstrdup(health);
            note->changed = wall;
        }
        smap_add(&status, "health", health);
        char *when = xastrftime_msec("%Y-%m-%dT%H:%M:%S.###Z",
                                     note->changed, true);
        smap_add(&status, "last_change", when);
        free(when);
    }
    if (b->state && !strcmp(b->state, "draining") && st.found) {
        bool drained = !st.n_undrained;
        if (drained && !note->drained) {
            struct ds s = DS_EMPTY_INITIALIZER;
            lb_format_endpoint(&s, ip, port);
            VLOG_INFO("service %s: backend %s drained: %s", lb->name,
                      ds_cstr(&s),
                      (lb_controller_get_config(ctl)->datapath
                       == LB_DATAPATH_STATEFUL
                       ? "no traffic to it for the idle timeout"
                       : "no clients left"));
            ds_destroy(&s);
        }
        note->drained = drained;
        smap_add(&status, "drained", drained ? "true" : "false");
    } else {
        note->drained = false;
    }
    if (st.checked) {
        smap_add(&status, "check", st.check_state);
        if (st.check_result[0]) {
            smap_add(&status, "check_result", st.check_result);
        }
        if (st.check_changed != LLONG_MIN) {
            /* The check's time is monotonic: the wall clock's then. */
            char *when = xastrftime_msec(
                "%Y-%m-%dT%H:%M:%S.###Z",
                wall - (time_msec() - st.check_changed), true);
            smap_add(&status, "check_change", when);
            free(when);
        }
    }
    set_error(&status, &db->errors, &b->header_.uuid);
    if (!smap_equal(&status, &b->status)) {
        obrec_backend_set_status(b, &status);
    }
    smap_destroy(&status);

    struct traffic t = traffic_from_status(&st);
    if (!statistics_equal(&t, b->key_statistics, b->value_statistics,
                          b->n_statistics)) {
        obrec_backend_set_statistics(b, traffic_keys, t.values,
                                     ARRAY_SIZE(t.values));
    }
    *total = traffic_add(*total, &t);
}

/* The Balancer row's status: a refusal, and with high availability who is
 * active and since when. */
static void
update_balancer_status(struct dbconn *db, const struct obrec_balancer *bal)
{
    struct smap status = SMAP_INITIALIZER(&status);

    set_error(&status, &db->errors, &bal->header_.uuid);
    if (db->ha_name) {
        smap_add(&status, "active", db->ha_name);
        smap_add(&status, "active_since", db->since);
    }
    if (!smap_equal(&status, &bal->status)) {
        obrec_balancer_set_status(bal, &status);
    }
    smap_destroy(&status);
}

static void
update_status(struct dbconn *db, const struct lb_controller *ctl)
{
    long long int wall = time_wall_msec();
    struct smap status = SMAP_INITIALIZER(&status);

    const struct obrec_balancer *bal = obrec_balancer_first(db->loop.idl);
    if (bal) {
        update_balancer_status(db, bal);
    }

    const struct obrec_load_balancer *lb;
    OBREC_LOAD_BALANCER_FOR_EACH (lb, db->loop.idl) {
        const char *colon = strchr(lb->vip, ':');
        uint16_t vip_port = colon ? atoi(colon + 1) : 0;
        struct traffic total;

        memset(&total, 0, sizeof total);
        for (size_t i = 0; i < lb->n_backends; i++) {
            update_backend(db, ctl, lb, lb->backends[i], vip_port, wall,
                           &total);
        }
        set_error(&status, &db->errors, &lb->header_.uuid);
        if (!smap_equal(&status, &lb->status)) {
            obrec_load_balancer_set_status(lb, &status);
        }
        smap_clear(&status);
        if (!statistics_equal(&total, lb->key_statistics,
                              lb->value_statistics, lb->n_statistics)) {
            obrec_load_balancer_set_statistics(lb, traffic_keys, total.values,
                                               ARRAY_SIZE(total.values));
        }
    }
    smap_destroy(&status);

    /* Forget the rows that went. */
    struct backend_note *note;
    HMAP_FOR_EACH_SAFE (note, node, &db->notes) {
        if (!note->seen) {
            hmap_remove(&db->notes, &note->node);
            free(note->health);
            free(note);
        } else {
            note->seen = false;
        }
    }
}

void
dbconn_set_ha(struct dbconn *db, const char *name)
{
    free(db->ha_name);
    db->ha_name = xstrdup(name);
    ovsdb_idl_set_lock(db->loop.idl, HA_LOCK);
}

/* With high availability: takes the lock's generation, or gives up acting
 * as soon as it has lost the lock. */
static void
run_ha(struct dbconn *db, struct ovsdb_idl_txn *txn)
{
    struct ovsdb_idl *idl = db->loop.idl;
    bool locked = (ovsdb_idl_is_connected(idl)
                   && ovsdb_idl_has_lock(idl));

    if (!locked) {
        if (db->active) {
            VLOG_WARN("standby: lost %s, so another instance may act: "
                      "stopped acting on the switches",
                      ovsdb_idl_is_connected(idl) ? "the database lock"
                      : "the database and with it the lock");
        }
        db->active = false;
        db->claimed = 0;
        return;
    }
    if (db->active) {
        return;
    }
    if (db->claimed && db->loop.cur_cfg == db->claimed) {
        /* The increment has committed while this instance held the lock:
         * no other instance can have, or have had, this generation. */
        db->active = true;
        VLOG_INFO("active: holding the database lock, generation %"PRId64,
                  db->claimed);
        return;
    }
    if (txn) {
        /* A new claim in each transaction until one commits (none of the
         * standby's transactions writes anything else).  Under the lock
         * the row cannot change behind this instance's back: whoever held
         * the lock before committed before the server gave it over, and
         * its changes came first on this connection. */
        const struct obrec_balancer *bal = obrec_balancer_first(idl);
        if (!bal) {
            bal = obrec_balancer_insert(txn);
        }
        db->claimed = bal->generation + 1;
        db->loop.next_cfg = db->claimed;
        free(db->since);
        db->since = xastrftime_msec("%Y-%m-%dT%H:%M:%S.###Z",
                                    time_wall_msec(), true);
        obrec_balancer_set_generation(bal, db->claimed);
        update_balancer_status(db, bal);
    }
}

void
dbconn_get_role(const struct dbconn *db, struct dbconn_role *role)
{
    const struct obrec_balancer *bal = obrec_balancer_first(db->loop.idl);

    memset(role, 0, sizeof *role);
    role->active = !db->ha_name || db->active;
    role->claiming = db->claimed && !db->active;
    if (bal) {
        role->generation = bal->generation;
        role->active_name = smap_get(&bal->status, "active");
        role->active_since = smap_get(&bal->status, "active_since");
    }
    if (db->active) {
        role->generation = db->claimed;
        role->active_name = db->ha_name;
        role->active_since = db->since;
    }
}

/* Follows the database: applies its configuration to 'ctl' (over
 * 'defaults'), takes or loses the lock with --ha, writes the status.
 * Returns true if it applied a configuration. */
bool
dbconn_run(struct dbconn *db, struct lb_controller *ctl,
           const struct lb_config *defaults)
{
    struct ovsdb_idl *idl = db->loop.idl;
    struct ovsdb_idl_txn *txn = ovsdb_idl_loop_run(&db->loop);
    long long int now = time_msec();

    bool connected = ovsdb_idl_is_connected(idl);
    if (connected != db->connected) {
        db->connected = connected;
        if (connected) {
            VLOG_INFO("connected to the database");
        } else {
            VLOG_WARN("lost the database: %s",
                      (db->ha_name ? "standby until it is back"
                       : "serving with the last configuration until it is "
                       "back"));
        }
    }

    bool applied = false;
    unsigned int seqno = ovsdb_idl_get_seqno(idl);
    if (seqno != db->seqno && ovsdb_idl_has_ever_connected(idl)) {
        db->seqno = seqno;
        apply_config(db, ctl, defaults);
        db->next_status = now;
        applied = true;
    }

    if (db->ha_name) {
        run_ha(db, txn);
    }
    if (txn && (!db->ha_name || db->active)) {
        /* The standby leaves the status to the active instance. */
        const struct obrec_balancer *bal = obrec_balancer_first(idl);
        if (bal && bal->cur_cfg != bal->next_cfg) {
            /* What the configuration asked for has been applied. */
            obrec_balancer_set_cur_cfg(bal, bal->next_cfg);
        }
        if (now >= db->next_status) {
            update_status(db, ctl);
            db->next_status = now + STATUS_INTERVAL_MS;
        }
    }
    ovsdb_idl_loop_commit_and_wait(&db->loop);
    return applied;
}

void
dbconn_wait(struct dbconn *db)
{
    ovsdb_idl_wait(db->loop.idl);
    if (ovsdb_idl_is_connected(db->loop.idl) && !db->loop.committing_txn
        && (!db->ha_name || db->active)) {
        /* Otherwise the connection or the commit wakes it up (a standby
         * writes no status). */
        poll_timer_wait_until(db->next_status);
    }
}

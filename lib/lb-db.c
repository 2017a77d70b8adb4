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
#include "lib/lb-db.h"

#include <stdlib.h>
#include <string.h>
#include "lib/lb-config.h"
#include "lib/ovs-balancer-idl.h"
#include "openvswitch/dynamic-string.h"
#include "smap.h"
#include "svec.h"
#include "util.h"
#include "uuid.h"

void
lb_db_errors_init(struct lb_db_errors *errors)
{
    shash_init(&errors->rows);
}

void
lb_db_errors_destroy(struct lb_db_errors *errors)
{
    shash_destroy_free_data(&errors->rows);
}

static void
add_error(struct lb_db_errors *errors, const struct uuid *uuid, char *msg)
{
    char key[UUID_LEN + 1];

    snprintf(key, sizeof key, UUID_FMT, UUID_ARGS(uuid));
    free(shash_replace(&errors->rows, key, msg));
}

/* Returns why the row with 'uuid' was left out, or NULL. */
const char *
lb_db_errors_find(const struct lb_db_errors *errors, const struct uuid *uuid)
{
    char key[UUID_LEN + 1];

    snprintf(key, sizeof key, UUID_FMT, UUID_ARGS(uuid));
    return shash_find_data(&errors->rows, key);
}

static void
read_options(const struct obrec_balancer *bal, struct lb_config *cfg,
             struct lb_db_errors *errors)
{
    struct ds msgs = DS_EMPTY_INITIALIZER;
    const struct smap_node **nodes = smap_sort(&bal->options);

    for (size_t i = 0; i < smap_count(&bal->options); i++) {
        const char *key = nodes[i]->key, *value = nodes[i]->value;
        char *error = (lb_config_is_setting(key)
                       ? lb_config_set(cfg, key, value)
                       : xasprintf("unknown option \"%s\"", key));
        if (error) {
            ds_put_format(&msgs, "%s%s: %s", msgs.length ? "; " : "", key,
                          error);
            free(error);
        }
    }
    free(nodes);
    if (msgs.length) {
        add_error(errors, &bal->header_.uuid, ds_steal_cstr(&msgs));
    }
    ds_destroy(&msgs);
}

static int
compare_lbs(const void *a_, const void *b_)
{
    const struct obrec_load_balancer *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->name, (*b)->name);

    return cmp ? cmp : uuid_compare_3way(&(*a)->header_.uuid,
                                         &(*b)->header_.uuid);
}

static int
compare_backends(const void *a_, const void *b_)
{
    const struct obrec_backend *const *a = a_, *const *b = b_;
    ovs_be32 ia = 0, ib = 0;

    free(lb_parse_unicast_ip((*a)->address, &ia));
    free(lb_parse_unicast_ip((*b)->address, &ib));
    if (ia != ib) {
        return ntohl(ia) < ntohl(ib) ? -1 : 1;
    }
    int cmp = strcmp((*a)->address, (*b)->address);
    if (!cmp) {
        int64_t pa = (*a)->n_port ? (*a)->port[0] : 0;
        int64_t pb = (*b)->n_port ? (*b)->port[0] : 0;
        cmp = pa < pb ? -1 : pa > pb;
    }
    return cmp ? cmp : uuid_compare_3way(&(*a)->header_.uuid,
                                         &(*b)->header_.uuid);
}

/* Returns 'lb''s backends in the order of their addresses and ports, in an
 * array for the caller to free. */
struct obrec_backend **
lb_db_sorted_backends(const struct obrec_load_balancer *lb)
{
    size_t n = lb->n_backends;
    struct obrec_backend **backends = xmalloc(MAX(n, 1) * sizeof *backends);

    if (n) {
        memcpy(backends, lb->backends, n * sizeof *backends);
        qsort(backends, n, sizeof *backends, compare_backends);
    }
    return backends;
}

/* Reads 'lb' into 'svc', leaving out (in 'errors') the backends it cannot
 * use.  Returns an error if the service itself is bad. */
/* Adds to 'words' those of 'hc', as --service would have them.  Returns an
 * error if an option is not a health check's. */
static char *
health_check_words(const struct obrec_health_check *hc, struct svec *words)
{
    if (!strcmp(hc->type, "http")) {
        svec_add_nocopy(words, xasprintf("health=http:%s",
                                         hc->path ? hc->path : "/"));
    } else {
        svec_add_nocopy(words, xasprintf("health=%s", hc->type));
    }

    const struct smap_node **nodes = smap_sort(&hc->options);
    char *error = NULL;
    for (size_t i = 0; i < smap_count(&hc->options) && !error; i++) {
        if (lb_is_check_option(nodes[i]->key)) {
            svec_add_nocopy(words, xasprintf("%s=%s", nodes[i]->key,
                                             nodes[i]->value));
        } else {
            error = xasprintf("unknown health check option \"%s\"",
                              nodes[i]->key);
        }
    }
    free(nodes);
    return error;
}

static char *
read_service(const struct obrec_load_balancer *lb,
             struct lb_service_config *svc, struct lb_db_errors *errors)
{
    struct svec words = SVEC_EMPTY_INITIALIZER;
    char *error = NULL;

    if (lb->protocol) {
        svec_add(&words, lb->protocol);
    }
    if (lb->scheduler) {
        svec_add_nocopy(&words, xasprintf("scheduler=%s", lb->scheduler));
    }
    if (lb->affinity) {
        svec_add_nocopy(&words, xasprintf("affinity=%s", lb->affinity));
    }
    if (lb->health_check) {
        char *e = health_check_words(lb->health_check, &words);
        if (e) {
            error = xasprintf("%s: %s", lb->name, e);
            free(e);
        }
    }
    if (error) {
        memset(svc, 0, sizeof *svc);
    } else {
        error = lb_service_config_init(svc, lb->name, lb->vip,
                                       (const char **) words.names, words.n);
    }
    svec_destroy(&words);
    if (error) {
        return error;
    }

    struct obrec_backend **backends = lb_db_sorted_backends(lb);
    for (size_t i = 0; i < lb->n_backends; i++) {
        const struct obrec_backend *b = backends[i];

        if (b->state && !strcmp(b->state, "disabled")) {
            continue;
        }
        error = lb_service_config_add_backend(
            svc, b->address, b->n_port ? b->port[0] : 0,
            b->n_weight ? b->weight[0] : LB_DEFAULT_WEIGHT,
            b->state && !strcmp(b->state, "draining"));
        if (error) {
            add_error(errors, &b->header_.uuid, error);
        }
    }
    free(backends);
    return NULL;
}

void
lb_db_read(const struct ovsdb_idl *idl, const struct lb_config *defaults,
           struct lb_config *cfg, struct lb_db_errors *errors)
{
    lb_config_clone(cfg, defaults);
    for (size_t i = 0; i < cfg->n_services; i++) {
        lb_service_config_destroy(&cfg->services[i]);
    }
    cfg->n_services = 0;

    const struct obrec_balancer *bal = obrec_balancer_first(idl);
    if (bal) {
        read_options(bal, cfg, errors);
    }

    size_t n = 0, allocated = 0;
    const struct obrec_load_balancer **lbs = NULL;
    const struct obrec_load_balancer *lb;
    OBREC_LOAD_BALANCER_FOR_EACH (lb, idl) {
        if (n >= allocated) {
            lbs = x2nrealloc(lbs, &allocated, sizeof *lbs);
        }
        lbs[n++] = lb;
    }
    if (n) {
        qsort(lbs, n, sizeof *lbs, compare_lbs);
    }

    for (size_t i = 0; i < n; i++) {
        struct lb_service_config svc;
        char *error = read_service(lbs[i], &svc, errors);

        if (!error) {
            lb_config_append_service(cfg, &svc);
            error = lb_config_check(cfg);
            if (error) {
                /* It clashes with a service read before it. */
                lb_service_config_destroy(&cfg->services[--cfg->n_services]);
            }
        } else {
            lb_service_config_destroy(&svc);
        }
        if (error) {
            add_error(errors, &lbs[i]->header_.uuid, error);
        }
    }
    free(lbs);
}

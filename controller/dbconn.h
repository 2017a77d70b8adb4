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

#ifndef DBCONN_H
#define DBCONN_H 1

/* ovs-balancer's connection to its database (--db): it applies each
 * change of the configuration to the balancer as soon as it arrives, tells
 * "ovs-balancer-ctl --wait" that it did (the Balancer row's cur_cfg), and
 * writes back the status columns: why a row was refused, each backend's
 * health, clients and drain.
 *
 * The connection is OVS's IDL, which reconnects with backoff: while the
 * database is away the balancer keeps its last configuration.
 *
 * High availability (dbconn_set_ha()): several instances share one
 * (clustered) database and only the one holding its lock acts, as
 * ovn-northd does.  On taking the lock an instance increments the Balancer
 * row's generation, in a transaction that only commits while it holds the
 * lock, and acts once that has committed: the generation is what it gives
 * the switches with the master role, so that they refuse a former master.
 * Losing the lock or the database stops it at once. */

#include <stdbool.h>
#include <stdint.h>

struct lb_config;
struct lb_controller;

struct dbconn *dbconn_create(const char *remote);
void dbconn_destroy(struct dbconn *);
bool dbconn_run(struct dbconn *, struct lb_controller *,
                const struct lb_config *defaults);
void dbconn_wait(struct dbconn *);

void dbconn_set_ha(struct dbconn *, const char *name);

/* Who acts, as this instance knows it. */
struct dbconn_role {
    bool active;                /* This instance acts on the switches. */
    bool claiming;              /* It took the lock, not yet the generation. */
    int64_t generation;         /* The active instance's, 0 if unknown. */
    const char *active_name;    /* The active instance's, or NULL. */
    const char *active_since;   /* Since when (ISO 8601 UTC), or NULL. */
};
void dbconn_get_role(const struct dbconn *, struct dbconn_role *);

#endif /* dbconn.h */

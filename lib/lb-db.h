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

#ifndef LB_DB_H
#define LB_DB_H 1

/* The configuration in the database (ovs-balancer.ovsschema), read into an
 * lb_config: the Balancer row's options over the defaults, and a service
 * for each Load_Balancer row with its Backend rows.
 *
 * A row that cannot be used (a bad address, a service that takes another's
 * traffic) is left out, and why is kept by its UUID for its status column;
 * the rest applies.  Services are read in the order of their names, and a
 * service's backends in the order of their addresses and ports, so that
 * the same database always gives the same configuration. */

#include <stdint.h>
#include "openvswitch/shash.h"

struct lb_config;
struct obrec_backend;
struct obrec_load_balancer;
struct ovsdb_idl;
struct uuid;

struct lb_db_errors {
    struct shash rows;          /* Error messages, by row UUID string. */
};

void lb_db_errors_init(struct lb_db_errors *);
void lb_db_errors_destroy(struct lb_db_errors *);
const char *lb_db_errors_find(const struct lb_db_errors *,
                              const struct uuid *);

struct obrec_backend **lb_db_sorted_backends(
    const struct obrec_load_balancer *);

void lb_db_read(const struct ovsdb_idl *, const struct lb_config *defaults,
                struct lb_config *, struct lb_db_errors *);

#endif /* lb-db.h */

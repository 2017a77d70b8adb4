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

#ifndef LB_SCHEDULER_H
#define LB_SCHEDULER_H 1

/* Schedulers: how a service picks the backend for a new client.
 *
 * A scheduler sees the service's backends as candidates, in the order they
 * were configured, and picks one that is usable.  Each service has its own
 * scheduler instance (and so its own round-robin position) per switch. */

#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/types.h"

struct lb_candidate {
    bool usable;                /* Known and up? */
    unsigned int weight;        /* Relative share, at least 1. */
    size_t n_clients;           /* Clients it serves now. */
};

struct lb_scheduler {
    const struct lb_scheduler_class *class;
};

struct lb_scheduler_class {
    const char *name;           /* For the command line: "round-robin". */
    const char *description;    /* For logs: "round robin". */

    struct lb_scheduler *(*create)(void);
    void (*destroy)(struct lb_scheduler *);

    /* Returns the index in 'c' of the candidate for a new client whose IP
     * is 'client', or SIZE_MAX if none of the 'n' is usable. */
    size_t (*pick)(struct lb_scheduler *, const struct lb_candidate c[],
                   size_t n, ovs_be32 client);
};

const struct lb_scheduler_class *lb_scheduler_find(const char *name);
const char *lb_scheduler_list(void);

struct lb_scheduler *lb_scheduler_create(const struct lb_scheduler_class *);
void lb_scheduler_destroy(struct lb_scheduler *);
size_t lb_scheduler_pick(struct lb_scheduler *, const struct lb_candidate[],
                         size_t n, ovs_be32 client);

#endif /* lb-scheduler.h */

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

/* Schedulers: how a service picks the backend of a new session.
 *
 * A scheduler sees a service's members as an array, in the order they were
 * configured, and picks a usable one.  It is told whenever the members, their
 * weights or which of them are usable change (lb_scheduler_reconfigure()),
 * before its next pick, so that a scheduler with tables (Maglev) rebuilds
 * them then and not per pick.  Each service has its own instance per
 * switch.
 *
 * The providers, one file each: rr (lb-sched-rr.c), wrr (lb-sched-wrr.c),
 * wlc (lb-sched-wlc.c) and mh (lb-sched-mh.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/types.h"

/* Most members a scheduler handles. */
#define LB_SCHED_MAX_MEMBERS 65534

/* What a scheduler knows of one member. */
struct lb_sched_member {
    ovs_be32 ip;                /* The backend's address and port: what */
    uint16_t port;              /* a consistent hash may depend on. */
    unsigned int weight;        /* Relative share. */
    bool usable;                /* May take new sessions (up, weight > 0). */
    size_t n_sessions;          /* Sessions it has now. */
};

struct lb_scheduler {
    const struct lb_scheduler_class *class;
};

struct lb_scheduler_class {
    const char *name;           /* For the command line: "rr". */
    const char *description;    /* For logs: "round robin". */

    struct lb_scheduler *(*create)(void);
    void (*destroy)(struct lb_scheduler *);

    /* The 'n' members are now 'm' (which the caller keeps, and updates
     * only through further calls, except for 'n_sessions'). */
    void (*reconfigure)(struct lb_scheduler *,
                        const struct lb_sched_member m[], size_t n);

    /* Returns the index in 'm' of the member for a new session whose
     * client hashes to 'hash' (lb_sched_hash()), or SIZE_MAX if none of the
     * 'n' is usable. */
    size_t (*pick)(struct lb_scheduler *, const struct lb_sched_member m[],
                   size_t n, uint32_t hash);
};

const struct lb_scheduler_class *lb_scheduler_find(const char *name);
const char *lb_scheduler_list(void);

struct lb_scheduler *lb_scheduler_create(const struct lb_scheduler_class *);
void lb_scheduler_destroy(struct lb_scheduler *);
void lb_scheduler_reconfigure(struct lb_scheduler *,
                              const struct lb_sched_member[], size_t n);
size_t lb_scheduler_pick(struct lb_scheduler *,
                         const struct lb_sched_member[], size_t n,
                         uint32_t hash);

uint32_t lb_sched_hash(ovs_be32 client_ip, uint16_t client_port);

/* The providers. */
extern const struct lb_scheduler_class lb_sched_rr_class;
extern const struct lb_scheduler_class lb_sched_wrr_class;
extern const struct lb_scheduler_class lb_sched_wlc_class;
extern const struct lb_scheduler_class lb_sched_mh_class;

/* For tests: the size of Maglev's lookup table for 'n' members. */
size_t lb_sched_mh_table_size(size_t n);

/* Maglev's table of 'size' slots (a prime) for members 'm'; the stateful
 * datapath installs a small one as a select group's buckets. */
void lb_maglev_build(const struct lb_sched_member m[], size_t n,
                     uint16_t *table, size_t size);
bool lb_is_prime(size_t n);

#endif /* lb-scheduler.h */

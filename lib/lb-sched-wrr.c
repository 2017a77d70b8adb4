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

/* Smooth weighted round robin: over any run of picks, each usable member
 * gets its weight's share, and a heavy member's turns are spread out rather
 * than taken back to back (weights 5, 1, 1 give a a b a c a a).
 *
 * Each member has a current value.  A pick adds every usable member's
 * weight to its current value, takes the member with the highest (the
 * first of equals), and takes the total of the weights off the winner. */

#include <config.h>
#include "lib/lb-scheduler.h"

#include <limits.h>

#include "util.h"

struct wrr_scheduler {
    struct lb_scheduler up;
    long long int *current;     /* One per member. */
    size_t n;
};

static struct lb_scheduler *
wrr_create(void)
{
    struct wrr_scheduler *wrr = xzalloc(sizeof *wrr);
    return &wrr->up;
}

static void
wrr_destroy(struct lb_scheduler *s)
{
    struct wrr_scheduler *wrr = CONTAINER_OF(s, struct wrr_scheduler, up);

    free(wrr->current);
    free(wrr);
}

/* Starts afresh: the sequence of a new set of weights owes nothing to the
 * old one. */
static void
wrr_reconfigure(struct lb_scheduler *s,
                const struct lb_sched_member m[] OVS_UNUSED, size_t n)
{
    struct wrr_scheduler *wrr = CONTAINER_OF(s, struct wrr_scheduler, up);

    free(wrr->current);
    wrr->current = xcalloc(n, sizeof *wrr->current);
    wrr->n = n;
}

static size_t
wrr_pick(struct lb_scheduler *s, const struct lb_sched_member m[], size_t n,
         uint32_t hash OVS_UNUSED)
{
    struct wrr_scheduler *wrr = CONTAINER_OF(s, struct wrr_scheduler, up);
    long long int total = 0;
    size_t best = SIZE_MAX;

    ovs_assert(n == wrr->n);
    for (size_t i = 0; i < n; i++) {
        if (m[i].usable && m[i].weight) {
            wrr->current[i] += m[i].weight;
            total += m[i].weight;
            if (best == SIZE_MAX || wrr->current[i] > wrr->current[best]) {
                best = i;
            }
        }
    }
    if (best != SIZE_MAX) {
        wrr->current[best] -= total;
    }
    return best;
}

const struct lb_scheduler_class lb_sched_wrr_class = {
    .name = "wrr",
    .description = "weighted round robin",
    .create = wrr_create,
    .destroy = wrr_destroy,
    .reconfigure = wrr_reconfigure,
    .pick = wrr_pick,
};

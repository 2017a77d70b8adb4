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

/* Round robin: the usable members take new sessions in turn, in the order
 * they were configured, whatever their weights.  Members that cannot take
 * sessions are skipped without losing their place, so with all of them up,
 * clients 1, 2, 3, 4 go to backends 1, 2, 3, 1 (the lab's Table 1). */

#include <config.h>
#include "lib/lb-scheduler.h"

#include "util.h"

struct rr_scheduler {
    struct lb_scheduler up;
    size_t next;                /* Index of the next member to try. */
};

static struct lb_scheduler *
rr_create(void)
{
    struct rr_scheduler *rr = xzalloc(sizeof *rr);
    return &rr->up;
}

static void
rr_destroy(struct lb_scheduler *s)
{
    free(CONTAINER_OF(s, struct rr_scheduler, up));
}

static void
rr_reconfigure(struct lb_scheduler *s OVS_UNUSED,
               const struct lb_sched_member m[] OVS_UNUSED,
               size_t n OVS_UNUSED)
{
}

static size_t
rr_pick(struct lb_scheduler *s, const struct lb_sched_member m[], size_t n,
        uint32_t hash OVS_UNUSED)
{
    struct rr_scheduler *rr = CONTAINER_OF(s, struct rr_scheduler, up);

    /* Wrapping by comparison rather than '%': a division per pick was a
     * few percent of a busy balancer's time. */
    size_t start = rr->next < n ? rr->next : 0;
    for (size_t i = 0; i < n; i++) {
        size_t idx = start + i < n ? start + i : start + i - n;
        if (m[idx].usable) {
            rr->next = idx + 1 < n ? idx + 1 : 0;
            return idx;
        }
    }
    return SIZE_MAX;
}

const struct lb_scheduler_class lb_sched_rr_class = {
    .name = "rr",
    .description = "round robin",
    .create = rr_create,
    .destroy = rr_destroy,
    .reconfigure = rr_reconfigure,
    .pick = rr_pick,
};

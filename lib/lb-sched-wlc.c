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

/* Weighted least connections: a new session goes to the usable member with
 * the fewest sessions for its weight (sessions / weight, compared without
 * division), the first of equals.  The sessions are the balancer's own:
 * its clients, or connections, per member. */

#include <config.h>
#include "lib/lb-scheduler.h"

#include "util.h"

struct wlc_scheduler {
    struct lb_scheduler up;
};

static struct lb_scheduler *
wlc_create(void)
{
    struct wlc_scheduler *wlc = xzalloc(sizeof *wlc);
    return &wlc->up;
}

static void
wlc_destroy(struct lb_scheduler *s)
{
    free(CONTAINER_OF(s, struct wlc_scheduler, up));
}

static void
wlc_reconfigure(struct lb_scheduler *s OVS_UNUSED,
                const struct lb_sched_member m[] OVS_UNUSED,
                size_t n OVS_UNUSED)
{
}

static size_t
wlc_pick(struct lb_scheduler *s OVS_UNUSED, const struct lb_sched_member m[],
         size_t n, uint32_t hash OVS_UNUSED)
{
    size_t best = SIZE_MAX;

    for (size_t i = 0; i < n; i++) {
        if (m[i].usable && m[i].weight
            && (best == SIZE_MAX
                || ((unsigned long long) m[i].n_sessions * m[best].weight
                    < (unsigned long long) m[best].n_sessions
                      * m[i].weight))) {
            best = i;
        }
    }
    return best;
}

const struct lb_scheduler_class lb_sched_wlc_class = {
    .name = "wlc",
    .description = "weighted least connections",
    .create = wlc_create,
    .destroy = wlc_destroy,
    .reconfigure = wlc_reconfigure,
    .pick = wlc_pick,
};

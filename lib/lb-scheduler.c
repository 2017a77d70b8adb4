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
#include "lib/lb-scheduler.h"

#include <stdint.h>
#include <string.h>

#include "util.h"

/* Round robin: the backends take new clients in turn, in the order they
 * were configured.  Backends that cannot take clients are skipped without
 * losing their place, so with all of them up, clients 1, 2, 3, 4 go to
 * backends 1, 2, 3, 1 (the lab's Table 1). */
struct rr_scheduler {
    struct lb_scheduler up;
    size_t next;                /* Index of the next backend to try. */
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

static size_t
rr_pick(struct lb_scheduler *s, const struct lb_candidate c[], size_t n,
        ovs_be32 client OVS_UNUSED)
{
    struct rr_scheduler *rr = CONTAINER_OF(s, struct rr_scheduler, up);

    for (size_t i = 0; i < n; i++) {
        size_t idx = (rr->next + i) % n;
        if (c[idx].usable) {
            rr->next = (idx + 1) % n;
            return idx;
        }
    }
    return SIZE_MAX;
}

static const struct lb_scheduler_class rr_class = {
    .name = "round-robin",
    .description = "round robin",
    .create = rr_create,
    .destroy = rr_destroy,
    .pick = rr_pick,
};

static const struct lb_scheduler_class *const classes[] = {
    &rr_class,
};

const struct lb_scheduler_class *
lb_scheduler_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(classes); i++) {
        if (!strcmp(classes[i]->name, name)) {
            return classes[i];
        }
    }
    return NULL;
}

/* Returns the scheduler names, for messages: "round-robin, ...". */
const char *
lb_scheduler_list(void)
{
    static char list[256];

    if (!list[0]) {
        for (size_t i = 0; i < ARRAY_SIZE(classes); i++) {
            if (i) {
                strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            strncat(list, classes[i]->name, sizeof list - strlen(list) - 1);
        }
    }
    return list;
}

struct lb_scheduler *
lb_scheduler_create(const struct lb_scheduler_class *class)
{
    struct lb_scheduler *s = class->create();
    s->class = class;
    return s;
}

void
lb_scheduler_destroy(struct lb_scheduler *s)
{
    if (s) {
        s->class->destroy(s);
    }
}

size_t
lb_scheduler_pick(struct lb_scheduler *s, const struct lb_candidate c[],
                  size_t n, ovs_be32 client)
{
    return s->class->pick(s, c, n, client);
}

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

#include <string.h>

#include "hash.h"
#include "util.h"

static const struct lb_scheduler_class *const classes[] = {
    &lb_sched_rr_class,
    &lb_sched_wrr_class,
    &lb_sched_wlc_class,
    &lb_sched_mh_class,
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

/* Returns the scheduler names, for messages: "rr, wrr, ...". */
const char *
lb_scheduler_list(void)
{
    static char list[64];

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

void
lb_scheduler_reconfigure(struct lb_scheduler *s,
                         const struct lb_sched_member m[], size_t n)
{
    s->class->reconfigure(s, m, n);
}

size_t
lb_scheduler_pick(struct lb_scheduler *s, const struct lb_sched_member m[],
                  size_t n, uint32_t hash)
{
    return s->class->pick(s, m, n, hash);
}

/* The hash of a new session's client, for schedulers that hash: of its IP
 * and, for per-connection affinity, its source port (0 otherwise).  The
 * same in every instance and on every switch. */
uint32_t
lb_sched_hash(ovs_be32 client_ip, uint16_t client_port)
{
    return hash_2words((OVS_FORCE uint32_t) client_ip, client_port);
}

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
#include "lib/lb-health.h"

#include <string.h>

void
lb_health_init(struct lb_health *h)
{
    memset(h, 0, sizeof *h);
    h->state = LB_HEALTH_UNKNOWN;
}

/* Forgets the misses counted so far, as when the switch reconnects: the
 * rounds start again. */
void
lb_health_restart(struct lb_health *h)
{
    h->answered = false;
    h->misses = 0;
}

void
lb_health_probe_sent(struct lb_health *h)
{
    h->answered = false;
}

/* Counts an answer.  Returns true if the backend was not up before. */
bool
lb_health_answered(struct lb_health *h)
{
    bool came_up = h->state != LB_HEALTH_UP;

    h->state = LB_HEALTH_UP;
    h->answered = true;
    h->misses = 0;
    return came_up;
}

/* Takes the backend to be up without an answer (its location comes from
 * the balancer's own flows): the next probes confirm it or take it
 * down. */
void
lb_health_assume_up(struct lb_health *h)
{
    h->state = LB_HEALTH_UP;
    h->answered = false;
    h->misses = 0;
}

/* Ends a probe round: a backend that is up and did not answer counts a
 * miss.  Returns true if that makes 'max_misses' in a row and it goes
 * down. */
bool
lb_health_round_end(struct lb_health *h, int max_misses)
{
    if (h->state == LB_HEALTH_UP && !h->answered
        && ++h->misses >= max_misses) {
        h->state = LB_HEALTH_DOWN;
        return true;
    }
    return false;
}

bool
lb_health_is_up(const struct lb_health *h)
{
    return h->state == LB_HEALTH_UP;
}

const char *
lb_health_state_name(enum lb_health_state state)
{
    return (state == LB_HEALTH_UP ? "up"
            : state == LB_HEALTH_DOWN ? "down"
            : "unknown");
}

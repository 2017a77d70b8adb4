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

#ifndef LB_HEALTH_H
#define LB_HEALTH_H 1

/* Whether a backend is alive: it answers the balancer's ARP probes.
 *
 * Each probe round starts with lb_health_probe_sent(); answers count with
 * lb_health_answered(); at the next round lb_health_round_end() counts a
 * miss if none came.  A backend is up from its first answer until it misses
 * the configured number of rounds in a row, then down until it answers
 * again.  This is kept apart from where the backend is (its MAC and port),
 * which only its answers may tell. */

#include <stdbool.h>

enum lb_health_state {
    LB_HEALTH_UNKNOWN,          /* Has never answered. */
    LB_HEALTH_UP,               /* Answers; may take clients. */
    LB_HEALTH_DOWN,             /* Stopped answering; takes none. */
};

struct lb_health {
    enum lb_health_state state;
    bool answered;              /* Since the last probe? */
    int misses;                 /* Rounds unanswered in a row. */
};

void lb_health_init(struct lb_health *);
void lb_health_restart(struct lb_health *);
void lb_health_probe_sent(struct lb_health *);
bool lb_health_answered(struct lb_health *);
void lb_health_assume_up(struct lb_health *);
bool lb_health_round_end(struct lb_health *, int max_misses);
bool lb_health_is_up(const struct lb_health *);
const char *lb_health_state_name(enum lb_health_state);

#endif /* lb-health.h */

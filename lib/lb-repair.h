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

#ifndef LB_REPAIR_H
#define LB_REPAIR_H 1

/* Keeping a switch's flows as the balancer wants them.
 *
 * Others may delete or change the balancer's flows (ovs-ofctl del-flows,
 * another controller).  Where the switch has flow monitors (Open vSwitch:
 * Nicira's for OpenFlow 1.0 to 1.2, ONF's for 1.3, OpenFlow 1.4's), the
 * balancer watches table 0 and hears at once of every flow others add,
 * change or delete; where it has none (it refuses the monitor, or does not
 * answer it: until it does, if it does late), or while its updates are
 * paused, the balancer audits: it reads its flows back every second (less
 * often from a switch slow to tell them, see lb_resync_may_audit()), as on
 * a reconnection (lb-resync).
 * Either way it restores its own flows and deletes flows with its cookie
 * that it does not want, and logs what it found.
 *
 * A flow that another controller keeps taking over (a second balancer
 * with the same VIP, say) is restored with a growing backoff rather than
 * fought over at the connection's speed; the fallback flow, which every
 * controller on a bridge may want, is left to whoever set it last. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/hmap.h"
#include "openvswitch/types.h"

struct lb_tables;
struct ofp_header;

enum lb_repair_mode {
    LB_REPAIR_OFF,              /* Not connected. */
    LB_REPAIR_WAIT,             /* Monitor asked for; no answer yet. */
    LB_REPAIR_MONITOR,          /* The switch reports changes. */
    LB_REPAIR_AUDIT,            /* Flows read back every second. */
};

struct lb_repair {
    enum lb_repair_mode mode;
    ovs_be32 monitor_xid;
    long long int deadline;     /* LB_REPAIR_WAIT: give up then. */
    long long int next_audit;   /* LB_REPAIR_AUDIT, or paused: when. */
    bool audit_due;             /* An audit is wanted now. */
    struct hmap contested;      /* "struct contested_flow"s. */
};

void lb_repair_init(struct lb_repair *);
void lb_repair_destroy(struct lb_repair *);

void lb_repair_start(struct lb_repair *, const struct lb_tables *,
                     long long int now);
void lb_repair_stop(struct lb_repair *);
void lb_repair_cancel(struct lb_repair *, const struct lb_tables *);
void lb_repair_error(struct lb_repair *, const struct lb_tables *,
                     const struct ofp_header *, long long int now);
void lb_repair_update(struct lb_repair *, const struct lb_tables *,
                      const struct ofp_header *, long long int now);
void lb_repair_paused(struct lb_repair *, const struct lb_tables *,
                      bool paused, long long int now);
bool lb_repair_run(struct lb_repair *, const struct lb_tables *,
                   long long int now);
long long int lb_repair_next_timer(const struct lb_repair *);
const char *lb_repair_mode_name(enum lb_repair_mode);

#endif /* lb-repair.h */

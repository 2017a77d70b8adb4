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
#include "lib/lb-controller.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>

#include "hash.h"
#include "lib/lb-config.h"
#include "lib/lb-switch.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_controller);

/* A switch that has connected at some time. */
struct controller_switch {
    struct hmap_node node;      /* In lb_controller's 'switches'. */
    struct lb_switch *sw;
    char *via;                  /* "OpenFlow13 on unix#3", or NULL. */
};

struct lb_controller {
    struct lb_config *cfg;      /* NULL until configured. */
    struct hmap switches;       /* "struct controller_switch"es. */
};

struct lb_controller *
lb_controller_create(void)
{
    struct lb_controller *ctl = xzalloc(sizeof *ctl);

    hmap_init(&ctl->switches);
    return ctl;
}

static void
free_config(struct lb_config *cfg)
{
    if (cfg) {
        lb_config_destroy(cfg);
        free(cfg);
    }
}

void
lb_controller_destroy(struct lb_controller *ctl)
{
    if (ctl) {
        struct controller_switch *cs;

        HMAP_FOR_EACH_POP (cs, node, &ctl->switches) {
            lb_switch_destroy(cs->sw);
            free(cs->via);
            free(cs);
        }
        hmap_destroy(&ctl->switches);
        free_config(ctl->cfg);
        free(ctl);
    }
}

/* Makes 'cfg' (which is copied) the configuration, if it is valid;
 * otherwise returns an error and changes nothing. */
char *
lb_controller_reconfigure(struct lb_controller *ctl,
                          const struct lb_config *cfg, long long int now)
{
    char *error = lb_config_check(cfg);
    if (error) {
        return error;
    }

    /* The switches compare the new configuration with the old, which must
     * live until they are done. */
    struct lb_config *old = ctl->cfg;
    ctl->cfg = xmalloc(sizeof *ctl->cfg);
    lb_config_clone(ctl->cfg, cfg);

    struct controller_switch *cs;
    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        lb_switch_reconfigure(cs->sw, ctl->cfg, now);
    }
    free_config(old);
    return NULL;
}

/* Returns the configuration, or NULL before the first one. */
const struct lb_config *
lb_controller_get_config(const struct lb_controller *ctl)
{
    return ctl->cfg;
}

static struct controller_switch *
find_switch(const struct lb_controller *ctl, uint64_t dpid)
{
    struct controller_switch *cs;

    HMAP_FOR_EACH_WITH_HASH (cs, node, hash_uint64(dpid), &ctl->switches) {
        if (lb_switch_get_dpid(cs->sw) == dpid) {
            return cs;
        }
    }
    return NULL;
}

struct lb_switch *
lb_controller_find_switch(const struct lb_controller *ctl, uint64_t dpid)
{
    struct controller_switch *cs = find_switch(ctl, dpid);
    return cs ? cs->sw : NULL;
}

/* Switch 'dpid' has connected, speaking 'protocol', 'via' a connection
 * described so for lb/show; messages to it go to 'out'.  Returns its
 * lb_switch, for the messages it sends. */
struct lb_switch *
lb_controller_connect(struct lb_controller *ctl, uint64_t dpid,
                      enum ofputil_protocol protocol,
                      const struct hmapx *ports, struct ofpbuf *out,
                      const char *via, long long int now)
{
    struct controller_switch *cs = find_switch(ctl, dpid);

    ovs_assert(ctl->cfg);
    if (!cs) {
        cs = xzalloc(sizeof *cs);
        cs->sw = lb_switch_create(ctl->cfg, dpid, now);
        hmap_insert(&ctl->switches, &cs->node, hash_uint64(dpid));
    }
    free(cs->via);
    cs->via = xstrdup(via);
    lb_switch_connected(cs->sw, protocol, ports, out, now);
    return cs->sw;
}

void
lb_controller_disconnect(struct lb_controller *ctl, uint64_t dpid,
                         long long int now)
{
    struct controller_switch *cs = find_switch(ctl, dpid);

    if (cs) {
        lb_switch_disconnected(cs->sw, now);
        free(cs->via);
        cs->via = NULL;
    }
}

void
lb_controller_run(struct lb_controller *ctl, long long int now)
{
    struct controller_switch *cs;

    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        if (now >= lb_switch_next_timer(cs->sw)) {
            lb_switch_run(cs->sw, now);
        }
    }
}

long long int
lb_controller_next_timer(const struct lb_controller *ctl)
{
    const struct controller_switch *cs;
    long long int next = LLONG_MAX;

    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        next = MIN(next, lb_switch_next_timer(cs->sw));
    }
    return next;
}

static int
compare_switches(const void *a_, const void *b_)
{
    const struct controller_switch *const *a = a_;
    const struct controller_switch *const *b = b_;
    uint64_t a_dpid = lb_switch_get_dpid((*a)->sw);
    uint64_t b_dpid = lb_switch_get_dpid((*b)->sw);

    return a_dpid < b_dpid ? -1 : a_dpid > b_dpid;
}

/* lb/show [DPID]: appends to 's' the state of every switch, or of the one
 * with 'dpid_s' (if nonnull).  Returns an error if there is no such
 * switch. */
char *
lb_controller_show(const struct lb_controller *ctl, const char *dpid_s,
                   struct ds *s)
{
    uint64_t dpid = 0;

    if (dpid_s && !dpid_from_string(dpid_s, &dpid)) {
        return xstrdup("bad datapath ID (use 16 hex digits, as in lb/show's "
                       "output)");
    }

    size_t n = hmap_count(&ctl->switches);
    const struct controller_switch **sorted = xmalloc(n * sizeof *sorted);
    const struct controller_switch *cs;
    size_t i = 0;
    HMAP_FOR_EACH (cs, node, &ctl->switches) {
        sorted[i++] = cs;
    }
    qsort(sorted, n, sizeof *sorted, compare_switches);

    bool found = false;
    for (i = 0; i < n; i++) {
        cs = sorted[i];
        if (dpid_s && lb_switch_get_dpid(cs->sw) != dpid) {
            continue;
        }
        found = true;
        ds_put_format(s, "switch %016"PRIx64, lb_switch_get_dpid(cs->sw));
        if (cs->via) {
            ds_put_format(s, " (%s): connected\n", cs->via);
        } else {
            ds_put_cstr(s, ": disconnected\n");
        }
        lb_switch_format(cs->sw, s);
    }
    free(sorted);
    return dpid_s && !found ? xstrdup("no such switch") : NULL;
}

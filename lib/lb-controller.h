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

#ifndef LB_CONTROLLER_H
#define LB_CONTROLLER_H 1

/* The balancer above the switches: the configuration, and an lb_switch for
 * every switch (by datapath ID) that has connected.  A switch's state
 * outlives its connection, so that a switch that reconnects keeps its
 * clients.
 *
 * lb_controller_reconfigure() is the one entry point for a new
 * configuration, at start-up and later: each switch changes only what the
 * change concerns.
 *
 * Like the lb_switches, it does no I/O and takes the time as an argument:
 * the daemon, and tests, drive it. */

#include <stdbool.h>
#include <stdint.h>
#include "compiler.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/types.h"

struct ds;
struct lb_config;
struct lb_ports;
struct lb_switch;
struct ofpbuf;
struct simap;

struct lb_controller *lb_controller_create(void);
void lb_controller_destroy(struct lb_controller *);

char *lb_controller_reconfigure(struct lb_controller *,
                                const struct lb_config *, long long int now)
    OVS_WARN_UNUSED_RESULT;
const struct lb_config *lb_controller_get_config(
    const struct lb_controller *);

struct lb_switch *lb_controller_connect(struct lb_controller *,
                                        uint64_t dpid,
                                        enum ofputil_protocol,
                                        const struct lb_ports *ports,
                                        struct ofpbuf *out, const char *via,
                                        long long int now);
void lb_controller_disconnect(struct lb_controller *, uint64_t dpid,
                              long long int now);
void lb_controller_release(struct lb_controller *, uint64_t dpid,
                           long long int now);
struct lb_switch *lb_controller_find_switch(const struct lb_controller *,
                                            uint64_t dpid);

void lb_controller_run(struct lb_controller *, long long int now);
long long int lb_controller_next_timer(const struct lb_controller *);

/* A member of a service on all switches together. */
struct lb_member_status {
    bool found;                 /* Is it a member on some switch? */
    size_t n_clients;           /* Sessions on all switches. */
    size_t n_undrained;         /* Switches where it is still used: has
                                 * sessions (reactive) or traffic
                                 * (stateful). */
    size_t n_up, n_down;        /* Switches where its backend is up/down. */
    uint64_t packets, bytes;    /* Its flows' counters (see lb-stats). */
    uint64_t n_new;             /* Sessions made. */
    double new_rate;            /* Sessions made a second, lately. */

    /* Its health check, on the first switch that has it connected. */
    bool checked;
    const char *check_state;    /* "init", "up" or "down". */
    char check_result[64];
    long long int check_changed;    /* LLONG_MIN if never. */
};
void lb_controller_member_status(const struct lb_controller *,
                                 const char *service, ovs_be32 ip,
                                 uint16_t port, struct lb_member_status *);

void lb_controller_stats(const struct lb_controller *, struct ds *);
void lb_controller_get_memory_usage(const struct lb_controller *,
                                    struct simap *);

char *lb_controller_show(const struct lb_controller *, int argc,
                         const char *argv[], struct ds *)
    OVS_WARN_UNUSED_RESULT;

#endif /* lb-controller.h */

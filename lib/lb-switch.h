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

#ifndef LB_SWITCH_H
#define LB_SWITCH_H 1

/* The balancer on one switch: what it does with what the switch sends.
 *
 * An lb_switch has its services and backends (lb-service), its clients and
 * sessions (lb-sessions) and the flows it wants (lb-flows).  It answers
 * ARP for the VIPs and for clients, probes the backends, binds new clients
 * to backends and installs their flows, and turns packet-ins, flow-removed
 * messages and the passing of time into OpenFlow messages, appended to the
 * buffer given when the switch connected.  It does no I/O and reads no
 * clock: the caller passes the time, in milliseconds, to every call.
 *
 * Messages given to lb_switch_packet_in() must be packet-ins that OVS's
 * ofptype_decode() accepted (the caller has looked at their type); the other
 * functions that take messages check them.
 *
 * 'ports' given to lb_switch_connected() is the set of the switch's port
 * numbers (each cast to a pointer), which the caller keeps up to date while
 * the switch is connected; packets from other ports are refused. */

#include <stdbool.h>
#include <stdint.h>
#include "lib/lb-repair.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/types.h"

struct lb_ports;
struct lb_config;
struct ofp_header;
struct ofpbuf;

struct lb_switch *lb_switch_create(const struct lb_config *, uint64_t dpid,
                                   long long int now);
void lb_switch_destroy(struct lb_switch *);
void lb_switch_reconfigure(struct lb_switch *, const struct lb_config *,
                           long long int now);

void lb_switch_connected(struct lb_switch *, enum ofputil_protocol,
                         const struct lb_ports *ports, struct ofpbuf *out,
                         long long int now);
void lb_switch_disconnected(struct lb_switch *, long long int now);
void lb_switch_release(struct lb_switch *, long long int now);
bool lb_switch_is_connected(const struct lb_switch *);

void lb_switch_prefetch(struct lb_switch *, const void *msg, size_t len);
void lb_switch_prefetch_entries(struct lb_switch *);
void lb_switch_packet_in(struct lb_switch *, const struct ofp_header *,
                         long long int now);
void lb_switch_flow_removed(struct lb_switch *, const struct ofp_header *,
                            long long int now);
void lb_switch_flow_stats_reply(struct lb_switch *, const struct ofp_header *,
                                long long int now);
void lb_switch_error(struct lb_switch *, const struct ofp_header *,
                     long long int now);
void lb_switch_flow_monitor(struct lb_switch *, const struct ofp_header *,
                            long long int now);
void lb_switch_flow_monitor_paused(struct lb_switch *, bool paused,
                                   long long int now);
void lb_switch_run(struct lb_switch *, long long int now);
long long int lb_switch_next_timer(const struct lb_switch *);

uint64_t lb_switch_get_dpid(const struct lb_switch *);
size_t lb_switch_count_clients(const struct lb_switch *);
const struct lb_services *lb_switch_get_services(const struct lb_switch *);
const struct lb_sessions *lb_switch_get_sessions(const struct lb_switch *);
enum lb_repair_mode lb_switch_get_repair_mode(const struct lb_switch *);
const struct lb_stateful *lb_switch_get_stateful(const struct lb_switch *);

#endif /* lb-switch.h */

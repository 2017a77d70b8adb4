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

#ifndef LB_CHECK_H
#define LB_CHECK_H 1

/* Health checks of the service itself, sent through the switch.
 *
 * For each member of a service that has a check (lb_check_config), the
 * balancer composes the check's packets itself and sends them with
 * packet-outs to the backend's port, from the LB MAC and the check source
 * (the VIP by default) and a source port in a reserved range; the answers
 * come back through a flow that sends that range to the controller, and
 * are never client traffic:
 *
 *   - tcp: a SYN; a SYN-ACK passes (and is answered with RST), a RST,
 *     an ICMP unreachable or silence fails;
 *   - http: a small TCP client: the handshake, "GET PATH HTTP/1.1", the
 *     answer read in at most LB_CHECK_HTTP_MAX bytes even in several
 *     segments or out of order; a status in the range passes (and, with
 *     'expect', only if the answer holds it); then RST;
 *   - udp: a datagram; an ICMP unreachable fails, silence passes, or with
 *     'expect' a reply is needed.
 *
 * 'rise' passes in a row bring a member up, 'fall' failures take it down;
 * a member is up until its checks first say otherwise.  Checks are spread
 * over the interval by the member's address.  The caller is told of each
 * change of state, and of the weight a member coming back with slow start
 * has reached.  No I/O: packets go into an lb_ofp, time is an argument. */

#include <stdbool.h>
#include <stdint.h>
#include "heap.h"
#include "openvswitch/hmap.h"
#include "openvswitch/types.h"

struct lb_icmp_quote;
struct lb_member;
struct lb_ofp;
struct lb_packet;

#define LB_CHECK_PORT_MIN 61440     /* Checks' source ports: 61440 to */
#define LB_CHECK_PORT_MASK 0xf000   /* 65535, that is 0xf000/0xf000. */
#define LB_CHECK_HTTP_MAX 4096      /* Bytes of an HTTP answer read. */

enum lb_check_state {
    LB_CHECK_INIT,              /* No result yet: up. */
    LB_CHECK_UP,
    LB_CHECK_DOWN,
};

/* A member's checks on one switch. */
struct lb_check {
    struct heap_node node;      /* In lb_checker's 'timers' if 'active'. */
    bool active;
    enum lb_check_state state;
    int n_ok, n_failed;         /* Results in a row. */
    char result[64];            /* The last one, e.g. "http 503". */
    long long int changed;      /* When 'state' changed, LLONG_MIN never. */
    long long int up_since;     /* When it came back up, for slow start. */
    unsigned int ramp;          /* Slow start: permille of its weight. */
    long long int next;         /* When the next check goes. */
    struct lb_check_probe *probe;   /* The check in flight, if any. */
};

/* The checks on one switch. */
struct lb_checker {
    struct heap timers;         /* "struct lb_check"s by their next event. */
    struct hmap probes;         /* "struct lb_check_probe"s, by port. */
    uint16_t next_port;         /* Offset of the next source port. */
    uint64_t n_sent;            /* Checks sent, for the record. */
};

/* Told of a member whose state changed (or whose slow-start weight
 * moved). */
typedef void lb_check_changed_cb(struct lb_member *, bool state_changed,
                                 void *aux);

void lb_checker_init(struct lb_checker *);
void lb_checker_destroy(struct lb_checker *);
void lb_checker_abort(struct lb_checker *);

void lb_check_init(struct lb_check *);
void lb_check_start(struct lb_checker *, struct lb_member *);
void lb_check_stop(struct lb_checker *, struct lb_member *);

void lb_checker_run(struct lb_checker *, const struct lb_ofp *,
                    struct eth_addr lb_mac, long long int now,
                    lb_check_changed_cb *, void *aux);
long long int lb_checker_next_timer(const struct lb_checker *);
bool lb_checker_packet(struct lb_checker *, const struct lb_ofp *,
                       struct eth_addr lb_mac, const struct lb_packet *,
                       const void *packet, long long int now,
                       lb_check_changed_cb *, void *aux);
bool lb_checker_icmp(struct lb_checker *, const struct lb_packet *,
                     const struct lb_icmp_quote *, long long int now,
                     lb_check_changed_cb *, void *aux);

bool lb_check_is_up(const struct lb_check *);
const char *lb_check_state_name(enum lb_check_state);

#endif /* lb-check.h */

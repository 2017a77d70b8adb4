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

#ifndef SWCONN_H
#define SWCONN_H 1

/* One OpenFlow connection to a switch.
 *
 * A swconn owns the connection (passive, accepted from a listener, or
 * active, reconnecting with backoff), negotiates the OpenFlow version,
 * does the switch handshake (features, switch config, port list), sends
 * echo requests when the switch is silent and answers its own, and logs
 * errors from the switch.  Everything else it hands to its handler.
 *
 * Its I/O is batched: it reads in large chunks and frames the messages
 * itself, and what swconn_send() queues goes out in one write at the next
 * swconn_flush(). */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/list.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/types.h"

struct hmapx;
struct ofpbuf;
struct ofp_header;
struct stream;
struct swconn;

struct swconn_handler {
    /* The handshake is complete: the datapath ID, version and ports are
     * known and messages may be sent. */
    void (*ready)(struct swconn *, void *aux);

    /* A message that swconn does not handle itself arrived. */
    void (*message)(struct swconn *, enum ofptype, const struct ofp_header *,
                    void *aux);

    /* A connection that had been ready went away.  For an active
     * connection swconn goes on trying to reconnect. */
    void (*disconnected)(struct swconn *, void *aux);

    /* Optional: a look at packet-in 'msg' ('len' bytes, at any alignment)
     * before the messages of a read are handled, so that the handler can
     * start loading what it will need for them. */
    void (*prefetch)(struct swconn *, const void *msg, size_t len,
                     void *aux);

    /* Optional: after 'prefetch' has seen all of a read's packet-ins. */
    void (*prefetch_done)(struct swconn *, void *aux);

    /* The switch added, removed or changed a port. */
    void (*port_changed)(struct swconn *, ofp_port_t, bool present,
                         void *aux);
};

struct swconn *swconn_create_passive(struct stream *, int fd,
                                     int probe_interval,
                                     const struct swconn_handler *,
                                     void *aux);
struct swconn *swconn_create_active(const char *target, int probe_interval,
                                    int max_backoff,
                                    const struct swconn_handler *,
                                    void *aux);
void swconn_destroy(struct swconn *);

bool swconn_run(struct swconn *, long long int now);
void swconn_wait(struct swconn *);
void swconn_find_ready(void);
void swconn_wait_ready(void);
bool swconn_is_alive(const struct swconn *);
bool swconn_is_ready(const struct swconn *);
long long int swconn_read_time(const struct swconn *);

int swconn_send(struct swconn *, struct ofpbuf *);
void swconn_flush(struct swconn *);

const char *swconn_get_name(const struct swconn *);
uint64_t swconn_get_dpid(const struct swconn *);
enum ofp_version swconn_get_version(const struct swconn *);
enum ofputil_protocol swconn_get_protocol(const struct swconn *);
const struct lb_ports *swconn_get_ports(const struct swconn *);
struct ofpbuf *swconn_get_tx(struct swconn *);

void swconn_set_aux(struct swconn *, void *aux);
void *swconn_get_aux(const struct swconn *);

#endif /* swconn.h */

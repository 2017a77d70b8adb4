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

#ifndef LB_TEMPLATE_H
#define LB_TEMPLATE_H 1

/* Message templates.
 *
 * The balancer sends the same few messages for every new client (two flow
 * mods and packet-outs) with only ports, MACs and IPs changing.  Encoding
 * each with OVS's encoders costs several thousand instructions, most of it
 * the same every time.  A template is such a message encoded once by OVS,
 * with the places where each varying field landed, found by encoding it
 * again with each field changed and comparing: using it is a copy and a
 * few stores.
 *
 * A template checks itself when it is made: patching it to a second set of
 * values must give what OVS encodes for them, byte for byte.  If that fails,
 * or if a field does not land where a field of its size fits, the template
 * is unusable and every use encodes the message in full.  Values that OVS
 * encodes differently (an output to the input port, say) must go through
 * lb_tmpl_encode() rather than lb_tmpl_put(). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/ofpbuf.h"
#include "openvswitch/types.h"

enum lb_tmpl_kind {
    LB_TMPL_PORT,               /* An OpenFlow port number. */
    LB_TMPL_MAC,                /* An Ethernet address. */
    LB_TMPL_IP,                 /* An IPv4 address. */
    LB_TMPL_L4PORT,             /* A TCP or UDP port. */
};

union lb_tmpl_value {
    ofp_port_t port;
    struct eth_addr mac;
    ovs_be32 ip;
    ovs_be16 l4port;
};

#define LB_TMPL_MAX_FIELDS 8
#define LB_TMPL_MAX_PLACES 6    /* Where one field may appear. */
#define LB_TMPL_MAX_MSGS 3      /* Messages in a template. */

/* Appends to 'out' the message (or the messages) for 'values', encoded by
 * OVS. */
typedef void lb_tmpl_encode_func(const union lb_tmpl_value values[],
                                 const void *aux, struct ofpbuf *out);

/* A place where a field's value goes, in the message: a store. */
struct lb_tmpl_place {
    uint16_t ofs;               /* Offset in the message. */
    uint8_t field;              /* Index of the value. */
    uint8_t kind;               /* enum lb_tmpl_kind. */
};

struct lb_tmpl {
    bool usable;
    struct ofpbuf msg;          /* Encoded for the base values. */

    /* The messages in 'msg' (some templates are several messages sent
     * together): where each starts. */
    uint16_t msg_ofs[LB_TMPL_MAX_MSGS];
    size_t n_msgs;

    size_t n_fields;
    enum lb_tmpl_kind kinds[LB_TMPL_MAX_FIELDS];

    /* All the places of all the fields, grouped by kind (in the order of
     * enum lb_tmpl_kind), 'n_kind[K]' of kind K: using the template is a
     * copy and these stores, each group a loop without a branch per
     * store. */
    struct lb_tmpl_place places[LB_TMPL_MAX_FIELDS * LB_TMPL_MAX_PLACES];
    size_t n_places;
    uint8_t n_kind[4];

    lb_tmpl_encode_func *encode;
    const void *aux;
};

void lb_tmpl_init(struct lb_tmpl *, const enum lb_tmpl_kind kinds[],
                  size_t n_fields, lb_tmpl_encode_func *, const void *aux);
void lb_tmpl_destroy(struct lb_tmpl *);

void *lb_tmpl_put(const struct lb_tmpl *, const union lb_tmpl_value[],
                  struct ofpbuf *out);
void *lb_tmpl_encode(const struct lb_tmpl *, const union lb_tmpl_value[],
                     struct ofpbuf *out);

#endif /* lb-template.h */

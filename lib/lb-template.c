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
#include "lib/lb-template.h"

#include <string.h>

#include "flow.h"
#include "lib/lb-ofp.h"
#include "openflow/openflow.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_template);

/* Every message a template makes gets its own xid. */
static uint32_t next_xid = 0x4c420000;      /* "LB" */

/* Encoders give every message a new xid; templates compare messages
 * without them.  Returns the number of messages in 'msg', with their
 * offsets in 'ofs', or 0 if there are more than LB_TMPL_MAX_MSGS or they
 * do not fill 'msg' exactly. */
static size_t
clear_xids(struct ofpbuf *msg, uint16_t ofs[LB_TMPL_MAX_MSGS])
{
    uint8_t *p = msg->data;
    size_t n = 0;

    for (size_t at = 0; at < msg->size; n++) {
        size_t len = (msg->size - at >= sizeof(struct ofp_header)
                      ? p[at + 2] << 8 | p[at + 3] : 0);
        if (n >= LB_TMPL_MAX_MSGS || len < sizeof(struct ofp_header)
            || len > msg->size - at) {
            return 0;
        }
        ofs[n] = at;
        memset(p + at + offsetof(struct ofp_header, xid), 0,
               sizeof(ovs_be32));
        at += len;
    }
    return n;
}

static size_t
kind_width(enum lb_tmpl_kind kind)
{
    return (kind == LB_TMPL_MAC ? ETH_ADDR_LEN
            : kind == LB_TMPL_IP ? sizeof(ovs_be32)
            : sizeof(ovs_be16));    /* Ports. */
}

/* Values for field 'i' whose every byte differs between 'base' and
 * 'other', that differ from those of all other fields, and that encoders
 * take (ports below OFPP_MAX). */
static void
probe_values(enum lb_tmpl_kind kind, size_t i, union lb_tmpl_value *base,
             union lb_tmpl_value *other)
{
    memset(base, 0, sizeof *base);
    memset(other, 0, sizeof *other);
    if (kind == LB_TMPL_MAC) {
        for (int k = 0; k < ETH_ADDR_LEN; k++) {
            base->mac.ea[k] = 0x12 + 0x11 * k + i;
            other->mac.ea[k] = ~base->mac.ea[k];
        }
        base->mac.ea[0] = 0x02;     /* Unicast, locally administered. */
        other->mac.ea[0] = 0x06;
    } else if (kind == LB_TMPL_IP) {
        base->ip = htonl(0x0a203040 + 0x01010101 * i);
        other->ip = ~base->ip;
    } else if (kind == LB_TMPL_L4PORT) {
        base->l4port = htons(0x3142 + 0x0101 * i);
        other->l4port = ~base->l4port;
    } else {
        base->port = u16_to_ofp(0x1020 + 0x0101 * i);
        other->port = u16_to_ofp(0xefdf - 0x0101 * i);
    }
}

/* Inline: lb_tmpl_put() calls it for every message sent from a template. */
static inline void
patch(const struct lb_tmpl *t, const union lb_tmpl_value values[],
      uint8_t *msg)
{
    const struct lb_tmpl_place *p = t->places, *end;

    /* A port's place is its last two bytes; see find_places(). */
    for (end = p + t->n_kind[LB_TMPL_PORT]; p < end; p++) {
        ovs_be16 port = htons(ofp_to_u16(values[p->field].port));
        memcpy(msg + p->ofs, &port, sizeof port);
    }
    for (end = p + t->n_kind[LB_TMPL_MAC]; p < end; p++) {
        memcpy(msg + p->ofs, &values[p->field].mac, ETH_ADDR_LEN);
    }
    for (end = p + t->n_kind[LB_TMPL_IP]; p < end; p++) {
        memcpy(msg + p->ofs, &values[p->field].ip, sizeof(ovs_be32));
    }
    for (end = p + t->n_kind[LB_TMPL_L4PORT]; p < end; p++) {
        memcpy(msg + p->ofs, &values[p->field].l4port, sizeof(ovs_be16));
    }
}

static int
compare_places(const void *a_, const void *b_)
{
    const struct lb_tmpl_place *a = a_, *b = b_;
    return (a->kind != b->kind ? (a->kind > b->kind) - (a->kind < b->kind)
            : (a->ofs > b->ofs) - (a->ofs < b->ofs));
}

/* Groups the places by kind, for patch(). */
static void
group_places(struct lb_tmpl *t)
{
    qsort(t->places, t->n_places, sizeof *t->places, compare_places);
    memset(t->n_kind, 0, sizeof t->n_kind);
    for (size_t k = 0; k < t->n_places; k++) {
        t->n_kind[t->places[k].kind]++;
    }
}

/* Records where the bytes of 'a' and 'b' (of the same size) differ as the
 * places of field 'i'.  Returns false if they are not runs of the field's
 * bytes. */
static bool
find_places(struct lb_tmpl *t, size_t i, const struct ofpbuf *a,
            const struct ofpbuf *b)
{
    const uint8_t *pa = a->data, *pb = b->data;
    size_t width = kind_width(t->kinds[i]);
    size_t n = 0;

    for (size_t ofs = 0; ofs < a->size; ) {
        if (pa[ofs] == pb[ofs]) {
            ofs++;
            continue;
        }
        size_t len = 0;
        while (ofs + len < a->size && pa[ofs + len] != pb[ofs + len]) {
            len++;
        }
        /* A run is the value's last bytes: all of them, or for a port the
         * 16 bits of a 32-bit field whose upper half stays 0. */
        if (len != width || n++ >= LB_TMPL_MAX_PLACES) {
            return false;
        }
        t->places[t->n_places++] = (struct lb_tmpl_place) {
            .ofs = ofs, .field = i, .kind = t->kinds[i],
        };
        ofs += len;
    }
    return true;
}

/* Makes 't' a template of the message 'encode' (with 'aux') appends for
 * 'n_fields' values of the given kinds. */
void
lb_tmpl_init(struct lb_tmpl *t, const enum lb_tmpl_kind kinds[],
             size_t n_fields, lb_tmpl_encode_func *encode, const void *aux)
{
    union lb_tmpl_value base[LB_TMPL_MAX_FIELDS];
    union lb_tmpl_value other[LB_TMPL_MAX_FIELDS];
    struct ofpbuf probe;

    ovs_assert(n_fields <= LB_TMPL_MAX_FIELDS);
    memset(t, 0, sizeof *t);
    t->n_fields = n_fields;
    memcpy(t->kinds, kinds, n_fields * sizeof *kinds);
    t->encode = encode;
    t->aux = aux;
    for (size_t i = 0; i < n_fields; i++) {
        probe_values(kinds[i], i, &base[i], &other[i]);
    }

    uint16_t probe_ofs[LB_TMPL_MAX_MSGS];
    const char *failure = NULL;

    ofpbuf_init(&t->msg, 0);
    encode(base, aux, &t->msg);
    t->n_msgs = clear_xids(&t->msg, t->msg_ofs);
    if (!t->n_msgs) {
        failure = "it is not one to three whole messages";
    }
    ofpbuf_init(&probe, t->msg.size);

    for (size_t i = 0; i < n_fields && !failure; i++) {
        union lb_tmpl_value values[LB_TMPL_MAX_FIELDS];

        memcpy(values, base, sizeof values);
        values[i] = other[i];
        ofpbuf_clear(&probe);
        encode(values, aux, &probe);
        clear_xids(&probe, probe_ofs);
        if (probe.size != t->msg.size) {
            failure = "a field changes the message's length";
        } else if (!find_places(t, i, &t->msg, &probe)) {
            failure = "a field is not where a field of its size fits";
        }
    }

    /* The self-check: all fields at once, patched versus encoded. */
    if (!failure) {
        group_places(t);
        ofpbuf_clear(&probe);
        encode(other, aux, &probe);
        clear_xids(&probe, probe_ofs);
        uint8_t *patched = xmemdup(t->msg.data, t->msg.size);
        patch(t, other, patched);
        if (probe.size != t->msg.size
            || memcmp(patched, probe.data, probe.size)) {
            failure = "patching gives another message than encoding";
        }
        free(patched);
    }
    t->usable = !failure;
    if (failure) {
        VLOG_WARN("a message template is unusable (%s); encoding that "
                  "message in full every time", failure);
    }
    ofpbuf_uninit(&probe);
}

void
lb_tmpl_destroy(struct lb_tmpl *t)
{
    if (t) {
        ofpbuf_uninit(&t->msg);
        t->usable = false;
    }
}

static void
set_xids(const struct lb_tmpl *t, uint8_t *msg)
{
    for (size_t i = 0; i < t->n_msgs; i++) {
        ovs_be32 xid = htonl(next_xid++);
        memcpy(msg + t->msg_ofs[i] + offsetof(struct ofp_header, xid), &xid,
               sizeof xid);
    }
}

/* Appends to 'out' the template's message (or messages) for 'values' and
 * returns where it starts, so that the caller may append to it (or to the
 * last of them) and fix its length. */
void *
lb_tmpl_put(const struct lb_tmpl *t, const union lb_tmpl_value values[],
            struct ofpbuf *out)
{
    if (!t->usable) {
        return lb_tmpl_encode(t, values, out);
    }
    size_t ofs = out->size;
    uint8_t *msg = lb_ofp_put(out, t->msg.data, t->msg.size);
    patch(t, values, msg);
    set_xids(t, msg);
    return (uint8_t *) out->data + ofs;
}

/* Appends to 'out' the message for 'values', encoded in full by OVS, and
 * returns where it starts. */
void *
lb_tmpl_encode(const struct lb_tmpl *t, const union lb_tmpl_value values[],
               struct ofpbuf *out)
{
    size_t ofs = out->size;
    t->encode(values, t->aux, out);
    return (uint8_t *) out->data + ofs;
}

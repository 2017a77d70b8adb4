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
#include "controller/swconn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "flow.h"
#include "hash.h"
#include "hmapx.h"
#include "openflow/openflow.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/rconn.h"
#include "openvswitch/vconn.h"
#include "ofp-version-opt.h"
#include "openvswitch/vlog.h"
#include "socket-util.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(swconn);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Most messages one swconn_run() handles, so that one busy switch cannot
 * starve the others. */
#define SWCONN_MAX_RECV 50

/* Most messages queued toward one switch; past this, sends fail. */
#define SWCONN_MAX_TXQ 8192

enum swconn_state {
    SWCONN_CONNECTING,          /* Waiting for the transport and hello. */
    SWCONN_FEATURES,            /* Waiting for the features reply. */
    SWCONN_PORTS,               /* Waiting for the port description. */
    SWCONN_READY,               /* Handshake done. */
};

struct swconn {
    struct rconn *rconn;
    unsigned int seqno;         /* rconn's connection seqno we last saw. */
    enum swconn_state state;
    uint64_t dpid;
    enum ofp_version version;
    enum ofputil_protocol protocol;
    struct hmapx ports;         /* Port numbers, cast to pointers. */
    struct rconn_packet_counter *txq;

    const struct swconn_handler *handler;
    void *aux;
};

static void swconn_start_handshake(struct swconn *);
static void swconn_process(struct swconn *, const struct ofpbuf *);

static struct swconn *
swconn_create__(struct rconn *rconn, const struct swconn_handler *handler,
                void *aux)
{
    struct swconn *sw = xzalloc(sizeof *sw);
    sw->rconn = rconn;
    sw->seqno = rconn_get_connection_seqno(rconn);
    sw->state = SWCONN_CONNECTING;
    hmapx_init(&sw->ports);
    sw->txq = rconn_packet_counter_create();
    sw->handler = handler;
    sw->aux = aux;
    return sw;
}

/* Creates a swconn for 'vconn', a connection accepted from a listener.  It
 * dies when the connection does. */
struct swconn *
swconn_create_passive(struct vconn *vconn, int probe_interval,
                      const struct swconn_handler *handler, void *aux)
{
    struct rconn *rconn = rconn_create(probe_interval, 0, DSCP_DEFAULT,
                                       vconn_get_allowed_versions(vconn));
    rconn_connect_unreliably(rconn, vconn, NULL);
    return swconn_create__(rconn, handler, aux);
}

/* Creates a swconn that connects to 'target' and reconnects, with backoff
 * up to 'max_backoff' seconds, whenever the connection fails. */
struct swconn *
swconn_create_active(const char *target, int probe_interval, int max_backoff,
                     const struct swconn_handler *handler, void *aux)
{
    struct rconn *rconn = rconn_create(probe_interval, max_backoff,
                                       DSCP_DEFAULT,
                                       get_allowed_ofp_versions());
    rconn_connect(rconn, target, NULL);
    return swconn_create__(rconn, handler, aux);
}

void
swconn_destroy(struct swconn *sw)
{
    if (sw) {
        rconn_destroy(sw->rconn);
        hmapx_destroy(&sw->ports);
        rconn_packet_counter_destroy(sw->txq);
        free(sw);
    }
}

static void
swconn_lost(struct swconn *sw)
{
    if (sw->state == SWCONN_READY) {
        VLOG_INFO("%s: switch %016"PRIx64" disconnected (%s)",
                  swconn_get_name(sw), sw->dpid,
                  ovs_retval_to_string(rconn_get_last_error(sw->rconn)));
        sw->handler->disconnected(sw, sw->aux);
    }
    sw->state = SWCONN_CONNECTING;
    hmapx_clear(&sw->ports);
}

void
swconn_run(struct swconn *sw)
{
    rconn_run(sw->rconn);

    /* The connection seqno changes whenever the rconn connects or
     * disconnects. */
    unsigned int seqno = rconn_get_connection_seqno(sw->rconn);
    if (seqno != sw->seqno) {
        sw->seqno = seqno;
        swconn_lost(sw);
    }
    if (sw->state == SWCONN_CONNECTING) {
        if (!rconn_is_connected(sw->rconn)) {
            return;
        }
        swconn_start_handshake(sw);
    }

    for (int i = 0; i < SWCONN_MAX_RECV; i++) {
        struct ofpbuf *msg = rconn_recv(sw->rconn);
        if (!msg) {
            break;
        }
        swconn_process(sw, msg);
        ofpbuf_delete(msg);
    }
}

void
swconn_wait(struct swconn *sw)
{
    rconn_run_wait(sw->rconn);
    rconn_recv_wait(sw->rconn);
}

/* Returns false once a passive connection has died. */
bool
swconn_is_alive(const struct swconn *sw)
{
    return rconn_is_alive(sw->rconn);
}

bool
swconn_is_ready(const struct swconn *sw)
{
    return sw->state == SWCONN_READY;
}

/* Queues 'msg' toward the switch and takes ownership of it.  Returns 0 or
 * a positive errno value if it could not be queued. */
int
swconn_send(struct swconn *sw, struct ofpbuf *msg)
{
    int error = rconn_send_with_limit(sw->rconn, msg, sw->txq,
                                      SWCONN_MAX_TXQ);
    if (error && error != ENOTCONN) {
        VLOG_WARN_RL(&rl, "%s: send failed (%s)", swconn_get_name(sw),
                     error == EAGAIN ? "transmit queue full"
                     : ovs_strerror(error));
    }
    return error;
}

const char *
swconn_get_name(const struct swconn *sw)
{
    return rconn_get_name(sw->rconn);
}

uint64_t
swconn_get_dpid(const struct swconn *sw)
{
    return sw->dpid;
}

enum ofp_version
swconn_get_version(const struct swconn *sw)
{
    return sw->version;
}

enum ofputil_protocol
swconn_get_protocol(const struct swconn *sw)
{
    return sw->protocol;
}

/* Returns the switch's ports, as port numbers cast to pointers.  The set
 * changes as the switch reports ports coming and going. */
const struct hmapx *
swconn_get_ports(const struct swconn *sw)
{
    return &sw->ports;
}

/* Returns the number of messages queued toward the switch. */
unsigned int
swconn_get_txqlen(const struct swconn *sw)
{
    return rconn_packet_counter_n_packets(sw->txq);
}

void
swconn_set_aux(struct swconn *sw, void *aux)
{
    sw->aux = aux;
}

void *
swconn_get_aux(const struct swconn *sw)
{
    return sw->aux;
}

static void
swconn_add_port(struct swconn *sw, ofp_port_t port_no)
{
    if (ofp_to_u16(port_no) < ofp_to_u16(OFPP_MAX) || port_no == OFPP_LOCAL) {
        hmapx_add(&sw->ports, (void *) (uintptr_t) port_no);
    }
}

static void
swconn_remove_port(struct swconn *sw, ofp_port_t port_no)
{
    hmapx_find_and_delete(&sw->ports, (void *) (uintptr_t) port_no);
}

static void
swconn_start_handshake(struct swconn *sw)
{
    sw->version = rconn_get_version(sw->rconn);
    sw->protocol = ofputil_protocol_from_ofp_version(sw->version);
    sw->state = SWCONN_FEATURES;

    swconn_send(sw, ofpraw_alloc(OFPRAW_OFPT_FEATURES_REQUEST, sw->version,
                                 0));

    /* There is no packet buffering to rely on (OVS has not buffered packets
     * for controllers since 2.7), so ask for whole packets. */
    struct ofputil_switch_config config = {
        .frag = OFPUTIL_FRAG_NORMAL,
        .miss_send_len = UINT16_MAX,
    };
    swconn_send(sw, ofputil_encode_set_config(&config, sw->version));
}

static void
swconn_set_ready(struct swconn *sw)
{
    sw->state = SWCONN_READY;
    VLOG_INFO("%s: switch %016"PRIx64" connected (%s, %"PRIuSIZE" ports)",
              swconn_get_name(sw), sw->dpid,
              ofputil_version_to_string(sw->version),
              hmapx_count(&sw->ports));
    sw->handler->ready(sw, sw->aux);
}

static void
swconn_process_features_reply(struct swconn *sw, const struct ofp_header *oh)
{
    /* ofputil_switch_features_has_ports() may trim the message, so work on
     * a copy. */
    struct ofpbuf *b = ofpbuf_clone_data(oh, ntohs(oh->length));
    bool has_ports = ofputil_switch_features_has_ports(b);
    struct ofputil_switch_features features;
    enum ofperr error;

    error = ofputil_pull_switch_features(b, &features);
    if (error) {
        VLOG_WARN("%s: bad features reply (%s), disconnecting",
                  swconn_get_name(sw), ofperr_to_string(error));
        rconn_disconnect(sw->rconn);
    } else if (has_ports) {
        /* Up to OpenFlow 1.2 the ports come with the features... */
        struct ofputil_phy_port pp;

        sw->dpid = features.datapath_id;
        while (!ofputil_pull_phy_port(oh->version, b, &pp)) {
            swconn_add_port(sw, pp.port_no);
        }
        swconn_set_ready(sw);
    } else {
        /* ...later they need a port description request. */
        sw->dpid = features.datapath_id;
        sw->state = SWCONN_PORTS;
        swconn_send(sw, ofputil_encode_port_desc_stats_request(sw->version,
                                                               OFPP_ANY));
    }
    ofpbuf_delete(b);
}

static void
swconn_process_port_desc_reply(struct swconn *sw, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofputil_phy_port pp;

    ofpraw_pull_assert(&b);
    while (!ofputil_pull_phy_port(oh->version, &b, &pp)) {
        swconn_add_port(sw, pp.port_no);
    }
    if (sw->state == SWCONN_PORTS && !ofpmp_more(oh)) {
        swconn_set_ready(sw);
    }
}

static void
swconn_process_port_status(struct swconn *sw, const struct ofp_header *oh)
{
    struct ofputil_port_status ps;
    enum ofperr error = ofputil_decode_port_status(oh, &ps);
    if (error) {
        VLOG_WARN_RL(&rl, "%s: bad port status (%s)", swconn_get_name(sw),
                     ofperr_to_string(error));
        return;
    }

    bool present = ps.reason != OFPPR_DELETE;
    if (present) {
        swconn_add_port(sw, ps.desc.port_no);
    } else {
        swconn_remove_port(sw, ps.desc.port_no);
    }
    if (sw->state == SWCONN_READY && sw->handler->port_changed) {
        sw->handler->port_changed(sw, ps.desc.port_no, present, sw->aux);
    }
}

static void
swconn_log_error(struct swconn *sw, const struct ofp_header *oh)
{
    /* The error carries the start of the request it refers to, which
     * ofp_to_string() prints along with the error. */
    char *s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 2);
    VLOG_WARN_RL(&rl, "%s: switch %016"PRIx64" reported an error: %s",
                 swconn_get_name(sw), sw->dpid, s);
    free(s);
}

static void
swconn_process(struct swconn *sw, const struct ofpbuf *msg)
{
    const struct ofp_header *oh = msg->data;
    enum ofptype type;
    enum ofperr error;

    error = ofptype_decode(&type, oh);
    if (error) {
        VLOG_WARN_RL(&rl, "%s: undecodable message ignored (%s)",
                     swconn_get_name(sw), ofperr_to_string(error));
        return;
    }
    if (VLOG_IS_DBG_ENABLED()) {
        char *s = ofp_to_string(oh, msg->size, NULL, NULL, 1);
        VLOG_DBG("%s: received: %s", swconn_get_name(sw), s);
        free(s);
    }

    /* An if-chain rather than a switch: -Wswitch-enum would otherwise
     * want every one of OVS's message types listed. */
    if (type == OFPTYPE_ECHO_REQUEST) {
        swconn_send(sw, ofputil_encode_echo_reply(oh));
    } else if (type == OFPTYPE_ECHO_REPLY || type == OFPTYPE_HELLO) {
        /* rconn counts any message as a sign of life. */
    } else if (type == OFPTYPE_ERROR) {
        swconn_log_error(sw, oh);
    } else if (type == OFPTYPE_FEATURES_REPLY) {
        if (sw->state == SWCONN_FEATURES) {
            swconn_process_features_reply(sw, oh);
        }
    } else if (type == OFPTYPE_PORT_DESC_STATS_REPLY) {
        swconn_process_port_desc_reply(sw, oh);
    } else if (type == OFPTYPE_PORT_STATUS) {
        swconn_process_port_status(sw, oh);
    } else if (sw->state == SWCONN_READY) {
        /* Until the handshake is done the handler has no switch to speak
         * of. */
        sw->handler->message(sw, type, oh, sw->aux);
    }
}

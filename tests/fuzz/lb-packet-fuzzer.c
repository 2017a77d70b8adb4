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

/* libFuzzer target for the balancer's packet handling.
 *
 * Each input is a little script run against a fresh balancer for the lab's
 * service (VIP 10.0.0.254) and two L4 services on 10.0.0.253 (tcp/80 to
 * 10.0.0.8-9:8080, per-connection udp/53), on a switch connected over
 * OpenFlow 1.0 or 1.3 with ports 1 to 8, so
 * that sequences (a server answering, then a client asking, then its
 * packets) can be explored, not only single frames.  The input is a series
 * of records:
 *
 *   0x00 PORT LEN_HI LEN_LO FRAME...   a packet-in of FRAME from PORT
 *   0x01 MS_HI MS_LO                   time passes; timers run
 *   0x02 LEN_HI LEN_LO MSG...          a raw flow-removed message body
 *   0x04 LEN_HI LEN_LO MSG...          a raw message: an OpenFlow header
 *                                      (version and length set as the
 *                                      daemon would see them) and body
 *   anything else                      switches the OpenFlow version
 *
 * A raw message that OVS calls a packet-in must decode alike with the
 * balancer's packet-in decoder and OVS's, or the target aborts.
 *
 * Whatever the balancer answers accumulates in one buffer, as in a
 * connection's transmit buffer, so that its messages start at any offset;
 * each must frame and decode with OVS's decoders, and every flow it adds
 * must carry the balancer's cookie, or the target aborts. */

#include <config.h>

#include <string.h>

#include "byte-order.h"
#include "lib/lb-ports.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-protocol.h"
#include "lib/lb-config.h"
#include "lib/lb-controller.h"
#include "lib/lb-ofp.h"
#include "lib/lb-switch.h"
#include "openflow/openflow.h"
#include "openflow/openflow-1.2.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lb_config config;
static struct lb_ports ports;
static struct lb_controller *controller;

static void
init(void)
{
    static bool inited;

    if (!inited) {
        inited = true;
        vlog_set_verbosity("off");
        lb_config_init(&config);
        char *error = lb_config_add_lab_service(&config, "10.0.0.254",
                                                "10.0.0.5,10.0.0.6,10.0.0.7");
        ovs_assert(!error);
        error = lb_config_add_service(
            &config, "web 10.0.0.253:80 10.0.0.8:8080=3,10.0.0.9:8080 "
            "scheduler=wrr");
        ovs_assert(!error);
        error = lb_config_add_service(
            &config, "dns 10.0.0.253:53 10.0.0.8,10.0.0.9 udp "
            "scheduler=mh affinity=connection");
        ovs_assert(!error);
        config.max_clients = 64;
        config.overflow = LB_OVERFLOW_EVICT;
        for (int port = 1; port <= 8; port++) {
            lb_ports_add(&ports, u16_to_ofp(port));
        }
    }
}

static struct ofpbuf *
packet_in(enum ofp_version version, uint8_t port, const uint8_t *frame,
          size_t len)
{
    struct ofpbuf *msg;

    if (version == OFP10_VERSION) {
        msg = ofpraw_alloc_xid(OFPRAW_OFPT10_PACKET_IN, version, 0, len);
        struct ofp10_packet_in *pi
            = ofpbuf_put_zeros(msg, offsetof(struct ofp10_packet_in, data));
        pi->buffer_id = OVS_BE32_MAX;
        pi->total_len = htons(len);
        pi->in_port = htons(port);
    } else {
        msg = ofpraw_alloc_xid(OFPRAW_OFPT13_PACKET_IN, version, 0, len);
        struct ofp12_packet_in *pi = ofpbuf_put_zeros(msg, sizeof *pi);
        pi->buffer_id = OVS_BE32_MAX;
        pi->total_len = htons(len);
        ofpbuf_put_zeros(msg, sizeof(ovs_be64));            /* Cookie. */
        /* OXM match with only in_port, padded to 8 bytes, then 2 bytes. */
        uint8_t oxm[16] = { 0, 1, 0, 12, 0x80, 0, 0, 4, 0, 0, 0, port };
        ofpbuf_put(msg, oxm, sizeof oxm);
        ofpbuf_put_zeros(msg, 2);
    }
    ofpbuf_put(msg, frame, len);
    ofpmsg_update_length(msg);
    return msg;
}

static struct ofpbuf *
flow_removed(enum ofp_version version, const uint8_t *body, size_t len)
{
    enum ofpraw raw = (version == OFP10_VERSION
                       ? OFPRAW_OFPT10_FLOW_REMOVED
                       : OFPRAW_OFPT11_FLOW_REMOVED);
    struct ofpbuf *msg = ofpraw_alloc_xid(raw, version, 0, len);
    ofpbuf_put(msg, body, len);
    ofpmsg_update_length(msg);
    return msg;
}

/* Aborts unless OVS decodes 'oh', a message the balancer sent over
 * 'version', and a flow it adds carries the balancer's cookie. */
static void
check_message(const struct ofp_header *oh, enum ofp_version version)
{
    enum ofputil_protocol protocol
        = ofputil_protocol_from_ofp_version(version);
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;
    enum ofptype type;

    ovs_assert(oh->version == version);
    ovs_assert(!ofptype_decode(&type, oh));
    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    if (type == OFPTYPE_FLOW_MOD) {
        struct ofputil_flow_mod fm;

        ovs_assert(!ofputil_decode_flow_mod(&fm, oh, protocol, NULL, NULL,
                                            &ofpacts, OFPP_MAX, 255));
        ovs_assert(fm.command != OFPFC_ADD
                   || fm.new_cookie == htonll(config.cookie));
        minimatch_destroy(&fm.match);
    } else if (type == OFPTYPE_PACKET_OUT) {
        struct ofputil_packet_out po;

        ovs_assert(!ofputil_decode_packet_out(&po, oh, NULL, &ofpacts));
    }
    ofpbuf_uninit(&ofpacts);
}

/* Checks the messages in 'out' from offset '*checked' on, and moves
 * '*checked' past them.  Empties 'out' now and then, as sending would. */
static void
check_output(struct ofpbuf *out, size_t *checked, enum ofp_version version)
{
    struct ofpbuf rx = ofpbuf_const_initializer(
        (const uint8_t *) out->data + *checked, out->size - *checked);
    struct ofpbuf aligned;
    const struct ofp_header *oh;
    int error;

    ofpbuf_init(&aligned, 0);
    while ((oh = lb_ofp_frame(&rx, &aligned, &error))) {
        check_message(oh, version);
    }
    ovs_assert(!error && !rx.size);
    ofpbuf_uninit(&aligned);

    *checked = out->size;
    if (out->size > 65536) {
        ofpbuf_clear(out);
        *checked = 0;
    }
}

/* Aborts unless the balancer's packet-in decoder and OVS's agree on
 * 'oh'. */
static void
check_packet_in_decoders(const struct ofp_header *oh)
{
    struct ofputil_packet_in opi;
    struct lb_packet_in lpi;
    size_t total_len;
    enum ofperr error = ofputil_decode_packet_in(oh, true, NULL, NULL, &opi,
                                                 &total_len, NULL, NULL);

    ovs_assert(error == lb_ofp_decode_packet_in(oh, &lpi));
    ovs_assert(error
               || (lpi.in_port == opi.flow_metadata.flow.in_port.ofp_port
                   && lpi.packet == opi.packet
                   && lpi.packet_len == opi.packet_len
                   && lpi.total_len == total_len
                   && lpi.cookie == opi.cookie));
}

/* A raw message from the switch, of 'len' bytes at 'data' (at least a
 * header's worth), as the daemon hands it on after framing it. */
static void
raw_message(struct lb_switch *sw, enum ofp_version version,
            const uint8_t *data, size_t len, long long int now)
{
    struct ofpbuf *msg = ofpbuf_clone_data(data, len);
    struct ofp_header *oh = msg->data;
    enum ofptype type;

    oh->version = version;
    oh->length = htons(len);
    if (!ofptype_decode(&type, oh) && type == OFPTYPE_PACKET_IN) {
        check_packet_in_decoders(oh);
        lb_switch_packet_in(sw, oh, now);
    }
    ofpbuf_delete(msg);
}

/* Connects switch 1 over 'version'; the flow read-back finds nothing. */
static struct lb_switch *
connect_switch(enum ofp_version version, long long int now,
               struct ofpbuf *out)
{
    struct lb_switch *sw = lb_controller_connect(
        controller, 1, ofputil_protocol_from_ofp_version(version), &ports,
        out, "fuzz", now);

    enum ofpraw raw = (version == OFP10_VERSION
                       ? OFPRAW_OFPST10_FLOW_REPLY
                       : OFPRAW_OFPST13_FLOW_REPLY);
    struct ofpbuf *reply = ofpraw_alloc_xid(raw, version, 0, 0);
    lb_switch_flow_stats_reply(sw, reply->data, now);
    ofpbuf_delete(reply);
    return sw;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum ofp_version version = OFP10_VERSION;
    struct ofpbuf out;
    long long int now = 1000000;

    init();
    ofpbuf_init(&out, 0);
    controller = lb_controller_create();
    char *error = lb_controller_reconfigure(controller, &config, now);
    ovs_assert(!error);
    size_t checked = 0;
    struct lb_switch *sw = connect_switch(version, now, &out);
    check_output(&out, &checked, version);

    while (size > 0) {
        uint8_t type = data[0];
        data++, size--;

        if (type == 0 && size >= 3) {
            uint8_t port = data[0];
            size_t len = MIN((size_t) (data[1] << 8 | data[2]), size - 3);
            struct ofpbuf *msg = packet_in(version, port, data + 3, len);
            enum ofptype type;

            /* As the daemon does, give the balancer only packet-ins. */
            if (!ofptype_decode(&type, msg->data)
                && type == OFPTYPE_PACKET_IN) {
                lb_switch_packet_in(sw, msg->data, now);
            }
            ofpbuf_delete(msg);
            data += 3 + len, size -= 3 + len;
        } else if (type == 1 && size >= 2) {
            now += data[0] << 8 | data[1];
            lb_controller_run(controller, now);
            data += 2, size -= 2;
        } else if (type == 2 && size >= 2) {
            size_t len = MIN((size_t) (data[0] << 8 | data[1]), size - 2);
            struct ofpbuf *msg = flow_removed(version, data + 2, len);
            lb_switch_flow_removed(sw, msg->data, now);
            ofpbuf_delete(msg);
            data += 2 + len, size -= 2 + len;
        } else if (type == 4 && size >= 2) {
            size_t len = MIN((size_t) (data[0] << 8 | data[1]), size - 2);
            if (len >= sizeof(struct ofp_header)) {
                raw_message(sw, version, data + 2, len, now);
            }
            data += 2 + len, size -= 2 + len;
        } else if (type > 2) {
            version = version == OFP10_VERSION ? OFP13_VERSION
                                               : OFP10_VERSION;
            lb_controller_disconnect(controller, 1, now);
            sw = connect_switch(version, now, &out);
        } else {
            break;
        }
        check_output(&out, &checked, version);
    }

    struct ds s = DS_EMPTY_INITIALIZER;
    const char *args[] = { "--clients" };
    free(lb_controller_show(controller, 1, args, &s));
    ds_destroy(&s);
    lb_controller_destroy(controller);
    ofpbuf_uninit(&out);
    return 0;
}

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
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "controller/batch-conn.h"
#include "flow.h"
#include "lib/lb-ports.h"
#include "lib/lb-ofp.h"
#include "ofp-version-opt.h"
#include "openflow/openflow.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "openvswitch/poll-loop.h"
#include "reconnect.h"
#include "socket-util.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(swconn);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Batched I/O (see batch-conn.h): a swconn reads up to SWCONN_READ_SIZE
 * bytes at a time and sends everything queued in one write when
 * swconn_flush() is called, at the end of each main loop iteration. */
#define SWCONN_READ_SIZE (64 * 1024)
#define SWCONN_MAX_READS 4          /* Per swconn_run(), for fairness. */

/* The buffers every swconn reads into and answers from, made with the
 * first swconn and kept for the life of the process (see batch-conn.h). */
static struct batch_conn_shared shared_buffers;

/* The sockets of the connections whose sockets are known (see
 * swconn_create_passive()), in an epoll set, so that the main loop reads
 * only those that have something.  Trying a read on every connection on
 * every turn of the loop, and polling them all, is a system call or more
 * per switch per turn: with 64 switches that cost more than the load did.
 * -1 until the first such connection. */
static int ready_set = -1;
static size_t n_in_ready_set;

/* Past this much queued output the switch is not reading: stop reading
 * its messages until it catches up, rather than drop replies. */
#define SWCONN_TX_HIGH (16 * 1024 * 1024)

enum swconn_state {
    SWCONN_CONNECTING,          /* Waiting for the transport. */
    SWCONN_HELLO,               /* Waiting for the switch's hello. */
    SWCONN_FEATURES,            /* Waiting for the features reply. */
    SWCONN_PORTS,               /* Waiting for the port description. */
    SWCONN_READY,               /* Handshake done. */
};

struct swconn {
    char *name;
    char *target;               /* For active connections, NULL otherwise. */
    struct batch_conn bc;       /* Its stream is NULL while disconnected. */
    struct reconnect *reconnect;
    uint32_t allowed_versions;

    enum swconn_state state;
    uint64_t dpid;
    enum ofp_version version;
    enum ofputil_protocol protocol;
    struct lb_ports ports;

    int last_error;
    long long int read_time;    /* time_msec() of the last read. */

    /* With a known socket: 'fd' (-1 otherwise), whether it is in
     * 'ready_set' for reading, whether the set said it has something
     * since the last read, and when reconnect_run() is next due. */
    int fd;
    bool polled_in;
    bool readable;
    long long int next_run;

    const struct swconn_handler *handler;
    void *aux;
};

static void swconn_connected(struct swconn *);
static void swconn_process(struct swconn *, const struct ofp_header *);

static struct swconn *
swconn_create__(const char *name, int probe_interval,
                const struct swconn_handler *handler, void *aux)
{
    struct swconn *sw = xzalloc(sizeof *sw);

    sw->name = xstrdup(name);
    sw->reconnect = reconnect_create(time_msec());
    reconnect_set_name(sw->reconnect, name);
    reconnect_set_probe_interval(sw->reconnect, probe_interval * 1000);
    sw->allowed_versions = get_allowed_ofp_versions();
    sw->state = SWCONN_CONNECTING;
    lb_ports_clear(&sw->ports);
    /* Its own buffers only keep what is left between bursts. */
    batch_conn_init(&sw->bc, 0);
    if (!shared_buffers.rx.allocated) {
        batch_conn_shared_init(&shared_buffers, 2 * SWCONN_READ_SIZE);
    }
    sw->handler = handler;
    sw->aux = aux;
    sw->fd = -1;
    return sw;
}

/* Puts 'sw''s socket in 'ready_set', for reading if 'in' (a connection with
 * too much to send reads nothing until it has sent some), or takes it
 * out. */
static void
ready_set_update(struct swconn *sw, bool in)
{
    if (in == sw->polled_in) {
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = sw };
    int op = in ? EPOLL_CTL_ADD : EPOLL_CTL_DEL;
    if (epoll_ctl(ready_set, op, sw->fd, &ev)) {
        VLOG_WARN("%s: epoll_ctl failed (%s)", sw->name, ovs_strerror(errno));
        if (in) {
            /* Not fatal: the connection is then read on every turn. */
            sw->fd = -1;
            return;
        }
        /* Taking it out failed: it is not in the set. */
    }
    sw->polled_in = in;
    n_in_ready_set += in ? 1 : -1;
}

static void
ready_set_forget(struct swconn *sw)
{
    if (sw->fd >= 0) {
        ready_set_update(sw, false);
        sw->fd = -1;
    }
}

/* Creates a swconn for 'stream', a connection accepted from a listener,
 * whose socket is 'fd' if that is known (see listener_accept()), or -1.  It
 * dies when the connection does. */
struct swconn *
swconn_create_passive(struct stream *stream, int fd, int probe_interval,
                      const struct swconn_handler *handler, void *aux)
{
    struct swconn *sw = swconn_create__(stream_get_name(stream),
                                        probe_interval, handler, aux);
    reconnect_set_quiet(sw->reconnect, true);
    reconnect_set_max_tries(sw->reconnect, 0);
    reconnect_connected(sw->reconnect, time_msec());
    batch_conn_open(&sw->bc, stream);
    swconn_connected(sw);

    if (fd >= 0 && ready_set < 0) {
        ready_set = epoll_create1(EPOLL_CLOEXEC);
        if (ready_set < 0) {
            VLOG_WARN("epoll_create1 failed (%s), reading every switch "
                      "connection on every turn", ovs_strerror(errno));
        }
    }
    if (fd >= 0 && ready_set >= 0) {
        sw->fd = fd;
        sw->readable = true;
        ready_set_update(sw, true);
    }
    return sw;
}

/* Creates a swconn that connects to 'target' and reconnects, with backoff
 * up to 'max_backoff' seconds, whenever the connection fails. */
struct swconn *
swconn_create_active(const char *target, int probe_interval, int max_backoff,
                     const struct swconn_handler *handler, void *aux)
{
    struct swconn *sw = swconn_create__(target, probe_interval, handler,
                                        aux);
    sw->target = xstrdup(target);
    reconnect_set_backoff(sw->reconnect, 1000, max_backoff * 1000);
    reconnect_enable(sw->reconnect, time_msec());
    return sw;
}

void
swconn_destroy(struct swconn *sw)
{
    if (sw) {
        ready_set_forget(sw);
        batch_conn_destroy(&sw->bc);
        reconnect_destroy(sw->reconnect);
        free(sw->target);
        free(sw->name);
        free(sw);
    }
}

/* Closes the connection after 'error' (positive errno, EOF, or 0). */
static void
swconn_disconnect(struct swconn *sw, int error)
{
    if (!sw->bc.stream) {
        return;
    }
    if (sw->state == SWCONN_READY) {
        VLOG_INFO("%s: switch %016"PRIx64" disconnected (%s)", sw->name,
                  sw->dpid, ovs_retval_to_string(error));
        sw->handler->disconnected(sw, sw->aux);
    }
    reconnect_disconnected(sw->reconnect, time_msec(), error);
    ready_set_forget(sw);
    batch_conn_close(&sw->bc);
    sw->last_error = error;
    sw->state = SWCONN_CONNECTING;
    lb_ports_clear(&sw->ports);
}

/* Queues 'msg' toward the switch, to go out with the next flush, and takes
 * ownership of it.  Returns 0, or ENOTCONN if there is no connection. */
int
swconn_send(struct swconn *sw, struct ofpbuf *msg)
{
    int error = 0;

    if (sw->bc.stream && sw->state != SWCONN_CONNECTING) {
        ofpmsg_update_length(msg);
        lb_ofp_put(&sw->bc.tx, msg->data, msg->size);
    } else {
        error = ENOTCONN;
    }
    ofpbuf_delete(msg);
    return error;
}

/* Sends what is queued, in as few writes as the socket takes. */
void
swconn_flush(struct swconn *sw)
{
    int error = batch_conn_flush(&sw->bc);
    if (error) {
        VLOG_WARN_RL(&rl, "%s: send failed (%s)", sw->name,
                     ovs_strerror(error));
        swconn_disconnect(sw, error);
    }
}

static void
swconn_connected(struct swconn *sw)
{
    sw->state = SWCONN_HELLO;
    ofpbuf_clear(&sw->bc.rx);
    ofpbuf_clear(&sw->bc.tx);

    /* The hello goes first, in the version of the highest one allowed, with
     * a bitmap of them all. */
    struct ofpbuf *hello = ofputil_encode_hello(sw->allowed_versions);
    lb_ofp_put(&sw->bc.tx, hello->data, hello->size);
    ofpbuf_delete(hello);
}

/* Shows the handler the packet-ins among the whole messages received, ahead
 * of handling them. */
static void
swconn_prefetch(struct swconn *sw)
{
    if (sw->state != SWCONN_READY || !sw->handler->prefetch) {
        return;
    }
    const uint8_t *p = sw->bc.rx.data;
    size_t left = sw->bc.rx.size;
    while (left >= sizeof(struct ofp_header)) {
        size_t len = p[2] << 8 | p[3];
        if (len < sizeof(struct ofp_header) || len > left) {
            break;
        }
        if (p[1] == LB_OFPT_PACKET_IN) {
            sw->handler->prefetch(sw, p, len, sw->aux);
        }
        p += len;
        left -= len;
    }
    if (sw->handler->prefetch_done) {
        sw->handler->prefetch_done(sw, sw->aux);
    }
}

/* Reads what the switch sent and handles every whole message.  Returns false
 * if the connection failed. */
static bool
swconn_receive__(struct swconn *sw, bool *got)
{
    for (int i = 0; i < SWCONN_MAX_READS && sw->bc.tx.size < SWCONN_TX_HIGH;
         i++) {
        int error;
        int retval = batch_conn_read(&sw->bc, SWCONN_READ_SIZE, &error);
        if (!retval) {
            break;
        } else if (retval < 0) {
            swconn_disconnect(sw, error);
            return false;
        }
        *got = true;
        sw->read_time = time_msec();
        reconnect_activity(sw->reconnect, sw->read_time);
        swconn_prefetch(sw);

        const struct ofp_header *oh;
        while ((oh = batch_conn_next(&sw->bc, &error))) {
            swconn_process(sw, oh);
            if (!sw->bc.stream) {
                return false;
            }
        }
        if (error) {
            VLOG_WARN("%s: message with impossible length, disconnecting",
                      sw->name);
            swconn_disconnect(sw, error);
            return false;
        }
        batch_conn_compact(&sw->bc);

        /* Answer what this read brought before reading more, so that a
         * burst does not keep the first answers waiting for the last. */
        swconn_flush(sw);
        if (!sw->bc.stream) {
            return false;
        }
        if (retval < SWCONN_READ_SIZE) {
            break;
        }
    }
    return true;
}

static bool
swconn_receive(struct swconn *sw, bool *got)
{
    batch_conn_borrow(&sw->bc, &shared_buffers);
    bool ok = swconn_receive__(sw, got);
    batch_conn_give_back(&sw->bc, &shared_buffers);
    return ok;
}

/* Does what 'sw' has to do: connecting, reading and handling messages,
 * sending, probing.  'now' is time_msec() at the start of this turn of the
 * main loop (one clock reading for all switches).  Returns true if it read
 * something. */
bool
swconn_run(struct swconn *sw, long long int now)
{
    bool got = false;

    /* A connection whose socket is in 'ready_set' is left alone until the
     * set says it has something, it has something to send, or its
     * reconnect timer is due. */
    if (sw->fd >= 0 && !sw->readable && !sw->bc.tx.size
        && now < sw->next_run) {
        return false;
    }
    sw->readable = false;

    if (sw->bc.stream && sw->state == SWCONN_CONNECTING) {
        /* An active connection on its way. */
        stream_run(sw->bc.stream);
        int error = stream_connect(sw->bc.stream);
        if (!error) {
            reconnect_connected(sw->reconnect, time_msec());
            swconn_connected(sw);
        } else if (error != EAGAIN) {
            reconnect_connect_failed(sw->reconnect, time_msec(), error);
            batch_conn_close(&sw->bc);
            sw->last_error = error;
        }
    }

    if (sw->bc.stream && sw->state != SWCONN_CONNECTING) {
        stream_run(sw->bc.stream);
        swconn_flush(sw);
        if (sw->bc.stream && swconn_receive(sw, &got)) {
            swconn_flush(sw);
        }
    }

    switch (reconnect_run(sw->reconnect, time_msec())) {
    case RECONNECT_CONNECT:
        if (sw->target) {
            struct stream *stream;
            int error = stream_open_with_default_port(sw->target, OFP_PORT,
                                                      &stream, DSCP_DEFAULT);
            if (!error) {
                batch_conn_open(&sw->bc, stream);
                reconnect_connecting(sw->reconnect, time_msec());
            } else {
                reconnect_connect_failed(sw->reconnect, time_msec(), error);
            }
        }
        break;

    case RECONNECT_DISCONNECT:
        if (sw->state != SWCONN_CONNECTING) {
            VLOG_WARN("%s: no answer to echo request, disconnecting",
                      sw->name);
        }
        swconn_disconnect(sw, ETIMEDOUT);
        break;

    case RECONNECT_PROBE:
        if (sw->bc.stream && sw->state != SWCONN_CONNECTING
            && sw->state != SWCONN_HELLO) {
            swconn_send(sw, ofputil_encode_echo_request(sw->version));
            swconn_flush(sw);
        }
        break;
    }

    if (sw->fd >= 0) {
        /* The reconnect deadline, whatever the clock now says. */
        int timeout = reconnect_timeout(sw->reconnect, now);
        sw->next_run = timeout >= 0 ? now + timeout : LLONG_MAX;
    }
    return got;
}

void
swconn_wait(struct swconn *sw)
{
    bool recv = sw->bc.tx.size < SWCONN_TX_HIGH;

    if (sw->bc.stream && sw->state == SWCONN_CONNECTING) {
        stream_run_wait(sw->bc.stream);
        stream_connect_wait(sw->bc.stream);
    } else if (sw->fd >= 0) {
        /* 'ready_set' waits for it to have something to read, and its
         * reconnect timer is known. */
        ready_set_update(sw, recv);
        batch_conn_wait(&sw->bc, false);
        poll_timer_wait_until(sw->next_run);
        return;
    } else {
        batch_conn_wait(&sw->bc, recv);
    }
    reconnect_wait(sw->reconnect, time_msec());
}

/* Marks the connections in the epoll set that have something to read, for
 * the next swconn_run() of each.  To be called before those, on every turn
 * of the main loop. */
void
swconn_find_ready(void)
{
    static struct epoll_event *events;
    static size_t allocated;

    if (!n_in_ready_set) {
        return;
    }
    /* Room for all of them: the set is level-triggered, so what one call
     * left out the next would find again, ahead of the rest. */
    if (allocated < n_in_ready_set) {
        free(events);
        allocated = 2 * n_in_ready_set;
        events = xmalloc(allocated * sizeof *events);
    }
    int n = epoll_wait(ready_set, events, allocated, 0);
    if (n < 0 && errno != EINTR) {
        VLOG_WARN_RL(&rl, "epoll_wait failed (%s)", ovs_strerror(errno));
    }
    for (int i = 0; i < n; i++) {
        struct swconn *sw = events[i].data.ptr;
        sw->readable = true;
    }
}

/* Wakes the next poll_block() when a connection in the epoll set has
 * something to read. */
void
swconn_wait_ready(void)
{
    if (n_in_ready_set) {
        poll_fd_wait(ready_set, POLLIN);
    }
}

/* Returns the time_msec() at which the messages being handled were read:
 * the handler's "now", without reading the clock for each one. */
long long int
swconn_read_time(const struct swconn *sw)
{
    return sw->read_time;
}

/* Returns false once a passive connection has died. */
bool
swconn_is_alive(const struct swconn *sw)
{
    return sw->bc.stream || reconnect_get_max_tries(sw->reconnect);
}

bool
swconn_is_ready(const struct swconn *sw)
{
    return sw->state == SWCONN_READY;
}

const char *
swconn_get_name(const struct swconn *sw)
{
    return sw->name;
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

/* Returns the switch's ports.  The set changes as the switch reports ports
 * coming and going. */
const struct lb_ports *
swconn_get_ports(const struct swconn *sw)
{
    return &sw->ports;
}

/* Returns the buffer of messages queued toward the switch, for a caller
 * that composes messages in place (each with its length set), or NULL if
 * the connection cannot take messages now. */
struct ofpbuf *
swconn_get_tx(struct swconn *sw)
{
    return sw->bc.stream && sw->state > SWCONN_HELLO ? &sw->bc.tx : NULL;
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
        lb_ports_add(&sw->ports, port_no);
    }
}

static void
swconn_remove_port(struct swconn *sw, ofp_port_t port_no)
{
    lb_ports_remove(&sw->ports, port_no);
}

/* The switch's hello: agree on the highest version both allow, as vconn
 * does, or say why not and give up. */
static void
swconn_process_hello(struct swconn *sw, const struct ofp_header *oh)
{
    uint32_t peer_versions;

    if (!ofputil_decode_hello(oh, &peer_versions)) {
        VLOG_WARN_RL(&rl, "%s: ignoring unparsable parts of the hello",
                     sw->name);
    }
    uint32_t common = sw->allowed_versions & peer_versions;
    if (!common) {
        struct ds versions = DS_EMPTY_INITIALIZER;
        ofputil_format_version_bitmap_names(&versions,
                                            sw->allowed_versions);
        VLOG_WARN("%s: version negotiation failed (we support %s, the "
                  "switch supports %s)", sw->name, ds_cstr(&versions),
                  ofputil_version_to_string(oh->version));
        ds_destroy(&versions);
        struct ofpbuf *error = ofperr_encode_hello(
            OFPERR_OFPHFC_INCOMPATIBLE, leftmost_1bit_idx(peer_versions),
            "no common OpenFlow version");
        lb_ofp_put(&sw->bc.tx, error->data, error->size);
        ofpbuf_delete(error);
        swconn_flush(sw);
        swconn_disconnect(sw, EPROTO);
        return;
    }

    sw->version = leftmost_1bit_idx(common);
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
              sw->name, sw->dpid, ofputil_version_to_string(sw->version),
              sw->ports.n);
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
        VLOG_WARN("%s: bad features reply (%s), disconnecting", sw->name,
                  ofperr_to_string(error));
        swconn_disconnect(sw, EPROTO);
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
        VLOG_WARN_RL(&rl, "%s: bad port status (%s)", sw->name,
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
                 sw->name, sw->dpid, s);
    free(s);
}

static void
swconn_process(struct swconn *sw, const struct ofp_header *oh)
{
    enum ofptype type;
    enum ofperr error;

    /* As OVS's VLOG() tests the level: inline, for every message read. */
    if (this_module.min_level >= VLL_DBG) {
        char *s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);
        VLOG_DBG("%s: received: %s", sw->name, s);
        free(s);
    }

    if (sw->state == SWCONN_HELLO) {
        if (oh->type == 0) {    /* OFPT_HELLO, in every version. */
            swconn_process_hello(sw, oh);
        } else {
            VLOG_WARN_RL(&rl, "%s: message before hello ignored", sw->name);
        }
        return;
    }
    if (oh->version != sw->version) {
        VLOG_WARN_RL(&rl, "%s: ignored message with version 0x%02x, not the "
                     "negotiated 0x%02x", sw->name, oh->version, sw->version);
        return;
    }

    /* Packet-ins are nearly all that a busy switch sends, and their type
     * code is the same in every version: they skip OVS's decoder, which
     * would cost a new client a tenth of its instructions.  The handler
     * checks them as it decodes them. */
    if (oh->type == LB_OFPT_PACKET_IN && sw->state == SWCONN_READY) {
        sw->handler->message(sw, OFPTYPE_PACKET_IN, oh, sw->aux);
        return;
    }

    error = ofptype_decode(&type, oh);
    if (error) {
        VLOG_WARN_RL(&rl, "%s: undecodable message ignored (%s)", sw->name,
                     ofperr_to_string(error));
        return;
    }

    /* An if-chain rather than a switch: -Wswitch-enum would otherwise
     * want every one of OVS's message types listed. */
    if (type == OFPTYPE_ECHO_REQUEST) {
        swconn_send(sw, ofputil_encode_echo_reply(oh));
    } else if (type == OFPTYPE_ECHO_REPLY || type == OFPTYPE_HELLO) {
        /* Any message counts as a sign of life. */
    } else if (type == OFPTYPE_ERROR) {
        swconn_log_error(sw, oh);
        if (sw->state == SWCONN_READY) {
            /* The handler may be waiting on the request it refers to. */
            sw->handler->message(sw, type, oh, sw->aux);
        }
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

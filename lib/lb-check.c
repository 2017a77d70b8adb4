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
#include "lib/lb-check.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "hash.h"
#include "lib/lb-ofp.h"
#include "lib/lb-packet.h"
#include "lib/lb-service.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "random.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(lb_check);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 60);

enum probe_phase {
    PROBE_SYN_SENT,             /* tcp, http: waiting for the SYN-ACK. */
    PROBE_REQUEST_SENT,         /* http: reading the answer. */
    PROBE_UDP_SENT,             /* udp: waiting for a reply or an error. */
};

/* A check in flight. */
struct lb_check_probe {
    struct hmap_node node;      /* In lb_checker's 'probes', by 'port'. */
    uint16_t port;              /* Its source port. */
    struct lb_member *member;
    enum probe_phase phase;
    long long int deadline;

    /* Where it goes. */
    struct eth_addr mac;
    ofp_port_t ofport;
    ovs_be32 src, dst;
    uint16_t dst_port;

    /* TCP. */
    uint32_t isn;               /* Our first sequence number. */
    uint32_t snd_nxt;
    uint32_t irs;               /* Theirs. */

    /* HTTP: the answer, by offset, and which bytes have come. */
    uint8_t *buf;               /* LB_CHECK_HTTP_MAX bytes. */
    uint8_t *have;              /* A bit per byte. */
    size_t n_contiguous;        /* Bytes from the start that have come. */
    bool fin;                   /* Has their FIN come? */
    size_t fin_ofs;             /* Where it is. */
    int status;                 /* The status, once read. */
};

void
lb_checker_init(struct lb_checker *ck)
{
    heap_init(&ck->timers);
    hmap_init(&ck->probes);
    ck->next_port = 0;
    ck->n_sent = 0;
}

static void
free_probe(struct lb_checker *ck, struct lb_check_probe *p)
{
    if (p) {
        hmap_remove(&ck->probes, &p->node);
        p->member->check.probe = NULL;
        free(p->buf);
        free(p->have);
        free(p);
    }
}

/* Forgets the checks in flight, without a result (the switch went). */
void
lb_checker_abort(struct lb_checker *ck)
{
    struct lb_check_probe *p;

    HMAP_FOR_EACH_SAFE (p, node, &ck->probes) {
        free_probe(ck, p);
    }
}

void
lb_checker_destroy(struct lb_checker *ck)
{
    lb_checker_abort(ck);
    hmap_destroy(&ck->probes);
    heap_destroy(&ck->timers);
}

void
lb_check_init(struct lb_check *c)
{
    memset(c, 0, sizeof *c);
    c->state = LB_CHECK_INIT;
    c->changed = LLONG_MIN;
    c->ramp = 1000;
}

const char *
lb_check_state_name(enum lb_check_state state)
{
    return (state == LB_CHECK_UP ? "up"
            : state == LB_CHECK_DOWN ? "down"
            : "init");
}

bool
lb_check_is_up(const struct lb_check *c)
{
    return c->state != LB_CHECK_DOWN;
}

static uint64_t
heap_priority(long long int t)
{
    /* The heap keeps its maximum on top: the earliest time. */
    return t == LLONG_MIN ? UINT64_MAX : UINT64_MAX - (uint64_t) t;
}

static long long int
next_event(const struct lb_check *c)
{
    return c->probe ? MIN(c->next, c->probe->deadline) : c->next;
}

/* Starts checking 'm', whose service has a check: afresh, with its first
 * check placed in the interval by its address. */
void
lb_check_start(struct lb_checker *ck, struct lb_member *m)
{
    struct lb_check *c = &m->check;

    lb_check_stop(ck, m);
    lb_check_init(c);
    c->active = true;
    c->next = LLONG_MIN;        /* lb_checker_run() spreads it. */
    heap_insert(&ck->timers, &c->node, heap_priority(c->next));
}

void
lb_check_stop(struct lb_checker *ck, struct lb_member *m)
{
    struct lb_check *c = &m->check;

    free_probe(ck, c->probe);
    if (c->active) {
        heap_remove(&ck->timers, &c->node);
        c->active = false;
    }
}

static void
reschedule(struct lb_checker *ck, struct lb_check *c)
{
    heap_change(&ck->timers, &c->node, heap_priority(next_event(c)));
}

long long int
lb_checker_next_timer(const struct lb_checker *ck)
{
    if (heap_is_empty(&ck->timers)) {
        return LLONG_MAX;
    }
    const struct lb_check *c = CONTAINER_OF(heap_max(&ck->timers),
                                            struct lb_check, node);
    return next_event(c);
}

/* Results. */

/* Records a check's result for 'm' and what follows from it. */
static void OVS_PRINTF_FORMAT(7, 8)
record(struct lb_checker *ck, struct lb_member *m, bool ok,
       long long int now, lb_check_changed_cb *cb, void *aux,
       const char *format, ...)
{
    const struct lb_check_config *cfg = &m->service->cfg.check;
    struct lb_check *c = &m->check;
    enum lb_check_state old = c->state;
    va_list args;

    free_probe(ck, c->probe);
    va_start(args, format);
    vsnprintf(c->result, sizeof c->result, format, args);
    va_end(args);

    if (ok) {
        c->n_ok++;
        c->n_failed = 0;
        if (c->state == LB_CHECK_INIT
            || (c->state == LB_CHECK_DOWN && c->n_ok >= cfg->rise)) {
            c->state = LB_CHECK_UP;
        }
    } else {
        c->n_failed++;
        c->n_ok = 0;
        if (c->state != LB_CHECK_DOWN && c->n_failed >= cfg->fall) {
            c->state = LB_CHECK_DOWN;
        }
    }

    if (c->state != old) {
        c->changed = now;
        if (old == LB_CHECK_DOWN && cfg->slow_start) {
            c->up_since = now;
            c->ramp = 0;
        } else {
            c->ramp = 1000;
        }
        cb(m, true, aux);
    } else if (c->state == LB_CHECK_UP && c->ramp < 1000) {
        long long int ms = (long long int) cfg->slow_start * 1000;
        c->ramp = MIN(1000, (now - c->up_since) * 1000 / ms);
        cb(m, false, aux);
    }
    reschedule(ck, c);
}

/* Packets. */

static ovs_be32
check_source(const struct lb_member *m)
{
    const struct lb_service_config *cfg = &m->service->cfg;
    return cfg->check.source ? cfg->check.source : cfg->vip;
}

static void
send_tcp(const struct lb_ofp *ofp, const struct lb_check_probe *p,
         struct eth_addr lb_mac, uint16_t flags, uint32_t seq, uint32_t ack,
         const void *data, size_t n)
{
    struct lb_ofp_l4 a = {
        .eth_src = lb_mac, .eth_dst = p->mac,
        .ip_src = p->src, .ip_dst = p->dst,
        .src_port = p->port, .dst_port = p->dst_port,
    };
    lb_ofp_tcp(ofp, &a, flags, seq, ack, LB_CHECK_HTTP_MAX, data, n,
               OFPP_CONTROLLER, p->ofport);
}

static void
send_udp(const struct lb_ofp *ofp, const struct lb_check_probe *p,
         struct eth_addr lb_mac, const void *data, size_t n)
{
    struct lb_ofp_l4 a = {
        .eth_src = lb_mac, .eth_dst = p->mac,
        .ip_src = p->src, .ip_dst = p->dst,
        .src_port = p->port, .dst_port = p->dst_port,
    };
    lb_ofp_udp(ofp, &a, data, n, OFPP_CONTROLLER, p->ofport);
}

/* Picks a free source port, or returns false if all are in use. */
static bool
pick_port(struct lb_checker *ck, uint16_t *port)
{
    for (int i = 0; i <= (uint16_t) ~LB_CHECK_PORT_MASK; i++) {
        uint16_t candidate = LB_CHECK_PORT_MIN
                             + (ck->next_port++ & ~LB_CHECK_PORT_MASK);
        bool used = false;
        struct lb_check_probe *p;

        HMAP_FOR_EACH_WITH_HASH (p, node, hash_int(candidate, 0),
                                 &ck->probes) {
            used = used || p->port == candidate;
        }
        if (!used) {
            *port = candidate;
            return true;
        }
    }
    return false;
}

/* Sends 'm''s next check. */
static void
send_check(struct lb_checker *ck, const struct lb_ofp *ofp,
           struct eth_addr lb_mac, struct lb_member *m, long long int now)
{
    const struct lb_check_config *cfg = &m->service->cfg.check;
    const struct lb_location *loc = &m->backend->loc;
    uint16_t port;

    if (!loc->known) {
        /* ARP has not found it: it is not up whatever a check would say. */
        return;
    }
    if (!pick_port(ck, &port)) {
        VLOG_WARN_RL(&rl, "no source port free for a health check");
        return;
    }

    struct lb_check_probe *p = xzalloc(sizeof *p);
    p->port = port;
    p->member = m;
    p->deadline = now + cfg->timeout;
    p->mac = loc->mac;
    p->ofport = loc->ofport;
    p->src = check_source(m);
    p->dst = m->backend->ip;
    p->dst_port = m->port;
    hmap_insert(&ck->probes, &p->node, hash_int(port, 0));
    m->check.probe = p;
    ck->n_sent++;

    if (cfg->kind == LB_CHECK_UDP) {
        static const char payload[] = "ovs-balancer health check\n";
        p->phase = PROBE_UDP_SENT;
        send_udp(ofp, p, lb_mac, payload, sizeof payload - 1);
    } else {
        p->phase = PROBE_SYN_SENT;
        p->isn = random_uint32();
        p->snd_nxt = p->isn + 1;
        send_tcp(ofp, p, lb_mac, TCP_SYN, p->isn, 0, NULL, 0);
    }
}

/* 'm''s check in flight had no answer in time. */
static void
time_out(struct lb_checker *ck, const struct lb_ofp *ofp,
         struct eth_addr lb_mac, struct lb_member *m, long long int now,
         lb_check_changed_cb *cb, void *aux)
{
    const struct lb_check_config *cfg = &m->service->cfg.check;
    struct lb_check_probe *p = m->check.probe;

    if (p->phase == PROBE_UDP_SENT) {
        if (cfg->expect) {
            record(ck, m, false, now, cb, aux, "timeout");
        } else {
            record(ck, m, true, now, cb, aux, "no answer");
        }
        return;
    }
    if (p->phase == PROBE_REQUEST_SENT) {
        send_tcp(ofp, p, lb_mac, TCP_RST, p->snd_nxt, 0, NULL, 0);
        if (p->status) {
            record(ck, m, false, now, cb, aux, "timeout after http %d",
                   p->status);
            return;
        }
    }
    record(ck, m, false, now, cb, aux, "timeout");
}

void
lb_checker_run(struct lb_checker *ck, const struct lb_ofp *ofp,
               struct eth_addr lb_mac, long long int now,
               lb_check_changed_cb *cb, void *aux)
{
    while (!heap_is_empty(&ck->timers)) {
        struct lb_check *c = CONTAINER_OF(heap_max(&ck->timers),
                                          struct lb_check, node);
        if (next_event(c) > now) {
            break;
        }
        struct lb_member *m = CONTAINER_OF(c, struct lb_member, check);
        const struct lb_check_config *cfg = &m->service->cfg.check;

        if (c->probe && now >= c->probe->deadline) {
            time_out(ck, ofp, lb_mac, m, now, cb, aux);
        }
        if (now >= c->next) {
            if (c->next == LLONG_MIN) {
                /* Spread the members over the interval. */
                c->next = now + hash_2words(ntohl(m->backend->ip), m->port)
                                % cfg->interval;
            } else {
                if (!c->probe) {
                    send_check(ck, ofp, lb_mac, m, now);
                }
                c->next = MAX(c->next + cfg->interval, now);
            }
        }
        reschedule(ck, c);
    }
}

/* TCP and HTTP answers. */

static struct lb_check_probe *
find_probe(const struct lb_checker *ck, uint16_t port)
{
    struct lb_check_probe *p;

    HMAP_FOR_EACH_WITH_HASH (p, node, hash_int(port, 0), &ck->probes) {
        if (p->port == port) {
            return p;
        }
    }
    return NULL;
}

/* Reads the status line at the start of 'p''s answer, if it is all
 * there: returns the status, 0 if more is needed, -1 if it is not HTTP. */
static int
parse_status(const struct lb_check_probe *p)
{
    const char *line = (const char *) p->buf;
    const char *nl = memchr(line, '\n', p->n_contiguous);
    int minor, status, n = 0;

    if (!nl) {
        return 0;
    }
    char copy[64];
    size_t len = MIN(nl - line, sizeof copy - 1);
    memcpy(copy, line, len);
    copy[len] = '\0';
    if (sscanf(copy, "HTTP/1.%d %3d%n", &minor, &status, &n) != 2
        || status < 100 || status > 599
        || (copy[n] != ' ' && copy[n] != '\r' && copy[n] != '\0')) {
        return -1;
    }
    return status;
}

/* Has the answer's body (after the headers) 'expect' in it? */
static bool
body_holds(const struct lb_check_probe *p, const char *expect)
{
    const uint8_t *end = p->buf + p->n_contiguous;
    const uint8_t *body = memmem(p->buf, p->n_contiguous, "\r\n\r\n", 4);

    if (!body) {
        body = memmem(p->buf, p->n_contiguous, "\n\n", 2);
        body = body ? body + 2 : NULL;
    } else {
        body += 4;
    }
    return body && memmem(body, end - body, expect, strlen(expect));
}

/* Decides on an HTTP answer if it can: returns true if it did. */
static bool
decide_http(struct lb_checker *ck, const struct lb_ofp *ofp,
            struct eth_addr lb_mac, struct lb_check_probe *p,
            long long int now, lb_check_changed_cb *cb, void *aux)
{
    struct lb_member *m = p->member;
    const struct lb_check_config *cfg = &m->service->cfg.check;
    bool complete = p->fin && p->n_contiguous >= p->fin_ofs;
    bool full = p->n_contiguous >= LB_CHECK_HTTP_MAX;
    int status = p->status ? p->status : parse_status(p);
    bool ok;
    char result[64];

    if (status < 0) {
        ok = false;
        snprintf(result, sizeof result, "not an HTTP answer");
    } else if (!status) {
        if (!complete && !full) {
            return false;
        }
        ok = false;
        snprintf(result, sizeof result, "%s",
                 full ? "answer too long" : "no status line");
    } else {
        p->status = status;
        if (status < cfg->status_min || status > cfg->status_max) {
            ok = false;
            snprintf(result, sizeof result, "http %d", status);
        } else if (!cfg->expect || body_holds(p, cfg->expect)) {
            ok = true;
            snprintf(result, sizeof result, "http %d", status);
        } else if (!complete && !full) {
            return false;
        } else {
            ok = false;
            snprintf(result, sizeof result, "http %d without \"%.20s\"",
                     status, cfg->expect);
        }
    }
    send_tcp(ofp, p, lb_mac, TCP_RST, p->snd_nxt, 0, NULL, 0);
    record(ck, m, ok, now, cb, aux, "%s", result);
    return true;
}

/* Takes 'n' bytes of answer at offset 'ofs' (perhaps out of order). */
static void
take_data(struct lb_check_probe *p, uint32_t ofs, const uint8_t *data,
          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t at = ofs + i;
        if (at < LB_CHECK_HTTP_MAX) {
            p->buf[at] = data[i];
            p->have[at / 8] |= 1u << (at % 8);
        }
    }
    while (p->n_contiguous < LB_CHECK_HTTP_MAX
           && p->have[p->n_contiguous / 8] & (1u << (p->n_contiguous % 8))) {
        p->n_contiguous++;
    }
}

static void
tcp_answer(struct lb_checker *ck, const struct lb_ofp *ofp,
           struct eth_addr lb_mac, struct lb_check_probe *p,
           const struct lb_packet *pkt, const void *packet,
           long long int now, lb_check_changed_cb *cb, void *aux)
{
    const uint8_t *l4 = (const uint8_t *) packet + pkt->l4_ofs;
    const struct tcp_header *tcp = (const struct tcp_header *) l4;
    size_t hlen = TCP_OFFSET(tcp->tcp_ctl) * 4;
    uint32_t seq = ntohl(get_16aligned_be32(&tcp->tcp_seq));
    uint32_t ack = ntohl(get_16aligned_be32(&tcp->tcp_ack));
    uint16_t flags = pkt->tcp_flags;
    struct lb_member *m = p->member;

    if (hlen < TCP_HEADER_LEN || hlen > pkt->l4_size) {
        VLOG_WARN_RL(&rl, "ignored health check answer from "IP_FMT
                     " with a bad TCP header", IP_ARGS(p->dst));
        return;
    }
    if (flags & TCP_RST) {
        record(ck, m, false, now, cb, aux, "rst");
        return;
    }

    if (p->phase == PROBE_SYN_SENT) {
        if ((flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK)
            || ack != p->isn + 1) {
            return;
        }
        p->irs = seq;
        if (m->service->cfg.check.kind == LB_CHECK_TCP) {
            send_tcp(ofp, p, lb_mac, TCP_RST, p->isn + 1, 0, NULL, 0);
            record(ck, m, true, now, cb, aux, "syn-ack");
            return;
        }

        /* HTTP: the request, with the ACK of the handshake. */
        struct ds req = DS_EMPTY_INITIALIZER;
        ds_put_format(&req, "GET %s HTTP/1.1\r\nHost: "IP_FMT"\r\n"
                      "User-Agent: ovs-balancer\r\nConnection: close\r\n\r\n",
                      m->service->cfg.check.path, IP_ARGS(p->dst));
        send_tcp(ofp, p, lb_mac, TCP_ACK | TCP_PSH, p->snd_nxt, p->irs + 1,
                 req.string, req.length);
        p->snd_nxt += req.length;
        ds_destroy(&req);
        p->buf = xmalloc(LB_CHECK_HTTP_MAX);
        p->have = xzalloc(LB_CHECK_HTTP_MAX / 8);
        p->phase = PROBE_REQUEST_SENT;
        return;
    }

    /* PROBE_REQUEST_SENT: a part of the answer. */
    uint32_t ofs = seq - (p->irs + 1);
    size_t n = pkt->l4_size - hlen;
    if (ofs >= LB_CHECK_HTTP_MAX * 2) {
        return;                 /* Before the start, or far beyond. */
    }
    take_data(p, ofs, l4 + hlen, n);
    if (flags & TCP_FIN) {
        p->fin = true;
        p->fin_ofs = ofs + n;
    }
    if (!decide_http(ck, ofp, lb_mac, p, now, cb, aux)) {
        bool fin_in = p->fin && p->n_contiguous >= p->fin_ofs;
        send_tcp(ofp, p, lb_mac, TCP_ACK, p->snd_nxt,
                 p->irs + 1 + p->n_contiguous + fin_in, NULL, 0);
    }
}

/* Takes a TCP or UDP packet from a backend to a check source in the checks'
 * port range, and returns true; or returns false if it is not one. */
bool
lb_checker_packet(struct lb_checker *ck, const struct lb_ofp *ofp,
                  struct eth_addr lb_mac, const struct lb_packet *pkt,
                  const void *packet, long long int now,
                  lb_check_changed_cb *cb, void *aux)
{
    if (!pkt->has_ports || pkt->ip_is_fragment
        || (pkt->l4_dst & LB_CHECK_PORT_MASK) != LB_CHECK_PORT_MASK
        || (pkt->ip_proto != IPPROTO_TCP && pkt->ip_proto != IPPROTO_UDP)) {
        return false;
    }
    struct lb_check_probe *p = find_probe(ck, pkt->l4_dst);
    if (!p || pkt->ip_src != p->dst || pkt->ip_dst != p->src
        || pkt->l4_src != p->dst_port) {
        /* A late answer (the caller knows it is from a backend to a check
         * source): nobody's business. */
        return true;
    }

    if (pkt->ip_proto == IPPROTO_TCP && p->phase != PROBE_UDP_SENT) {
        tcp_answer(ck, ofp, lb_mac, p, pkt, packet, now, cb, aux);
    } else if (pkt->ip_proto == IPPROTO_UDP && p->phase == PROBE_UDP_SENT) {
        const char *expect = p->member->service->cfg.check.expect;
        const uint8_t *data = ((const uint8_t *) packet + pkt->l4_ofs
                               + UDP_HEADER_LEN);
        size_t n = pkt->l4_size - UDP_HEADER_LEN;

        if (!expect || !expect[0] || memmem(data, n, expect, strlen(expect))) {
            record(ck, p->member, true, now, cb, aux, "reply");
        } else {
            record(ck, p->member, false, now, cb, aux,
                   "reply without \"%.20s\"", expect);
        }
    }
    return true;
}

/* Takes an ICMP error about a check's packet, and returns true; or returns
 * false if it is not about one. */
bool
lb_checker_icmp(struct lb_checker *ck, const struct lb_packet *pkt,
                const struct lb_icmp_quote *q, long long int now,
                lb_check_changed_cb *cb, void *aux)
{
    if (!q->has_ports
        || (q->src_port & LB_CHECK_PORT_MASK) != LB_CHECK_PORT_MASK) {
        return false;
    }
    struct lb_check_probe *p = find_probe(ck, q->src_port);
    if (!p || q->src != p->src || q->dst != p->dst
        || q->dst_port != p->dst_port) {
        return false;
    }
    if (pkt->icmp_type == ICMP4_DST_UNREACH
        && pkt->icmp_code == LB_ICMP_PORT_UNREACH) {
        record(ck, p->member, false, now, cb, aux, "icmp port unreachable");
    } else if (pkt->icmp_type == ICMP4_DST_UNREACH) {
        record(ck, p->member, false, now, cb, aux,
               "icmp unreachable (code %d)", pkt->icmp_code);
    } else {
        record(ck, p->member, false, now, cb, aux, "icmp type %d",
               pkt->icmp_type);
    }
    return true;
}

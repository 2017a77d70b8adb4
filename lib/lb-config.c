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
#include "lib/lb-config.h"

#include <ctype.h>
#include <netinet/in.h>
#include <string.h>

#include "hash.h"
#include "lib/lb-scheduler.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "packets.h"
#include "svec.h"
#include "util.h"

BUILD_ASSERT_DECL(LB_MAX_BACKENDS <= LB_SCHED_MAX_MEMBERS);

void
lb_config_init(struct lb_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    eth_addr_from_string(LB_DEFAULT_MAC, &cfg->lb_mac);
    cfg->cookie = LB_DEFAULT_COOKIE;
    cfg->idle_timeout = LB_DEFAULT_IDLE_TIMEOUT;
    cfg->hard_timeout = 0;
    cfg->client_timeout = LB_DEFAULT_CLIENT_TIMEOUT;
    cfg->probe_interval = LB_DEFAULT_PROBE_INTERVAL;
    cfg->probe_misses = LB_DEFAULT_PROBE_MISSES;
    cfg->max_clients = LB_DEFAULT_MAX_CLIENTS;
    cfg->overflow = LB_OVERFLOW_REFUSE;
    cfg->fallback = LB_FALLBACK_NORMAL;
    cfg->no_backend = LB_NO_BACKEND_DROP;
    cfg->stats_interval = LB_DEFAULT_STATS_INTERVAL;
}

void
lb_config_destroy(struct lb_config *cfg)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        lb_service_config_destroy(&cfg->services[i]);
    }
    free(cfg->services);
    cfg->services = NULL;
    cfg->n_services = 0;
}

/* Makes 'dst' a deep copy of 'src'. */
void
lb_config_clone(struct lb_config *dst, const struct lb_config *src)
{
    *dst = *src;
    dst->services = xcalloc(src->n_services, sizeof *dst->services);
    for (size_t i = 0; i < src->n_services; i++) {
        lb_service_config_clone(&dst->services[i], &src->services[i]);
    }
}

void
lb_service_config_clone(struct lb_service_config *dst,
                        const struct lb_service_config *src)
{
    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->backends = xmemdup(src->backends,
                            src->n_backends * sizeof *src->backends);
    dst->check.path = nullable_xstrdup(src->check.path);
    dst->check.expect = nullable_xstrdup(src->check.expect);
}

void
lb_service_config_destroy(struct lb_service_config *svc)
{
    if (svc) {
        free(svc->name);
        free(svc->backends);
        free(svc->check.path);
        free(svc->check.expect);
    }
}

bool
lb_check_config_equal(const struct lb_check_config *a,
                      const struct lb_check_config *b)
{
    return (a->kind == b->kind
            && nullable_string_is_equal(a->path, b->path)
            && nullable_string_is_equal(a->expect, b->expect)
            && a->status_min == b->status_min
            && a->status_max == b->status_max
            && a->interval == b->interval
            && a->timeout == b->timeout
            && a->rise == b->rise
            && a->fall == b->fall
            && a->slow_start == b->slow_start
            && a->source == b->source);
}

const char *
lb_check_kind_to_string(enum lb_check_kind kind)
{
    return (kind == LB_CHECK_TCP ? "tcp"
            : kind == LB_CHECK_HTTP ? "http"
            : kind == LB_CHECK_UDP ? "udp"
            : "arp");
}

/* Are 'a''s and 'b''s backends the same, weights and states too? */
static bool
same_backends(const struct lb_service_config *a,
              const struct lb_service_config *b)
{
    if (a->n_backends != b->n_backends) {
        return false;
    }
    for (size_t i = 0; i < a->n_backends; i++) {
        if (a->backends[i].ip != b->backends[i].ip
            || a->backends[i].port != b->backends[i].port
            || a->backends[i].weight != b->backends[i].weight
            || a->backends[i].draining != b->backends[i].draining) {
            return false;
        }
    }
    return true;
}

bool
lb_service_config_equal(const struct lb_service_config *a,
                        const struct lb_service_config *b)
{
    return (!strcmp(a->name, b->name)
            && a->vip == b->vip
            && a->proto == b->proto
            && a->port == b->port
            && a->affinity == b->affinity
            && a->scheduler == b->scheduler
            && same_backends(a, b)
            && lb_check_config_equal(&a->check, &b->check));
}

/* Does 'vip' have a whole-IP service in 'cfg'? */
bool
lb_config_vip_is_whole_ip(const struct lb_config *cfg, ovs_be32 vip)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (cfg->services[i].vip == vip && !cfg->services[i].proto) {
            return true;
        }
    }
    return false;
}

const char *
lb_datapath_to_string(enum lb_datapath datapath)
{
    return datapath == LB_DATAPATH_STATEFUL ? "stateful" : "reactive";
}

const char *
lb_fallback_to_string(enum lb_fallback fallback)
{
    return fallback == LB_FALLBACK_DROP ? "drop" : "normal";
}

const char *
lb_affinity_to_string(enum lb_affinity affinity)
{
    return affinity == LB_AFFINITY_CONNECTION ? "connection" : "client";
}

const char *
lb_proto_to_string(uint8_t proto)
{
    return (proto == IPPROTO_TCP ? "tcp"
            : proto == IPPROTO_UDP ? "udp"
            : "none");
}

/* Appends "IP" or, if 'port' is nonzero, "IP:PORT". */
void
lb_format_endpoint(struct ds *s, ovs_be32 ip, uint16_t port)
{
    ds_put_format(s, IP_FMT, IP_ARGS(ip));
    if (port) {
        ds_put_format(s, ":%"PRIu16, port);
    }
}

/* Appends the service as its --service specification. */
void
lb_service_config_format(const struct lb_service_config *svc, struct ds *s)
{
    ds_put_format(s, "%s ", svc->name);
    lb_format_endpoint(s, svc->vip, svc->port);
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct lb_backend_config *b = &svc->backends[i];

        ds_put_char(s, i ? ',' : ' ');
        lb_format_endpoint(s, b->ip, b->port);
        if (b->weight != LB_DEFAULT_WEIGHT) {
            ds_put_format(s, "=%u", b->weight);
        }
    }
    if (svc->proto != LB_PROTO_NONE) {
        ds_put_format(s, " %s", lb_proto_to_string(svc->proto));
    }
    ds_put_format(s, " scheduler=%s affinity=%s", svc->scheduler->name,
                  lb_affinity_to_string(svc->affinity));
}

/* Parses 's' as an IPv4 address that a host may own: not 0.0.0.0, the
 * broadcast address, a multicast or loopback address. */
char *
lb_parse_unicast_ip(const char *s, ovs_be32 *ip)
{
    if (!ip_parse(s, ip)) {
        return xasprintf("\"%s\" is not an IPv4 address", s);
    }
    uint32_t h = ntohl(*ip);
    if (!h || h == UINT32_MAX || ip_is_multicast(*ip) || h >> 24 == 127) {
        return xasprintf("%s is not a unicast host address", s);
    }
    return NULL;
}

/* Parses 's' as "IP" or "IP:PORT" into '*ip' and '*port' (0 if none). */
static char *
parse_endpoint(const char *s, ovs_be32 *ip, uint16_t *port)
{
    char *copy = xstrdup(s);
    char *colon = strchr(copy, ':');
    char *error = NULL;

    *port = 0;
    if (colon) {
        unsigned int value;

        *colon = '\0';
        if (strchr(colon + 1, ':') || s[0] == '[') {
            error = xasprintf("\"%s\" is not IPv4 (IPv6 is not supported)",
                              s);
            goto exit;
        }
        if (!str_to_uint(colon + 1, 10, &value) || !value
            || value > UINT16_MAX) {
            error = xasprintf("\"%s\" is not a port number (1 to 65535)",
                              colon + 1);
            goto exit;
        }
        *port = value;
    }
    error = lb_parse_unicast_ip(copy, ip);

exit:
    free(copy);
    return error;
}

/* Appends 'b' (its port 0 for the VIP's) to 'svc''s backends, if it may be
 * there.  'word' and 'what' name it in messages. */
static char *
append_backend(struct lb_service_config *svc, struct lb_backend_config *b,
               const char *word, const char *what)
{
    if (b->port && !svc->port) {
        return xasprintf("%s %s has a port, but VIP "IP_FMT" has none "
                         "(give the VIP a port for a tcp or udp service)",
                         what, word, IP_ARGS(svc->vip));
    }
    b->port = b->port ? b->port : svc->port;
    if (b->ip == svc->vip) {
        return xasprintf("%s %s is the VIP itself", what, word);
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        if (svc->backends[i].ip == b->ip && svc->backends[i].port == b->port) {
            return xasprintf("%s %s is listed twice", what, word);
        }
    }
    if (svc->n_backends >= LB_MAX_BACKENDS) {
        return xasprintf("more than %d %ss", LB_MAX_BACKENDS, what);
    }
    svc->backends = xrealloc(svc->backends,
                             (svc->n_backends + 1) * sizeof *svc->backends);
    svc->backends[svc->n_backends++] = *b;
    return NULL;
}

/* Adds to 'svc' the backend at 'ip' and 'port' (0 for the VIP's). */
char *
lb_service_config_add_backend(struct lb_service_config *svc, const char *ip,
                              int port, unsigned int weight, bool draining)
{
    struct lb_backend_config b = { .weight = weight, .draining = draining };
    struct ds word = DS_EMPTY_INITIALIZER;
    char *error;

    ds_put_cstr(&word, ip);
    if (port) {
        ds_put_format(&word, ":%d", port);
    }
    if (port < 0 || port > UINT16_MAX) {
        error = xasprintf("backend %s: port %d is not between 1 and 65535",
                          ds_cstr(&word), port);
    } else if (weight > LB_MAX_WEIGHT) {
        error = xasprintf("backend %s: weight %u is not between 0 and %d",
                          ds_cstr(&word), weight, LB_MAX_WEIGHT);
    } else {
        char *e = lb_parse_unicast_ip(ip, &b.ip);
        if (e) {
            error = xasprintf("backend: %s", e);
            free(e);
        } else {
            b.port = port;
            error = append_backend(svc, &b, ds_cstr(&word), "backend");
        }
    }
    ds_destroy(&word);
    return error;
}

/* Parses the backend list 'list', whose elements are separated by one of
 * 'seps', into 'svc''s backends.  'what' names an element in messages.
 * Weights ("=N") and ports are allowed if 'l4' is true. */
static char *
parse_backends(struct lb_service_config *svc, const char *list,
               const char *seps, const char *what, bool l4)
{
    char *error = NULL;
    const char *p = list;

    for (;;) {
        size_t len = strcspn(p, seps);
        char *word = xmemdup0(p, len);
        char *eq = strchr(word, '=');
        struct lb_backend_config b = { .weight = LB_DEFAULT_WEIGHT };

        if (!len) {
            error = (svc->n_backends || p[0]
                     ? xasprintf("empty %s in \"%s\"", what, list)
                     : xasprintf("no %ss given for VIP "IP_FMT, what,
                                 IP_ARGS(svc->vip)));
            free(word);
            break;
        }
        if (eq) {
            *eq = '\0';
            if (!l4) {
                error = xasprintf("%s \"%s=%s\": weights need --service",
                                  what, word, eq + 1);
            } else if (!str_to_uint(eq + 1, 10, &b.weight)
                       || b.weight > LB_MAX_WEIGHT) {
                error = xasprintf("%s %s: weight \"%s\" is not a number "
                                  "between 0 and %d", what, word, eq + 1,
                                  LB_MAX_WEIGHT);
            }
        }
        if (!error) {
            char *e = parse_endpoint(word, &b.ip, &b.port);
            if (e) {
                error = xasprintf("%s: %s", what, e);
                free(e);
            }
        }
        if (!error) {
            error = append_backend(svc, &b, word, what);
        }
        free(word);
        if (error) {
            break;
        }

        p += len;
        if (!*p) {
            break;
        }
        p++;
    }
    return error;
}

static bool
is_valid_name(const char *name)
{
    if (!name[0] || strlen(name) > 63) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (!isgraph((unsigned char) *p)) {
            return false;
        }
    }
    return true;
}

/* Parses 's' as a duration, seconds ("2") or milliseconds ("500ms"),
 * between 'min' and 'max' milliseconds. */
static bool
parse_duration(const char *s, int min, int max, int *ms)
{
    size_t len = strlen(s);
    bool in_ms = len > 2 && !strcmp(s + len - 2, "ms");
    char *digits = xmemdup0(s, in_ms ? len - 2 : len);
    unsigned int value;
    bool ok = (str_to_uint(digits, 10, &value) && value <= INT_MAX / 1000
               && (in_ms ? value : value * 1000) >= min
               && (in_ms ? value : value * 1000) <= max);
    free(digits);
    if (ok) {
        *ms = in_ms ? value : value * 1000;
    }
    return ok;
}

/* Is 'name' that of a health check's option (a word "NAME=VALUE" besides
 * "health=")? */
bool
lb_is_check_option(const char *name)
{
    static const char *const names[] = {
        "interval", "timeout", "rise", "fall", "slow-start", "check-source",
        "http-status", "expect",
    };

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (!strcmp(name, names[i])) {
            return true;
        }
    }
    return false;
}

/* Parses a word of a service's health check into 'c'.  Returns NULL if it
 * is one (setting '*is_check'), an error if it is a bad one, and NULL
 * without setting '*is_check' if it is not one. */
static char *
parse_check_option(struct lb_check_config *c, const char *word,
                   bool *is_check)
{
    const char *eq = strchr(word, '=');
    const char *value = eq ? eq + 1 : "";
    size_t name_len = eq ? eq - word : strlen(word);
    char *name = xmemdup0(word, name_len);
    char *error = NULL;
    unsigned int n;

    *is_check = true;
    if (!strcmp(name, "health")) {
        if (!strcmp(value, "tcp")) {
            c->kind = LB_CHECK_TCP;
        } else if (!strcmp(value, "udp")) {
            c->kind = LB_CHECK_UDP;
        } else if (!strncmp(value, "http:/", 6)) {
            c->kind = LB_CHECK_HTTP;
            for (const char *p = value + 5; *p; p++) {
                if (!isgraph((unsigned char) *p)) {
                    error = xasprintf("\"%s\": the path must be printable, "
                                      "without spaces", word);
                    break;
                }
            }
            free(c->path);
            c->path = xstrdup(value + 5);
        } else {
            error = xasprintf("\"%s\": use health=tcp, health=udp or "
                              "health=http:/PATH", word);
        }
    } else if (!strcmp(name, "interval")) {
        if (!parse_duration(value, 100, 3600 * 1000, &c->interval)) {
            error = xasprintf("\"%s\": the interval is 100ms to 3600 "
                              "seconds (e.g. 2, or 500ms)", word);
        }
    } else if (!strcmp(name, "timeout")) {
        if (!parse_duration(value, 10, 3600 * 1000, &c->timeout)) {
            error = xasprintf("\"%s\": the timeout is 10ms to 3600 "
                              "seconds (e.g. 1, or 300ms)", word);
        }
    } else if (!strcmp(name, "rise") || !strcmp(name, "fall")) {
        if (!str_to_uint(value, 10, &n) || n < 1 || n > 100) {
            error = xasprintf("\"%s\": %s is a number from 1 to 100",
                              word, name);
        } else {
            *(name[0] == 'r' ? &c->rise : &c->fall) = n;
        }
    } else if (!strcmp(name, "slow-start")) {
        if (!str_to_uint(value, 10, &n) || n > 3600) {
            error = xasprintf("\"%s\": slow-start is 0 to 3600 seconds",
                              word);
        } else {
            c->slow_start = n;
        }
    } else if (!strcmp(name, "check-source")) {
        char *e = lb_parse_unicast_ip(value, &c->source);
        if (e) {
            error = xasprintf("check-source: %s", e);
            free(e);
        }
    } else if (!strcmp(name, "http-status")) {
        int lo, hi, len;
        if (sscanf(value, "%d-%d%n", &lo, &hi, &len) == 2
            && !value[len] && lo >= 100 && lo <= hi && hi <= 599) {
            c->status_min = lo;
            c->status_max = hi;
        } else if (sscanf(value, "%d%n", &lo, &len) == 1 && !value[len]
                   && lo >= 100 && lo <= 599) {
            c->status_min = c->status_max = lo;
        } else {
            error = xasprintf("\"%s\": use http-status=N or "
                              "http-status=N-M (100 to 599)", word);
        }
    } else if (!strcmp(name, "expect")) {
        free(c->expect);
        c->expect = xstrdup(value);
    } else {
        *is_check = false;
    }
    free(name);
    return error;
}

/* Checks 'svc''s health check, given with 'check_words', and fills in its
 * defaults. */
static char *
finish_check(struct lb_service_config *svc, bool check_words)
{
    struct lb_check_config *c = &svc->check;

    if (c->kind == LB_CHECK_NONE) {
        return (check_words
                ? xasprintf("%s: health check settings without health=",
                            svc->name)
                : NULL);
    }
    if (!svc->port) {
        return xasprintf("%s: health checks need a tcp or udp service "
                         "(VIP:PORT)", svc->name);
    }
    if ((c->kind == LB_CHECK_UDP) != (svc->proto == IPPROTO_UDP)) {
        return xasprintf("%s: health=%s does not check a %s service",
                         svc->name, lb_check_kind_to_string(c->kind),
                         lb_proto_to_string(svc->proto));
    }
    if (c->expect && c->kind == LB_CHECK_TCP) {
        return xasprintf("%s: expect= needs health=http or health=udp",
                         svc->name);
    }
    if (c->status_min && c->kind != LB_CHECK_HTTP) {
        return xasprintf("%s: http-status= needs health=http", svc->name);
    }
    c->interval = c->interval ? c->interval : LB_CHECK_DEFAULT_INTERVAL;
    c->timeout = c->timeout ? c->timeout : LB_CHECK_DEFAULT_TIMEOUT;
    c->rise = c->rise ? c->rise : LB_CHECK_DEFAULT_RISE;
    c->fall = c->fall ? c->fall : LB_CHECK_DEFAULT_FALL;
    if (c->kind == LB_CHECK_HTTP && !c->status_min) {
        c->status_min = 200;
        c->status_max = 399;
    }
    if (c->timeout > c->interval) {
        return xasprintf("%s: the check timeout (%d ms) is longer than its "
                         "interval (%d ms)", svc->name, c->timeout,
                         c->interval);
    }
    if (c->source == svc->vip) {
        c->source = 0;
    }
    return NULL;
}

static char *
parse_option(struct lb_service_config *svc, const char *word,
             bool *proto_given)
{
    if (!strcmp(word, "tcp") || !strcmp(word, "udp")) {
        if (*proto_given) {
            return xasprintf("\"%s\": the protocol is given twice", word);
        }
        *proto_given = true;
        svc->proto = word[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP;
    } else if (!strncmp(word, "scheduler=", 10)) {
        svc->scheduler = lb_scheduler_find(word + 10);
        if (!svc->scheduler) {
            return xasprintf("\"%s\": no such scheduler (use %s)", word,
                             lb_scheduler_list());
        }
    } else if (!strncmp(word, "affinity=", 9)) {
        if (!strcmp(word + 9, "client")) {
            svc->affinity = LB_AFFINITY_CLIENT;
        } else if (!strcmp(word + 9, "connection")) {
            svc->affinity = LB_AFFINITY_CONNECTION;
        } else {
            return xasprintf("\"%s\": use affinity=client or "
                             "affinity=connection", word);
        }
    } else {
        return xasprintf("\"%s\" is not a word of a service (expected tcp, "
                         "udp, scheduler=S, affinity=A or health=C and the "
                         "check's words)", word);
    }
    return NULL;
}

/* Appends 'svc' to 'cfg', which takes it over. */
void
lb_config_append_service(struct lb_config *cfg, struct lb_service_config *svc)
{
    cfg->services = xrealloc(cfg->services,
                             (cfg->n_services + 1) * sizeof *cfg->services);
    cfg->services[cfg->n_services++] = *svc;
}

/* Adds the service given by 'spec', in the words of ovn-nbctl's lb-add:
 * "NAME VIP[:PORT] BACKEND[:PORT][=WEIGHT],... [tcp|udp] [scheduler=S]
 * [affinity=A]". */
char *
lb_config_add_service(struct lb_config *cfg, const char *spec)
{
    struct lb_service_config svc;
    struct svec words = SVEC_EMPTY_INITIALIZER;
    char *error;

    svec_parse_words(&words, spec);
    if (words.n < 3) {
        memset(&svc, 0, sizeof svc);
        error = xasprintf("\"%s\": expected NAME VIP[:PORT] "
                          "BACKEND[:PORT][=WEIGHT],... [tcp|udp] "
                          "[scheduler=S] [affinity=A]", spec);
        goto exit;
    }
    error = lb_service_config_init(&svc, words.names[0], words.names[1],
                                   (const char **) &words.names[3],
                                   words.n - 3);
    if (error) {
        goto exit;
    }
    char *e = parse_backends(&svc, words.names[2], ",", "backend", true);
    if (e) {
        error = xasprintf("%s: %s", svc.name, e);
        free(e);
        goto exit;
    }
    lb_config_append_service(cfg, &svc);
    svec_destroy(&words);
    return NULL;

exit:
    lb_service_config_destroy(&svc);
    svec_destroy(&words);
    return error;
}

/* Initializes 'svc' as the service 'name' with VIP[:PORT] 'vip', no
 * backends yet, and the words 'opts' (tcp, udp, scheduler=S, affinity=A).
 * On error 'svc' must still be destroyed. */
char *
lb_service_config_init(struct lb_service_config *svc, const char *name,
                       const char *vip, const char **opts, size_t n_opts)
{
    bool proto_given = false;

    *svc = (struct lb_service_config) {
        .affinity = LB_AFFINITY_CLIENT,
        .scheduler = lb_scheduler_find("rr"),
    };
    if (!is_valid_name(name)) {
        return xasprintf("\"%s\" is not a service name (1 to 63 printable "
                         "characters, no spaces)", name);
    }
    svc->name = xstrdup(name);

    char *e = parse_endpoint(vip, &svc->vip, &svc->port);
    if (e) {
        char *error = xasprintf("%s: VIP: %s", svc->name, e);
        free(e);
        return error;
    }
    bool check_words = false;
    for (size_t i = 0; i < n_opts; i++) {
        bool is_check;
        e = parse_check_option(&svc->check, opts[i], &is_check);
        if (!is_check) {
            e = parse_option(svc, opts[i], &proto_given);
        } else {
            check_words = true;
        }
        if (e) {
            char *error = xasprintf("%s: %s", svc->name, e);
            free(e);
            return error;
        }
    }
    if (proto_given && !svc->port) {
        return xasprintf("%s: protocol %s needs a VIP port (VIP:PORT)",
                         svc->name, lb_proto_to_string(svc->proto));
    }
    if (svc->port && !proto_given) {
        svc->proto = IPPROTO_TCP;        /* As ovn-nbctl's lb-add. */
    }
    if (svc->affinity == LB_AFFINITY_CONNECTION && !svc->port) {
        return xasprintf("%s: affinity=connection needs a tcp or udp "
                         "service (VIP:PORT)", svc->name);
    }
    return finish_check(svc, check_words);
}

/* Adds the lab's service, "--vip=VIP --servers=SERVERS": all IPv4 to 'vip'
 * balanced round robin over the comma- or space-separated 'servers'. */
char *
lb_config_add_lab_service(struct lb_config *cfg, const char *vip,
                          const char *servers)
{
    struct lb_service_config svc = {
        .affinity = LB_AFFINITY_CLIENT,
        .scheduler = lb_scheduler_find("rr"),
    };

    char *error = lb_parse_unicast_ip(vip, &svc.vip);
    if (error) {
        char *msg = xasprintf("VIP: %s", error);
        free(error);
        return msg;
    }
    error = parse_backends(&svc, servers, ", \t", "server", false);
    if (error) {
        lb_service_config_destroy(&svc);
        return error;
    }
    svc.name = xasprintf("vip-"IP_FMT, IP_ARGS(svc.vip));
    lb_config_append_service(cfg, &svc);
    return NULL;
}

static char *
parse_mac(const char *s, struct eth_addr *mac)
{
    if (!eth_addr_from_string(s, mac)) {
        return xasprintf("\"%s\" is not an Ethernet address", s);
    }
    if (eth_addr_is_multicast(*mac) || eth_addr_is_zero(*mac)) {
        return xasprintf("%s is not a unicast Ethernet address", s);
    }
    return NULL;
}

/* Parses a flow cookie: a number (0x for hexadecimal) other than 0, which
 * other controllers' flows have by default, and all-ones, which OpenFlow
 * reserves. */
static char *
parse_cookie(const char *s, uint64_t *cookie)
{
    unsigned long long int value;

    if (!str_to_ullong(s, 0, &value) || !value || value == UINT64_MAX) {
        return xasprintf("\"%s\" is not a cookie (a number, such as "
                         "0x6f76736c62, other than 0 and 0xffffffffffffffff)",
                         s);
    }
    *cookie = value;
    return NULL;
}

/* Sets '*value' to the index of 's' among the two 'names', or returns an
 * error that says what the choices are. */
static char *
parse_choice(const char *s, const char *const names[2], int *value)
{
    for (int i = 0; i < 2; i++) {
        if (!strcmp(s, names[i])) {
            *value = i;
            return NULL;
        }
    }
    return xasprintf("\"%s\" is not a choice (use %s or %s)", s, names[0],
                     names[1]);
}

static char *
parse_int(const char *s, int min, int max, const char *unit, int *value)
{
    if (!str_to_int(s, 10, value) || *value < min || *value > max) {
        return xasprintf("\"%s\" is not a number%s between %d and %d", s,
                         unit, min, max);
    }
    return NULL;
}

/* The settings other than services, by the names of their command-line
 * options. */
enum setting_type { S_SECONDS, S_NUMBER, S_CHOICE, S_MAC, S_COOKIE };
struct setting {
    const char *name;
    enum setting_type type;
    int min, max;                       /* S_SECONDS, S_NUMBER. */
    const char *choices[2];             /* S_CHOICE. */
    size_t offset;                      /* In struct lb_config. */
};

#define SETTING(NAME, TYPE, MIN, MAX, C0, C1, MEMBER) \
    { NAME, TYPE, MIN, MAX, { C0, C1 }, offsetof(struct lb_config, MEMBER) }
static const struct setting settings[] = {
    SETTING("lb-mac", S_MAC, 0, 0, NULL, NULL, lb_mac),
    SETTING("cookie", S_COOKIE, 0, 0, NULL, NULL, cookie),
    SETTING("idle-timeout", S_SECONDS, 0, UINT16_MAX, NULL, NULL,
            idle_timeout),
    SETTING("hard-timeout", S_SECONDS, 0, UINT16_MAX, NULL, NULL,
            hard_timeout),
    SETTING("client-timeout", S_SECONDS, 1, 30 * 24 * 3600, NULL, NULL,
            client_timeout),
    SETTING("probe-interval", S_SECONDS, 1, 3600, NULL, NULL,
            probe_interval),
    SETTING("probe-misses", S_NUMBER, 1, 100, NULL, NULL, probe_misses),
    SETTING("max-clients", S_NUMBER, 1, 100000000, NULL, NULL, max_clients),
    SETTING("client-overflow", S_CHOICE, 0, 0, "refuse", "evict",
            overflow),
    SETTING("fallback", S_CHOICE, 0, 0, "normal", "drop", fallback),
    SETTING("no-backend", S_CHOICE, 0, 0, "drop", "reject", no_backend),
    SETTING("stats-interval", S_SECONDS, 0, 3600, NULL, NULL,
            stats_interval),
    SETTING("datapath", S_CHOICE, 0, 0, "reactive", "stateful", datapath),
    SETTING("removed-connections", S_CHOICE, 0, 0, "keep", "reset",
            removed_connections),
};

static const struct setting *
find_setting(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        if (!strcmp(settings[i].name, name)) {
            return &settings[i];
        }
    }
    return NULL;
}

bool
lb_config_is_setting(const char *name)
{
    return find_setting(name) != NULL;
}

/* Sets the setting called 'name' (as its command-line option, without
 * "--") to 'value'.  Choices are stored as the index of the choice, as
 * their enums are declared. */
char *
lb_config_set(struct lb_config *cfg, const char *name, const char *value)
{
    const struct setting *s = find_setting(name);
    void *field;
    char *error;
    int n;

    if (!s) {
        return xasprintf("\"%s\" is not a setting", name);
    }
    field = (char *) cfg + s->offset;
    switch (s->type) {
    case S_MAC:
        return parse_mac(value, field);

    case S_COOKIE:
        return parse_cookie(value, field);

    case S_SECONDS:
    case S_NUMBER:
        error = parse_int(value, s->min, s->max,
                          s->type == S_SECONDS ? " of seconds" : "", &n);
        if (!error) {
            if (field == &cfg->max_clients) {
                cfg->max_clients = n;
            } else {
                *(int *) field = n;
            }
        }
        return error;

    case S_CHOICE:
        error = parse_choice(value, s->choices, &n);
        if (!error) {
            *(int *) field = n;
        }
        return error;
    }
    OVS_NOT_REACHED();
}

/* For lb_config_check(): what one service or backend claims, keyed by its
 * address. */
struct claim {
    struct hmap_node node;
    ovs_be32 ip;
    uint8_t proto;
    uint16_t port;
    const struct lb_service_config *svc;
};

static struct claim *
find_claim(const struct hmap *claims, ovs_be32 ip)
{
    struct claim *c;

    HMAP_FOR_EACH_WITH_HASH (c, node, hash_int((OVS_FORCE uint32_t) ip, 0),
                             claims) {
        if (c->ip == ip) {
            return c;
        }
    }
    return NULL;
}

/* Adds a claim on 'ip' (with 'proto' and 'port') by 'svc' to 'claims'.  If
 * another service already claims the same address in a way that clashes
 * (the same protocol and port, or either of them the whole IP), returns
 * that claim and adds nothing. */
static const struct claim *
add_claim(struct hmap *claims, ovs_be32 ip, uint8_t proto, uint16_t port,
          const struct lb_service_config *svc)
{
    struct claim *c;

    HMAP_FOR_EACH_WITH_HASH (c, node, hash_int((OVS_FORCE uint32_t) ip, 0),
                             claims) {
        if (c->ip == ip && c->svc != svc
            && (c->proto == LB_PROTO_NONE || proto == LB_PROTO_NONE
                || (c->proto == proto && c->port == port))) {
            return c;
        }
    }
    c = xmalloc(sizeof *c);
    c->ip = ip;
    c->proto = proto;
    c->port = port;
    c->svc = svc;
    hmap_insert(claims, &c->node, hash_int((OVS_FORCE uint32_t) ip, 0));
    return NULL;
}

static void
destroy_claims(struct hmap *claims)
{
    struct claim *c;

    HMAP_FOR_EACH_POP (c, node, claims) {
        free(c);
    }
    hmap_destroy(claims);
}

static void
format_claim(struct ds *s, ovs_be32 ip, uint8_t proto, uint16_t port)
{
    lb_format_endpoint(s, ip, port);
    if (proto) {
        ds_put_format(s, "/%s", lb_proto_to_string(proto));
    } else {
        ds_put_cstr(s, " (whole IP)");
    }
}

/* Checks what no single service can: that names are unique, that no two
 * services take the same traffic to a VIP, that no backend is a VIP, and
 * that the traffic of backends shared by several services can be told
 * apart on its way back to the clients. */
char *
lb_config_check(const struct lb_config *cfg)
{
    struct hmap vips = HMAP_INITIALIZER(&vips);
    struct hmap backends = HMAP_INITIALIZER(&backends);
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct claim *clash;

    for (size_t i = 0; i < cfg->n_services && !s.length; i++) {
        const struct lb_service_config *svc = &cfg->services[i];

        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->services[j].name, svc->name)) {
                ds_put_format(&s, "service name %s is given twice",
                              svc->name);
                break;
            }
        }
        clash = s.length ? NULL : add_claim(&vips, svc->vip, svc->proto,
                                            svc->port, svc);
        if (clash) {
            ds_put_format(&s, "services %s and %s both take ",
                          clash->svc->name, svc->name);
            if (clash->proto == svc->proto && clash->port == svc->port) {
                format_claim(&s, svc->vip, svc->proto, svc->port);
            } else {
                ds_put_format(&s, "traffic to "IP_FMT" (one of them is "
                              "whole IP)", IP_ARGS(svc->vip));
            }
        }
    }
    for (size_t i = 0; i < cfg->n_services && !s.length; i++) {
        const struct lb_service_config *svc = &cfg->services[i];

        for (size_t j = 0; j < svc->n_backends && !s.length; j++) {
            const struct lb_backend_config *b = &svc->backends[j];
            const struct claim *vip = find_claim(&vips, b->ip);

            if (vip) {
                ds_put_format(&s, "backend "IP_FMT" of service %s is the "
                              "VIP of service %s", IP_ARGS(b->ip),
                              svc->name, vip->svc->name);
                break;
            }
            clash = add_claim(&backends, b->ip, svc->proto, b->port, svc);
            if (clash) {
                ds_put_format(&s, "services %s and %s share backend ",
                              clash->svc->name, svc->name);
                format_claim(&s, b->ip, clash->proto, clash->port);
                if (clash->proto != svc->proto || clash->port != b->port) {
                    ds_put_cstr(&s, " and ");
                    format_claim(&s, b->ip, svc->proto, b->port);
                }
                ds_put_cstr(&s, ": its traffic back to clients cannot be "
                            "told apart");
            }
        }
    }
    destroy_claims(&vips);
    destroy_claims(&backends);
    return s.length ? ds_steal_cstr(&s) : NULL;
}

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

#include <string.h>

#include "lib/lb-scheduler.h"
#include "packets.h"
#include "util.h"

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
}

void
lb_config_destroy(struct lb_config *cfg)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        free(cfg->services[i].name);
        free(cfg->services[i].backends);
    }
    free(cfg->services);
    cfg->services = NULL;
    cfg->n_services = 0;
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

/* Adds a service named 'name' (or "vip" followed by the VIP when 'name' is
 * NULL) that balances 'vip' across the comma- or space-separated
 * 'backends' with 'scheduler' (NULL for round robin). */
char *
lb_config_add_service(struct lb_config *cfg, const char *name,
                      const char *vip_s, const char *backends_s,
                      const char *scheduler)
{
    ovs_be32 vip;
    char *error;

    if (!vip_s || !vip_s[0]) {
        return xstrdup("no VIP given");
    }
    error = lb_parse_unicast_ip(vip_s, &vip);
    if (error) {
        char *msg = xasprintf("VIP: %s", error);
        free(error);
        return msg;
    }
    if (lb_config_find_vip(cfg, vip)) {
        return xasprintf("VIP %s is given twice", vip_s);
    }

    const struct lb_scheduler_class *class
        = lb_scheduler_find(scheduler ? scheduler : "round-robin");
    if (!class) {
        return xasprintf("\"%s\" is not a scheduler (try %s)", scheduler,
                         lb_scheduler_list());
    }

    ovs_be32 *backends = NULL;
    size_t n = 0, allocated = 0;
    char *copy = xstrdup(backends_s ? backends_s : "");
    char *save_ptr = NULL;
    for (char *token = strtok_r(copy, ", \t", &save_ptr); token;
         token = strtok_r(NULL, ", \t", &save_ptr)) {
        ovs_be32 ip;

        error = lb_parse_unicast_ip(token, &ip);
        if (error) {
            char *msg = xasprintf("server: %s", error);
            free(error);
            error = msg;
            goto exit;
        }
        if (ip == vip) {
            error = xasprintf("server %s is the VIP itself", token);
            goto exit;
        }
        for (size_t i = 0; i < n; i++) {
            if (backends[i] == ip) {
                error = xasprintf("server %s is listed twice", token);
                goto exit;
            }
        }
        if (n >= allocated) {
            backends = x2nrealloc(backends, &allocated, sizeof *backends);
        }
        backends[n++] = ip;
    }
    if (!n) {
        error = xasprintf("no servers given for VIP %s", vip_s);
        goto exit;
    }

    cfg->services = xrealloc(cfg->services,
                             (cfg->n_services + 1) * sizeof *cfg->services);
    struct lb_service_config *svc = &cfg->services[cfg->n_services++];
    svc->name = name ? xstrdup(name) : xasprintf("vip-"IP_FMT, IP_ARGS(vip));
    svc->vip = vip;
    svc->backends = backends;
    svc->n_backends = n;
    svc->scheduler = class;
    backends = NULL;

exit:
    free(copy);
    free(backends);
    return error;
}

char *
lb_config_set_mac(struct lb_config *cfg, const char *s)
{
    struct eth_addr mac;

    if (!eth_addr_from_string(s, &mac)) {
        return xasprintf("\"%s\" is not an Ethernet address", s);
    }
    if (eth_addr_is_multicast(mac) || eth_addr_is_zero(mac)) {
        return xasprintf("%s is not a unicast Ethernet address", s);
    }
    cfg->lb_mac = mac;
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

char *
lb_config_set_fallback(struct lb_config *cfg, const char *s)
{
    static const char *const names[2] = { "normal", "drop" };
    int value;
    char *error = parse_choice(s, names, &value);

    cfg->fallback = error ? cfg->fallback
                    : value ? LB_FALLBACK_DROP : LB_FALLBACK_NORMAL;
    return error;
}

char *
lb_config_set_no_backend(struct lb_config *cfg, const char *s)
{
    static const char *const names[2] = { "drop", "reject" };
    int value;
    char *error = parse_choice(s, names, &value);

    cfg->no_backend = error ? cfg->no_backend
                      : value ? LB_NO_BACKEND_REJECT : LB_NO_BACKEND_DROP;
    return error;
}

char *
lb_config_set_overflow(struct lb_config *cfg, const char *s)
{
    static const char *const names[2] = { "refuse", "evict" };
    int value;
    char *error = parse_choice(s, names, &value);

    cfg->overflow = error ? cfg->overflow
                    : value ? LB_OVERFLOW_EVICT : LB_OVERFLOW_REFUSE;
    return error;
}

/* Checks what no single setting can: that there is a service and that
 * no VIP of one service is a backend of another. */
char *
lb_config_check(const struct lb_config *cfg)
{
    if (!cfg->n_services) {
        return xstrdup("no service defined (use --vip and --servers)");
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct lb_service_config *svc = &cfg->services[i];
        for (size_t j = 0; j < svc->n_backends; j++) {
            if (lb_config_find_vip(cfg, svc->backends[j])) {
                return xasprintf("server "IP_FMT" is also a VIP",
                                 IP_ARGS(svc->backends[j]));
            }
        }
    }
    return NULL;
}

const struct lb_service_config *
lb_config_find_vip(const struct lb_config *cfg, ovs_be32 vip)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (cfg->services[i].vip == vip) {
            return &cfg->services[i];
        }
    }
    return NULL;
}

const char *
lb_fallback_to_string(enum lb_fallback fallback)
{
    return fallback == LB_FALLBACK_DROP ? "drop" : "normal";
}

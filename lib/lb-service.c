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
#include "lib/lb-service.h"

#include <string.h>

#include "hash.h"
#include "util.h"

static uint32_t
hash_addr(ovs_be32 ip, uint8_t proto, uint16_t port)
{
    return hash_int(proto << 16 | port, lb_hash_ip(ip));
}

static uint32_t
hash_proto_port(uint8_t proto, uint16_t port)
{
    return hash_int(proto << 16 | port, 0);
}

static void
ip_filter_add(struct lb_ip_filter *f, ovs_be32 ip)
{
    uint32_t bit = lb_ip_filter_bit__(ip);
    f->bits[bit / 64] |= UINT64_C(1) << (bit % 64);
}

/* After a removal, the filters are made again from what is left. */
static void
rebuild_filters(struct lb_services *svcs)
{
    const struct lb_backend *b;
    const struct lb_vip *vip;

    memset(&svcs->vip_filter, 0, sizeof svcs->vip_filter);
    memset(&svcs->backend_filter, 0, sizeof svcs->backend_filter);
    HMAP_FOR_EACH (vip, node, &svcs->vips) {
        ip_filter_add(&svcs->vip_filter, vip->ip);
    }
    HMAP_FOR_EACH (b, node, &svcs->backends) {
        ip_filter_add(&svcs->backend_filter, b->ip);
    }
}

void
lb_services_init(struct lb_services *svcs)
{
    hmap_init(&svcs->by_name);
    hmap_init(&svcs->vips);
    hmap_init(&svcs->members);
    hmap_init(&svcs->backends);
    memset(&svcs->vip_filter, 0, sizeof svcs->vip_filter);
    memset(&svcs->backend_filter, 0, sizeof svcs->backend_filter);
    svcs->next_id = 1;
    lb_checker_init(&svcs->checker);
}

/* Frees everything.  The services' sessions must be gone (by
 * lb_sessions_destroy(), which leaves the members' lists of them as they
 * were). */
void
lb_services_destroy(struct lb_services *svcs)
{
    struct lb_service *svc;
    struct lb_member *m;

    HMAP_FOR_EACH (m, node, &svcs->members) {
        ovs_list_init(&m->sessions);
    }
    HMAP_FOR_EACH_SAFE (svc, name_node, &svcs->by_name) {
        lb_services_remove(svcs, svc);
    }
    hmap_destroy(&svcs->by_name);
    hmap_destroy(&svcs->vips);
    hmap_destroy(&svcs->members);
    hmap_destroy(&svcs->backends);
    lb_checker_destroy(&svcs->checker);
}

/* Backends. */

struct lb_backend *
lb_services_find_backend__(const struct lb_services *svcs, ovs_be32 ip)
{
    struct lb_backend *b;

    HMAP_FOR_EACH_WITH_HASH (b, node, lb_hash_ip(ip), &svcs->backends) {
        if (b->ip == ip) {
            return b;
        }
    }
    return NULL;
}

static struct lb_backend *
ref_backend(struct lb_services *svcs, ovs_be32 ip, ovs_be32 vip)
{
    struct lb_backend *b = lb_services_find_backend(svcs, ip);

    if (!b) {
        b = xzalloc(sizeof *b);
        b->ip = ip;
        b->probe_spa = vip;
        lb_health_init(&b->health);
        ovs_list_init(&b->members);
        hmap_insert(&svcs->backends, &b->node, lb_hash_ip(ip));
        ip_filter_add(&svcs->backend_filter, ip);
    }
    return b;
}

/* The usability of 'b''s members may have changed (it came up or went
 * down, or moved): their services' schedulers must hear of it. */
void
lb_backend_changed(struct lb_backend *b)
{
    struct lb_member *m;

    LIST_FOR_EACH (m, backend_node, &b->members) {
        m->service->sched_stale = true;
    }
}

/* Members. */

bool
lb_member_is_usable(const struct lb_member *m)
{
    return (m->weight > 0 && !m->draining && m->backend->loc.known
            && lb_health_is_up(&m->backend->health)
            && lb_check_is_up(&m->check));
}

static struct lb_member *
add_member(struct lb_services *svcs, struct lb_service *svc,
           const struct lb_backend_config *bc)
{
    struct lb_member *m = xzalloc(sizeof *m);

    m->service = svc;
    m->backend = ref_backend(svcs, bc->ip, svc->cfg.vip);
    m->port = bc->port;
    m->weight = bc->weight;
    m->draining = bc->draining;
    lb_check_init(&m->check);
    ovs_list_init(&m->sessions);
    ovs_list_push_back(&m->backend->members, &m->backend_node);
    hmap_insert(&svcs->members, &m->node,
                hash_addr(bc->ip, svc->cfg.proto, bc->port));
    return m;
}

/* Frees 'm', which has no sessions, and its backend if it was its last
 * member. */
static void
remove_member(struct lb_services *svcs, struct lb_member *m)
{
    struct lb_backend *b = m->backend;

    ovs_assert(ovs_list_is_empty(&m->sessions));
    lb_check_stop(&svcs->checker, m);
    hmap_remove(&svcs->members, &m->node);
    ovs_list_remove(&m->backend_node);
    free(m);

    if (ovs_list_is_empty(&b->members)) {
        hmap_remove(&svcs->backends, &b->node);
        free(b);
        rebuild_filters(svcs);
    } else {
        /* Its probes may have come from a VIP that is going. */
        struct lb_member *first = CONTAINER_OF(ovs_list_front(&b->members),
                                               struct lb_member,
                                               backend_node);
        b->probe_spa = first->service->cfg.vip;
    }
}

struct lb_member *
lb_services_find_member(const struct lb_services *svcs, ovs_be32 ip,
                        uint8_t proto, uint16_t src_port)
{
    struct lb_member *m;

    /* The member of a tcp or udp service that sent from its port; else
     * the member of a whole-IP service. */
    HMAP_FOR_EACH_WITH_HASH (m, node, hash_addr(ip, proto, src_port),
                             &svcs->members) {
        if (m->backend->ip == ip && m->service->cfg.proto == proto
            && m->port == src_port) {
            return m;
        }
    }
    HMAP_FOR_EACH_WITH_HASH (m, node, hash_addr(ip, 0, 0), &svcs->members) {
        if (m->backend->ip == ip && !m->service->cfg.proto) {
            return m;
        }
    }
    return NULL;
}

struct lb_member *
lb_service_find_member(const struct lb_service *svc, ovs_be32 ip,
                       uint16_t port)
{
    for (size_t i = 0; i < svc->n_members; i++) {
        struct lb_member *m = svc->members[i];
        if (m && m->backend->ip == ip && m->port == port) {
            return m;
        }
    }
    return NULL;
}

void
lb_member_count_session(struct lb_member *m, int delta)
{
    m->service->sched[m->index].n_sessions += delta;
}

size_t
lb_member_n_sessions(const struct lb_member *m)
{
    return m->service->sched[m->index].n_sessions;
}

/* VIPs. */

struct lb_vip *
lb_services_find_vip__(const struct lb_services *svcs, ovs_be32 ip)
{
    struct lb_vip *vip;

    HMAP_FOR_EACH_WITH_HASH (vip, node, lb_hash_ip(ip), &svcs->vips) {
        if (vip->ip == ip) {
            return vip;
        }
    }
    return NULL;
}

static void
add_to_vip(struct lb_services *svcs, struct lb_service *svc)
{
    const struct lb_service_config *cfg = &svc->cfg;
    struct lb_vip *vip = lb_services_find_vip(svcs, cfg->vip);

    if (!vip) {
        vip = xzalloc(sizeof *vip);
        vip->ip = cfg->vip;
        hmap_init(&vip->services);
        hmap_insert(&svcs->vips, &vip->node, lb_hash_ip(cfg->vip));
        ip_filter_add(&svcs->vip_filter, cfg->vip);
    }
    hmap_insert(&vip->services, &svc->vip_node,
                hash_proto_port(cfg->proto, cfg->port));
    if (!cfg->proto) {
        vip->whole_ip = svc;
    }
}

static void
remove_from_vip(struct lb_services *svcs, struct lb_service *svc)
{
    struct lb_vip *vip = lb_services_find_vip(svcs, svc->cfg.vip);

    hmap_remove(&vip->services, &svc->vip_node);
    if (vip->whole_ip == svc) {
        vip->whole_ip = NULL;
    }
    if (hmap_is_empty(&vip->services)) {
        hmap_remove(&svcs->vips, &vip->node);
        hmap_destroy(&vip->services);
        free(vip);
        rebuild_filters(svcs);
    }
}

/* Returns the service of 'vip' that takes a packet with 'proto' and, for
 * TCP and UDP, 'dst_port': the VIP's whole-IP service, or the one for that
 * protocol and port. */
struct lb_service *
lb_vip_find_service(const struct lb_vip *vip, uint8_t proto,
                    uint16_t dst_port)
{
    struct lb_service *svc;

    if (vip->whole_ip) {
        return vip->whole_ip;
    }
    HMAP_FOR_EACH_WITH_HASH (svc, vip_node, hash_proto_port(proto, dst_port),
                             &vip->services) {
        if (svc->cfg.proto == proto && svc->cfg.port == dst_port) {
            return svc;
        }
    }
    return NULL;
}

/* Services. */

/* Sets 'svc''s members to those of 'cfg', keeping the members that stay
 * (with their sessions) and renumbering them in 'cfg''s order.  Members
 * that go must have no sessions. */
static void
set_members(struct lb_services *svcs, struct lb_service *svc,
            const struct lb_service_config *cfg)
{
    struct lb_member **members = xcalloc(cfg->n_backends, sizeof *members);
    struct lb_sched_member *sched = xcalloc(cfg->n_backends, sizeof *sched);

    for (size_t i = 0; i < cfg->n_backends; i++) {
        const struct lb_backend_config *bc = &cfg->backends[i];
        struct lb_member *m = lb_service_find_member(svc, bc->ip, bc->port);

        if (m) {
            sched[i].n_sessions = svc->sched[m->index].n_sessions;
            svc->members[m->index] = NULL;
            m->weight = bc->weight;
            m->draining = bc->draining;
            m->drained &= m->draining;
        } else {
            m = add_member(svcs, svc, bc);
        }
        m->index = i;
        members[i] = m;
        sched[i].ip = bc->ip;
        sched[i].port = bc->port;
    }
    for (size_t i = 0; i < svc->n_members; i++) {
        if (svc->members[i]) {
            remove_member(svcs, svc->members[i]);
        }
    }
    free(svc->members);
    free(svc->sched);
    svc->members = members;
    svc->sched = sched;
    svc->n_members = cfg->n_backends;
    svc->sched_stale = true;
}

/* Checks the members of 'svc' as its configuration says: all afresh if
 * 'restart', otherwise only those not checked yet. */
static void
sync_checks(struct lb_services *svcs, struct lb_service *svc, bool restart)
{
    for (size_t i = 0; i < svc->n_members; i++) {
        struct lb_member *m = svc->members[i];

        if (svc->cfg.check.kind == LB_CHECK_NONE) {
            lb_check_stop(&svcs->checker, m);
            lb_check_init(&m->check);
        } else if (restart || !m->check.active) {
            lb_check_start(&svcs->checker, m);
        }
    }
}

struct lb_service *
lb_services_add(struct lb_services *svcs, const struct lb_service_config *cfg)
{
    struct lb_service *svc = xzalloc(sizeof *svc);

    lb_service_config_clone(&svc->cfg, cfg);
    svc->id = svcs->next_id++;
    svc->scheduler = lb_scheduler_create(cfg->scheduler);
    hmap_insert(&svcs->by_name, &svc->name_node, hash_string(cfg->name, 0));
    add_to_vip(svcs, svc);
    set_members(svcs, svc, cfg);
    sync_checks(svcs, svc, false);
    return svc;
}

/* Removes 'svc', whose sessions must be gone.  The caller must have
 * destroyed its templates. */
void
lb_services_remove(struct lb_services *svcs, struct lb_service *svc)
{
    for (size_t i = 0; i < svc->n_members; i++) {
        remove_member(svcs, svc->members[i]);
    }
    free(svc->members);
    free(svc->sched);
    hmap_remove(&svcs->by_name, &svc->name_node);
    remove_from_vip(svcs, svc);
    lb_scheduler_destroy(svc->scheduler);
    lb_service_config_destroy(&svc->cfg);
    free(svc);
}

/* Can 'svc' become 'cfg' in place?  Only its backends, their weights and
 * its scheduler may change: anything else changes what its flows are. */
bool
lb_services_can_update(const struct lb_service *svc,
                       const struct lb_service_config *cfg)
{
    return (!strcmp(svc->cfg.name, cfg->name)
            && svc->cfg.vip == cfg->vip
            && svc->cfg.proto == cfg->proto
            && svc->cfg.port == cfg->port
            && svc->cfg.affinity == cfg->affinity);
}

/* Makes 'svc' into 'cfg' (see lb_services_can_update()).  Members that are
 * not in 'cfg' must have no sessions. */
void
lb_services_update(struct lb_services *svcs, struct lb_service *svc,
                   const struct lb_service_config *cfg)
{
    ovs_assert(lb_services_can_update(svc, cfg));
    if (svc->cfg.scheduler != cfg->scheduler) {
        lb_scheduler_destroy(svc->scheduler);
        svc->scheduler = lb_scheduler_create(cfg->scheduler);
    }
    set_members(svcs, svc, cfg);
    bool restart = !lb_check_config_equal(&svc->cfg.check, &cfg->check);
    lb_service_config_destroy(&svc->cfg);
    lb_service_config_clone(&svc->cfg, cfg);
    sync_checks(svcs, svc, restart);
}

struct lb_service *
lb_services_find_name(const struct lb_services *svcs, const char *name)
{
    struct lb_service *svc;

    HMAP_FOR_EACH_WITH_HASH (svc, name_node, hash_string(name, 0),
                             &svcs->by_name) {
        if (!strcmp(svc->cfg.name, name)) {
            return svc;
        }
    }
    return NULL;
}

/* Returns the service that takes exactly 'vip', 'proto' and 'port'. */
struct lb_service *
lb_services_find_exact(const struct lb_services *svcs, ovs_be32 vip_ip,
                       uint8_t proto, uint16_t port)
{
    const struct lb_vip *vip = lb_services_find_vip(svcs, vip_ip);
    struct lb_service *svc = (vip ? lb_vip_find_service(vip, proto, port)
                              : NULL);

    return (svc && svc->cfg.proto == proto && svc->cfg.port == port
            ? svc : NULL);
}

/* Scheduling. */

/* Picks a member for a new session whose client hashes to 'hash', or
 * returns NULL if none is usable. */
/* Brings the scheduler's view of 'svc''s members up to date, if they
 * changed. */
void
lb_service_refresh(struct lb_service *svc)
{
    if (svc->sched_stale) {
        for (size_t i = 0; i < svc->n_members; i++) {
            const struct lb_member *m = svc->members[i];

            svc->sched[i].usable = lb_member_is_usable(m);
            /* In hundredths, so that slow start's weights rise
             * smoothly: the schedulers go by ratios. */
            svc->sched[i].weight = m->weight * m->check.ramp / 10;
        }
        lb_scheduler_reconfigure(svc->scheduler, svc->sched,
                                 svc->n_members);
        svc->sched_stale = false;
    }
}

struct lb_member *
lb_service_pick(struct lb_service *svc, uint32_t hash)
{
    lb_service_refresh(svc);
    size_t idx = lb_scheduler_pick(svc->scheduler, svc->sched,
                                   svc->n_members, hash);
    return idx == SIZE_MAX ? NULL : svc->members[idx];
}

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

#ifndef LB_PORTS_H
#define LB_PORTS_H 1

/* A switch's ports: a bit per OpenFlow port number (8 kB).
 *
 * Every packet-in's input port is checked against the switch's ports; a
 * hash set of them (OVS's hmapx) costs a hash and a walk, often cache
 * misses while clients stream in, where this is one bit. */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "bitmap.h"
#include "flow.h"

struct lb_ports {
    unsigned long bits[BITMAP_N_LONGS(UINT16_MAX + 1)];
    size_t n;
};

static inline void
lb_ports_clear(struct lb_ports *ports)
{
    memset(ports, 0, sizeof *ports);
}

static inline bool
lb_ports_contains(const struct lb_ports *ports, ofp_port_t port)
{
    return bitmap_is_set(ports->bits, ofp_to_u16(port));
}

static inline void
lb_ports_add(struct lb_ports *ports, ofp_port_t port)
{
    if (!lb_ports_contains(ports, port)) {
        bitmap_set1(ports->bits, ofp_to_u16(port));
        ports->n++;
    }
}

static inline void
lb_ports_remove(struct lb_ports *ports, ofp_port_t port)
{
    if (lb_ports_contains(ports, port)) {
        bitmap_set0(ports->bits, ofp_to_u16(port));
        ports->n--;
    }
}

#endif /* lb-ports.h */

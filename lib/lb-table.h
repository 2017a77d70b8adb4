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

#ifndef LB_TABLE_H
#define LB_TABLE_H 1

/* A hash table of clients or sessions, on OVS's hmap, that grows without
 * stopping the balancer and stays sparse.
 *
 * An hmap doubles by moving all its entries at once: at a million entries,
 * tens of milliseconds during which no client is served.  An lb_table that
 * must grow makes a new, empty hmap four times as large (cleared ahead, a
 * little at each insertion) and moves the old one's entries over a few
 * buckets at each insertion; until they have all moved, lookups look in
 * both.
 *
 * Every new client looks up a key that is not there (as a client, then as
 * a session): a walk down a whole bucket, each entry a cache miss once the
 * table outgrows the caches.  An hmap lets a bucket hold two entries on
 * average; an lb_table keeps it under one half. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/hmap.h"

/* The most lookups loaded ahead at once: about a read's packet-ins. */
#define LB_TABLE_PENDING 512

struct lb_table {
    struct hmap cur;            /* Where entries are added. */
    struct hmap old;            /* Entries still to move, after growing... */
    size_t moved;               /* ...from this bucket of 'old' on. */

    /* The bucket array for the next growth, cleared up to 'next_cleared'
     * bytes, or NULL. */
    struct hmap_node **next;
    size_t next_cleared;

    /* Hashes whose buckets lb_table_prefetch() started loading, for
     * lb_table_prefetch_entries() to load the entries they point to. */
    uint32_t pending[LB_TABLE_PENDING];
    size_t n_pending;
};

void lb_table_init(struct lb_table *);
void lb_table_destroy(struct lb_table *);
void lb_table_reserve(struct lb_table *, size_t n);
void lb_table_reserve_ahead(struct lb_table *, size_t n);
void lb_table_swap(struct lb_table *, struct lb_table *);

void lb_table_insert(struct lb_table *, struct hmap_node *, uint32_t hash);
void lb_table_remove(struct lb_table *, struct hmap_node *);
void lb_table_settle(struct lb_table *);
bool lb_table_settle_some(struct lb_table *, size_t n_buckets);
struct hmap_node *lb_table_walk(const struct lb_table *,
                                struct hmap_position *, size_t *n_buckets);
void lb_table_prefetch(struct lb_table *, uint32_t hash);
void lb_table_prefetch_entries(struct lb_table *);

static inline size_t
lb_table_count(const struct lb_table *t)
{
    return hmap_count(&t->cur) + hmap_count(&t->old);
}

/* Has lb_table_walk() from '*pos' reached the end of 't'? */
static inline bool
lb_table_walk_done(const struct lb_table *t, const struct hmap_position *pos)
{
    return pos->bucket > t->cur.mask;
}

static inline size_t
lb_table_buckets(const struct lb_table *t)
{
    return t->cur.mask + 1;
}

/* Iterates NODE over the entries of TABLE with HASH: those in 'cur', then
 * those still in 'old'. */
#define LB_TABLE_FOR_EACH_WITH_HASH(NODE, MEMBER, HASH, TABLE)            \
    for (const struct hmap *table__ = &(TABLE)->cur;                     \
         table__;                                                        \
         table__ = (table__ == &(TABLE)->cur && hmap_count(&(TABLE)->old) \
                    ? &(TABLE)->old : NULL))                             \
        HMAP_FOR_EACH_WITH_HASH (NODE, MEMBER, HASH, table__)

#endif /* lb-table.h */

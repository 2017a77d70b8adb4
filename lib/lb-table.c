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
#include "lib/lb-table.h"

#include <string.h>
#include "lib/lb-hugemem.h"
#include "util.h"

/* Buckets per entry, at the most entries: a table grows when it has half
 * as many entries as buckets. */
#define LB_TABLE_BUCKETS_PER_ENTRY 2

/* A table grows four times larger: each entry is moved a third of a time
 * on average, where doubling would move it once.  (Moving an entry is two
 * cache misses, once the table outgrows the caches.) */
#define LB_TABLE_GROWTH 4

/* Buckets of 'old' moved at each insertion.  The next growth comes after
 * as many insertions as 1.5 times the old buckets: moving 1 per insertion
 * would finish in time. */
#define LB_TABLE_MOVES 4

/* How many buckets ahead of the move their entries are loaded. */
#define LB_TABLE_AHEAD 8

/* Bytes of the next bucket array cleared at each insertion.  Clearing
 * (and the kernel's first touch of each page) costs about 1 ms per 2 MB:
 * done at once when the table grows, a stall of milliseconds.  The next
 * array is made when the table is half way to growing and cleared a little
 * at each insertion: 32 bytes per bucket of the table (4 times as many
 * buckets of 8 bytes), in a quarter as many insertions as buckets, is 128
 * bytes per insertion. */
#define LB_TABLE_CLEAR 256

void
lb_table_init(struct lb_table *t)
{
    hmap_init(&t->cur);
    hmap_init(&t->old);
    t->moved = 0;
    t->next = NULL;
    t->next_cleared = 0;
    t->n_pending = 0;
}

/* Frees the buckets; the entries are the caller's. */
void
lb_table_destroy(struct lb_table *t)
{
    hmap_destroy(&t->cur);
    hmap_destroy(&t->old);
    free(t->next);
}

/* Moves up to 'n' buckets of 'old' to 'cur'. */
static void
move_buckets(struct lb_table *t, size_t n)
{
    if (!hmap_count(&t->old)) {
        return;
    }
    for (; n && t->moved <= t->old.mask; n--, t->moved++) {
        /* Each entry moved is two cache misses (itself, and its new
         * bucket), unless they are loaded ahead: the entry first, then,
         * once it is there, its new bucket. */
        size_t ahead = t->moved + 2 * LB_TABLE_AHEAD;
        if (ahead <= t->old.mask && t->old.buckets[ahead]) {
            OVS_PREFETCH(t->old.buckets[ahead]);
        }
        ahead = t->moved + LB_TABLE_AHEAD;
        if (ahead <= t->old.mask && t->old.buckets[ahead]) {
            OVS_PREFETCH(&t->cur.buckets[t->old.buckets[ahead]->hash
                                         & t->cur.mask]);
        }

        struct hmap_node *node, *next;
        for (node = t->old.buckets[t->moved]; node; node = next) {
            next = node->next;
            hmap_insert_fast(&t->cur, node, node->hash);
            t->old.n--;
        }
        t->old.buckets[t->moved] = NULL;
    }
    if (!hmap_count(&t->old)) {
        hmap_destroy(&t->old);
        hmap_init(&t->old);
        t->moved = 0;
    }
}

/* Moves everything still in 'old', at once: for iterating 'cur' alone. */
void
lb_table_settle(struct lb_table *t)
{
    move_buckets(t, SIZE_MAX);
}

/* Moves up to 'n_buckets' buckets of what a growth left in 'old' to 'cur',
 * and returns true if nothing is left there: a walk of 'cur' (see
 * lb_table_walk()) then sees every entry.  For a walk in slices, where
 * lb_table_settle() would move the rest of a growth of millions of entries
 * at once. */
bool
lb_table_settle_some(struct lb_table *t, size_t n_buckets)
{
    move_buckets(t, n_buckets);
    return !hmap_count(&t->old);
}

/* The size in bytes of the bucket array that comes after 'cur''s. */
static size_t
next_size(const struct lb_table *t)
{
    return LB_TABLE_GROWTH * (t->cur.mask + 1) * sizeof *t->cur.buckets;
}

/* Clears up to 'n' more bytes of the next bucket array. */
static void
clear_next(struct lb_table *t, size_t n)
{
    size_t size = next_size(t);
    n = MIN(n, size - t->next_cleared);
    memset((char *) t->next + t->next_cleared, 0, n);
    t->next_cleared += n;
}

/* Makes the next bucket array, if it is not there yet, to clear from the
 * start. */
static void
make_next(struct lb_table *t)
{
    if (!t->next) {
        t->next = lb_hugemem_alloc(next_size(t));
        t->next_cleared = 0;
    }
}

/* Makes 'buckets', 'n_buckets' of them and cleared, the bucket array of
 * 'cur', which must be empty, in place of the one it has. */
static void
set_cur_buckets(struct lb_table *t, struct hmap_node **buckets,
                size_t n_buckets)
{
    hmap_destroy(&t->cur);
    t->cur.buckets = buckets;
    t->cur.mask = n_buckets - 1;
    t->cur.n = 0;
}

/* Makes 'cur', with everything in it, 'old', to move a little at a time,
 * and 'cur' a new, empty table of LB_TABLE_GROWTH times as many buckets. */
static void
grow(struct lb_table *t)
{
    /* Anything not yet moved since the last growth goes now (only
     * removals could leave some). */
    lb_table_settle(t);
    make_next(t);
    clear_next(t, SIZE_MAX);

    size_t n_buckets = next_size(t) / sizeof *t->cur.buckets;
    hmap_swap(&t->cur, &t->old);
    t->moved = 0;
    set_cur_buckets(t, t->next, n_buckets);
    t->next = NULL;
    t->next_cleared = 0;
}

/* Makes room for 'n' entries (moving what is there at once). */
void
lb_table_reserve(struct lb_table *t, size_t n)
{
    while (LB_TABLE_BUCKETS_PER_ENTRY * n > t->cur.mask + 1) {
        grow(t);
        lb_table_settle(t);
    }
}

/* Gives 't', which must be empty, room for 'n' entries such that none of
 * the first 'n' insertions makes or clears a bucket array (after
 * lb_table_reserve() the next one is made from n/2 on): at least
 * 2 * LB_TABLE_BUCKETS_PER_ENTRY buckets per entry, cleared now, in one
 * array of the least power of 2 rather than by growing to it (which could
 * give four times as many). */
void
lb_table_reserve_ahead(struct lb_table *t, size_t n)
{
    size_t n_buckets = 2 * LB_TABLE_BUCKETS_PER_ENTRY * n;

    ovs_assert(!lb_table_count(t));
    if (n_buckets <= lb_table_buckets(t)) {
        return;
    }
    n_buckets = 1ULL << log_2_ceil(n_buckets);
    free(t->next);
    t->next = NULL;
    t->next_cleared = 0;

    size_t size = n_buckets * sizeof *t->cur.buckets;
    set_cur_buckets(t, memset(lb_hugemem_alloc(size), 0, size), n_buckets);
}

/* Exchanges the entries and bucket arrays of 'a' and 'b'. */
void
lb_table_swap(struct lb_table *a, struct lb_table *b)
{
    struct lb_table tmp = *a;

    *a = *b;
    *b = tmp;
    /* An hmap with one bucket points into itself. */
    hmap_moved(&a->cur);
    hmap_moved(&a->old);
    hmap_moved(&b->cur);
    hmap_moved(&b->old);
}

void
lb_table_insert(struct lb_table *t, struct hmap_node *node, uint32_t hash)
{
    size_t n_buckets = t->cur.mask + 1;
    size_t n = lb_table_count(t);

    move_buckets(t, LB_TABLE_MOVES);
    if (n >= n_buckets / (2 * LB_TABLE_BUCKETS_PER_ENTRY)) {
        make_next(t);
        clear_next(t, LB_TABLE_CLEAR);
    }
    if (n >= n_buckets / LB_TABLE_BUCKETS_PER_ENTRY) {
        grow(t);
    }
    hmap_insert_fast(&t->cur, node, hash);
}

void
lb_table_remove(struct lb_table *t, struct hmap_node *node)
{
    if (hmap_count(&t->old) && (node->hash & t->old.mask) >= t->moved) {
        /* Not moved yet, if it was there before the growth. */
        struct hmap_node **p = &t->old.buckets[node->hash & t->old.mask];
        for (; *p; p = &(*p)->next) {
            if (*p == node) {
                *p = node->next;
                t->old.n--;
                return;
            }
        }
    }
    hmap_remove(&t->cur, node);
}

/* Returns the entry of 'cur' at '*pos' and moves '*pos' past it, as OVS's
 * hmap_at_position() does, but looks at no more than '*n_buckets' buckets,
 * taking those it left from it: a walk of a large, sparse table (memory
 * set aside for millions of clients) must not stall the main loop.  Returns
 * NULL at the end of 'cur', where lb_table_walk_done() is true, or when
 * '*n_buckets' reaches 0. */
struct hmap_node *
lb_table_walk(const struct lb_table *t, struct hmap_position *pos,
              size_t *n_buckets)
{
    const struct hmap *map = &t->cur;

    if (!hmap_count(map)) {
        pos->bucket = map->mask + 1;
    }
    for (; *n_buckets && pos->bucket <= map->mask; (*n_buckets)--) {
        struct hmap_node *node = map->buckets[pos->bucket];
        for (size_t i = 0; node && i < pos->offset; i++) {
            node = node->next;
        }
        if (node) {
            pos->offset++;
            return node;
        }
        pos->bucket++;
        pos->offset = 0;
    }
    return NULL;
}

/* Starts loading the buckets where an entry with 'hash' would be, and
 * remembers 'hash' for lb_table_prefetch_entries(). */
void
lb_table_prefetch(struct lb_table *t, uint32_t hash)
{
    if (t->n_pending >= LB_TABLE_PENDING) {
        lb_table_prefetch_entries(t);
    }
    t->pending[t->n_pending++] = hash;
    OVS_PREFETCH(&t->cur.buckets[hash & t->cur.mask]);
    if (hmap_count(&t->old)) {
        OVS_PREFETCH(&t->old.buckets[hash & t->old.mask]);
    }
}

static void
prefetch_entry(const struct hmap *map, uint32_t hash)
{
    const struct hmap_node *node = map->buckets[hash & map->mask];
    if (node) {
        OVS_PREFETCH(node);
    }
}

/* Starts loading the first entry of each bucket that lb_table_prefetch()
 * loaded since the last call.  A lookup of a key that is not there (every
 * new client's) still reads the hash of each entry in its bucket: a second
 * miss after the bucket's, unless it is loaded ahead too, once the bucket
 * is there. */
void
lb_table_prefetch_entries(struct lb_table *t)
{
    bool old = hmap_count(&t->old) > 0;

    for (size_t i = 0; i < t->n_pending; i++) {
        prefetch_entry(&t->cur, t->pending[i]);
        if (old) {
            prefetch_entry(&t->old, t->pending[i]);
        }
    }
    t->n_pending = 0;
}

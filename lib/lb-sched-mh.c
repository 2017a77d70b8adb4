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

/* Maglev hashing (Eisenbud et al., NSDI 2016), with weights: a consistent
 * hash over a lookup table of prime size M, at least 100 times the number
 * of members.  Each usable member has a permutation of the table's slots,
 * from a hash of its address alone, and the members take turns claiming
 * their next free slot until the table is full; a member of weight w takes
 * a turn in w of every W rounds, W being the highest weight.  A session
 * goes to the member in the slot its client hashes to.
 *
 * The table depends only on the members' addresses, weights and usability,
 * not on their order or on anything that happened before, so every
 * instance, on every switch, before and after a restart, builds the same
 * one.  When one of N members comes or goes, about 1/N of the slots
 * change owner. */

#include <config.h>
#include "lib/lb-scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "util.h"

#define MH_EMPTY UINT16_MAX     /* A slot no member has claimed. */
BUILD_ASSERT_DECL(LB_SCHED_MAX_MEMBERS <= MH_EMPTY);

struct mh_scheduler {
    struct lb_scheduler up;
    uint16_t *table;            /* Member indexes. */
    size_t size;                /* Slots in 'table', a prime. */
};

bool
lb_is_prime(size_t n)
{
    if (n < 2) {
        return false;
    }
    for (size_t d = 2; d * d <= n; d++) {
        if (n % d == 0) {
            return false;
        }
    }
    return true;
}

/* The table size for 'n' members: the first prime after a power of two of
 * at least 65536 and 100 * n.  Growing in such steps keeps the size, and
 * so every slot's owner, unchanged as members are added, most of the
 * time. */
size_t
lb_sched_mh_table_size(size_t n)
{
    size_t size = 65536;

    while (size < 100 * n) {
        size *= 2;
    }
    while (!lb_is_prime(size)) {
        size++;
    }
    return size;
}

static struct lb_scheduler *
mh_create(void)
{
    struct mh_scheduler *mh = xzalloc(sizeof *mh);
    return &mh->up;
}

static void
mh_destroy(struct lb_scheduler *s)
{
    struct mh_scheduler *mh = CONTAINER_OF(s, struct mh_scheduler, up);

    free(mh->table);
    free(mh);
}

/* A usable member while the table is built. */
struct mh_builder {
    const struct lb_sched_member *m;
    uint16_t index;             /* In the members array. */
    uint64_t offset, skip;      /* Its permutation of the slots. */
    uint64_t next;              /* How far it has gone along it. */
    unsigned int credit;        /* Rounds towards its next turn. */
};

static int
compare_builders(const void *a_, const void *b_)
{
    const struct mh_builder *a = a_, *b = b_;
    uint32_t a_ip = ntohl(a->m->ip), b_ip = ntohl(b->m->ip);

    return (a_ip != b_ip ? (a_ip < b_ip ? -1 : 1)
            : a->m->port != b->m->port ? (a->m->port < b->m->port ? -1 : 1)
            : 0);
}

/* Fills the 'size' slots of 'table' (a prime number of them) with the
 * indexes in 'm' of the usable members of weight above 0 that own them, or
 * UINT16_MAX if there are none. */
void
lb_maglev_build(const struct lb_sched_member m[], size_t n, uint16_t *table,
                size_t size)
{
    struct mh_builder *b = xmalloc(MAX(n, 1) * sizeof *b);
    unsigned int max_weight = 0;
    size_t n_b = 0;

    ovs_assert(n <= LB_SCHED_MAX_MEMBERS);
    memset(table, 0xff, size * sizeof *table);

    for (size_t i = 0; i < n; i++) {
        if (m[i].usable && m[i].weight) {
            uint32_t basis = hash_int(m[i].port, 0);
            uint32_t h1 = hash_int((OVS_FORCE uint32_t) m[i].ip, basis);
            uint32_t h2 = hash_int((OVS_FORCE uint32_t) m[i].ip,
                                   basis ^ 0x5bd1e995);

            b[n_b++] = (struct mh_builder) {
                .m = &m[i],
                .index = i,
                .offset = h1 % size,
                .skip = h2 % (size - 1) + 1,
            };
            max_weight = MAX(max_weight, m[i].weight);
        }
    }
    /* The order in which members take turns decides who gets a slot that
     * two want: make it the addresses' order, not the configuration's. */
    qsort(b, n_b, sizeof *b, compare_builders);

    for (size_t filled = 0; n_b && filled < size; ) {
        for (size_t k = 0; k < n_b && filled < size; k++) {
            b[k].credit += b[k].m->weight;
            if (b[k].credit < max_weight) {
                continue;
            }
            b[k].credit -= max_weight;

            size_t slot;
            do {
                slot = (b[k].offset + b[k].next++ * b[k].skip) % size;
            } while (table[slot] != MH_EMPTY);
            table[slot] = b[k].index;
            filled++;
        }
    }
    free(b);
}

static void
mh_reconfigure(struct lb_scheduler *s, const struct lb_sched_member m[],
               size_t n)
{
    struct mh_scheduler *mh = CONTAINER_OF(s, struct mh_scheduler, up);
    size_t size = lb_sched_mh_table_size(n);

    if (size != mh->size) {
        free(mh->table);
        mh->table = xmalloc(size * sizeof *mh->table);
        mh->size = size;
    }
    lb_maglev_build(m, n, mh->table, size);
}

static size_t
mh_pick(struct lb_scheduler *s, const struct lb_sched_member m[], size_t n,
        uint32_t hash)
{
    struct mh_scheduler *mh = CONTAINER_OF(s, struct mh_scheduler, up);
    size_t idx = mh->size ? mh->table[hash % mh->size] : MH_EMPTY;

    if (idx == MH_EMPTY || idx >= n || !m[idx].usable) {
        return SIZE_MAX;
    }
    return idx;
}

const struct lb_scheduler_class lb_sched_mh_class = {
    .name = "mh",
    .description = "maglev hash",
    .create = mh_create,
    .destroy = mh_destroy,
    .reconfigure = mh_reconfigure,
    .pick = mh_pick,
};

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

#ifndef LB_POOL_H
#define LB_POOL_H 1

/* A pool of objects of one size.
 *
 * Every new client costs a client and a session.  From malloc() each is
 * about 200 instructions and 16 bytes of header; from a pool it is a
 * pointer taken off a free list, and the objects sit next to each other in
 * blocks.  Objects freed go back on the list for the next; the blocks go
 * only with the pool. */

#include <stddef.h>
#include <string.h>
#include "openvswitch/list.h"

struct lb_pool {
    size_t size;                /* Of an object, rounded up to a pointer. */
    void *free;                 /* Free objects, each pointing to the next. */
    char *block_next;           /* Unused part of the newest block... */
    char *block_end;            /* ...up to here. */
    size_t block_size;          /* Bytes in the next block. */
    size_t capacity;            /* Objects the blocks hold in all. */
    struct ovs_list blocks;
};

void lb_pool_init(struct lb_pool *, size_t size);
void lb_pool_destroy(struct lb_pool *);
void *lb_pool_alloc_block(struct lb_pool *);

/* Returns a zeroed object.  Inline: a client and a session come from pools
 * for every new client, and their common path is a few loads and stores. */
static inline void *
lb_pool_alloc(struct lb_pool *pool)
{
    void *obj = pool->free;

    if (obj) {
        memcpy(&pool->free, obj, sizeof pool->free);
    } else if (pool->block_end - pool->block_next >= pool->size) {
        obj = pool->block_next;
        pool->block_next += pool->size;
    } else {
        obj = lb_pool_alloc_block(pool);
    }
    return memset(obj, 0, pool->size);
}
void lb_pool_free(struct lb_pool *, void *);
void lb_pool_reserve(struct lb_pool *, size_t n);

static inline size_t
lb_pool_capacity(const struct lb_pool *pool)
{
    return pool->capacity;
}

#endif /* lb-pool.h */

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
#include "lib/lb-pool.h"

#include <string.h>
#include "lib/lb-hugemem.h"
#include "util.h"

/* Blocks start small, so that an idle switch costs little, and double up
 * to a huge page. */
#define LB_POOL_FIRST_BLOCK 4096
#define LB_POOL_MAX_BLOCK LB_HUGEMEM_PAGE

/* A block's header; its objects follow. */
struct lb_pool_block {
    struct ovs_list node;       /* In the pool's 'blocks'. */
    uint64_t objects[];         /* Aligned as malloc() would. */
};

void
lb_pool_init(struct lb_pool *pool, size_t size)
{
    pool->size = ROUND_UP(MAX(size, sizeof(void *)), sizeof(uint64_t));
    pool->free = NULL;
    pool->block_next = pool->block_end = NULL;
    pool->block_size = LB_POOL_FIRST_BLOCK;
    pool->capacity = 0;
    ovs_list_init(&pool->blocks);
}

/* Frees every object at once. */
void
lb_pool_destroy(struct lb_pool *pool)
{
    struct lb_pool_block *block;

    LIST_FOR_EACH_POP (block, node, &pool->blocks) {
        free(block);
    }
    pool->free = NULL;
    pool->block_next = pool->block_end = NULL;
    pool->capacity = 0;
}

/* Adds a block to 'pool' and returns where its objects start; '*n' is set
 * to how many it holds. */
static char *
add_block(struct lb_pool *pool, size_t *n)
{
    *n = MAX(1, (pool->block_size - sizeof(struct lb_pool_block))
                / pool->size);

    /* The whole block size, so that a huge page is a block. */
    struct lb_pool_block *block = lb_hugemem_alloc(
        MAX(pool->block_size, sizeof *block + *n * pool->size));
    ovs_list_push_back(&pool->blocks, &block->node);
    pool->block_size = MIN(2 * pool->block_size, LB_POOL_MAX_BLOCK);
    pool->capacity += *n;
    return (char *) block->objects;
}

/* lb_pool_alloc()'s slow path: the free list is empty and the newest block
 * full.  Returns an object of a new block (lb_pool_alloc() zeroes it). */
void *
lb_pool_alloc_block(struct lb_pool *pool)
{
    size_t n;

    pool->block_next = add_block(pool, &n);
    pool->block_end = pool->block_next + n * pool->size;

    void *obj = pool->block_next;
    pool->block_next += pool->size;
    return obj;
}

/* Sets aside blocks for at least 'n' more objects, on the free list in the
 * order of their addresses, and writes every object now: the pages that
 * the kernel would otherwise give one at a time, at a page fault each,
 * while objects are allocated are all given here. */
void
lb_pool_reserve(struct lb_pool *pool, size_t n)
{
    void **tail = &pool->free;

    while (*tail) {
        tail = *tail;
    }
    for (size_t added = 0; added < n; ) {
        size_t n_block;
        char *obj = add_block(pool, &n_block);

        for (size_t i = 0; i < n_block; i++, obj += pool->size) {
            *tail = obj;
            tail = (void **) obj;
        }
        *tail = NULL;
        added += n_block;
    }
}

/* Returns 'obj', from lb_pool_alloc() on 'pool', to the pool. */
void
lb_pool_free(struct lb_pool *pool, void *obj)
{
    if (obj) {
        memcpy(obj, &pool->free, sizeof pool->free);
        pool->free = obj;
    }
}

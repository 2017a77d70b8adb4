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
#include "lib/lb-hugemem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "util.h"

static bool enabled;

void
lb_hugemem_enable(void)
{
    enabled = true;
}

void *
lb_hugemem_alloc(size_t size)
{
    if (!enabled || size < LB_HUGEMEM_PAGE) {
        return xmalloc(size);
    }

    void *p;
    if (posix_memalign(&p, LB_HUGEMEM_PAGE, size)) {
        out_of_memory();
    }
#ifdef MADV_HUGEPAGE
    /* Only advice: a kernel without huge pages says EINVAL, and 4 kB pages
     * work as well, only slower. */
    madvise(p, ROUND_DOWN(size, LB_HUGEMEM_PAGE), MADV_HUGEPAGE);
#endif
    return p;
}

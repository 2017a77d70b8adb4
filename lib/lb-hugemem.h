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

#ifndef LB_HUGEMEM_H
#define LB_HUGEMEM_H 1

/* Memory for the client and session tables and pools, in huge pages if
 * asked for (ovs-balancer --huge-pages) and the kernel gives them.
 *
 * Every new client's entries land in memory not touched before: in 4 kB
 * pages, a page fault every 4 kB (about a fifth of the balancer's time
 * while clients arrive at full rate), and in tables of many megabytes a TLB
 * miss at nearly every lookup.  Once lb_hugemem_enable() is called,
 * allocations of 2 MB or more are aligned to 2 MB and advised to the kernel
 * for transparent huge pages (which it gives when
 * /sys/kernel/mm/transparent_hugepage/enabled says "madvise" or "always"):
 * one fault per 2 MB.  The price is the fault itself: the kernel finds and
 * clears 2 MB at once, a stall of a fraction of a millisecond, and of
 * several on a VM whose host backs its memory only when touched, which is
 * why it is not the default.  Other allocations (all of them, without
 * it) come from malloc(), so that an idle switch stays small.  Either is
 * freed with free(). */

#include <stddef.h>

#define LB_HUGEMEM_PAGE (2 * 1024 * 1024)

void lb_hugemem_enable(void);
void *lb_hugemem_alloc(size_t size);

#endif /* lb-hugemem.h */

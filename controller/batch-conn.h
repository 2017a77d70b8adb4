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

#ifndef BATCH_CONN_H
#define BATCH_CONN_H 1

/* An OpenFlow connection with batched I/O.
 *
 * OVS's vconn reads each message with two recv() calls and sends each with
 * its own send(), which caps a controller near 100,000 flow setups a
 * second.  A batch_conn reads large chunks and frames the messages itself,
 * and sends everything queued in its transmit buffer in as few writes as
 * the socket takes.  ovs-balancer's switch connections and the benchmark
 * tool both use it. */

#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/ofpbuf.h"

struct ofp_header;
struct stream;

struct batch_conn {
    struct stream *stream;      /* Owned; NULL once closed. */
    struct ofpbuf rx;           /* Received bytes not yet framed. */
    struct ofpbuf aligned;      /* A message copied to an aligned place. */
    struct ofpbuf tx;           /* Messages not yet sent. */
};

/* Receive and transmit buffers that many batch_conns use in turn, each
 * while it reads and answers a burst (batch_conn_borrow() to
 * batch_conn_give_back()), so that the bytes just read and the answers
 * being written stay in the CPU's cache however many connections there
 * are: with a buffer of its own each, 64 connections' bursts go through
 * megabytes of memory.  Each keeps only a partial message, and answers that
 * its socket did not take, in buffers of its own. */
struct batch_conn_shared {
    struct ofpbuf rx;
    struct ofpbuf tx;
    bool tx_lent;               /* Whether 'tx' is lent now. */
};

void batch_conn_init(struct batch_conn *, size_t size);
void batch_conn_open(struct batch_conn *, struct stream *);
void batch_conn_close(struct batch_conn *);
void batch_conn_destroy(struct batch_conn *);

int batch_conn_read(struct batch_conn *, size_t size, int *error);
const struct ofp_header *batch_conn_next(struct batch_conn *, int *error);
void batch_conn_compact(struct batch_conn *);
int batch_conn_flush(struct batch_conn *);
void batch_conn_wait(const struct batch_conn *, bool recv);

void batch_conn_shared_init(struct batch_conn_shared *, size_t size);
void batch_conn_borrow(struct batch_conn *, struct batch_conn_shared *);
void batch_conn_give_back(struct batch_conn *, struct batch_conn_shared *);

#endif /* batch-conn.h */

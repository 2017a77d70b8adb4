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
#include "controller/batch-conn.h"

#include <errno.h>
#include <stdio.h>

#include "lib/lb-ofp.h"
#include "stream.h"
#include "util.h"

/* Initializes 'bc', without a stream yet, with buffers of 'size' bytes to
 * start with. */
void
batch_conn_init(struct batch_conn *bc, size_t size)
{
    bc->stream = NULL;
    ofpbuf_init(&bc->rx, size);
    ofpbuf_init(&bc->aligned, 0);
    ofpbuf_init(&bc->tx, size);
}

/* Makes 'stream' (which 'bc' takes over) the connection, with empty
 * buffers. */
void
batch_conn_open(struct batch_conn *bc, struct stream *stream)
{
    batch_conn_close(bc);
    bc->stream = stream;
}

/* Closes the stream, if any, and drops what was not read or sent. */
void
batch_conn_close(struct batch_conn *bc)
{
    stream_close(bc->stream);
    bc->stream = NULL;
    ofpbuf_clear(&bc->rx);
    ofpbuf_clear(&bc->tx);
}

void
batch_conn_destroy(struct batch_conn *bc)
{
    stream_close(bc->stream);
    ofpbuf_uninit(&bc->rx);
    ofpbuf_uninit(&bc->aligned);
    ofpbuf_uninit(&bc->tx);
}

/* Reads at most 'size' bytes once.  Returns the number read, 0 if there was
 * nothing to read, or -1 if the connection failed, with '*error' set to a
 * positive errno value or EOF. */
int
batch_conn_read(struct batch_conn *bc, size_t size, int *error)
{
    ofpbuf_prealloc_tailroom(&bc->rx, size);
    int retval = stream_recv(bc->stream, ofpbuf_tail(&bc->rx), size);
    if (retval > 0) {
        bc->rx.size += retval;
        return retval;
    } else if (retval == -EAGAIN) {
        return 0;
    }
    *error = retval ? -retval : EOF;
    return -1;
}

/* Returns the next whole message read, or NULL if there is none (then
 * '*error' is EPROTO if the next message's length is impossible).  The
 * message stays valid until the next call. */
const struct ofp_header *
batch_conn_next(struct batch_conn *bc, int *error)
{
    return lb_ofp_frame(&bc->rx, &bc->aligned, error);
}

/* Moves the data in 'b' to the start of its buffer. */
static void
move_to_front(struct ofpbuf *b)
{
    ofpbuf_shift(b, -(int) ofpbuf_headroom(b));
}

/* Moves a partial message to the front, so that the buffer does not grow:
 * for after batch_conn_next() has returned NULL. */
void
batch_conn_compact(struct batch_conn *bc)
{
    move_to_front(&bc->rx);
}

/* Sends what is queued in 'tx', in as few writes as the socket takes.
 * Returns 0, or a positive errno value if the connection failed. */
int
batch_conn_flush(struct batch_conn *bc)
{
    while (bc->stream && bc->tx.size) {
        int retval = stream_send(bc->stream, bc->tx.data, bc->tx.size);
        if (retval > 0) {
            ofpbuf_pull(&bc->tx, retval);
        } else if (retval == -EAGAIN) {
            /* Once more has been sent than is left, moving what is left to
             * the front costs less than what was sent.  Done once the data
             * has crept past the buffer's middle, before it reaches the end
             * and the buffer has to grow, and not on every partial send
             * before: most of those would move it for nothing. */
            if (ofpbuf_headroom(&bc->tx) >= bc->tx.size
                && ofpbuf_tailroom(&bc->tx) < bc->tx.allocated / 2) {
                move_to_front(&bc->tx);
            }
            return 0;
        } else {
            return -retval;
        }
    }
    if (!bc->tx.size) {
        /* Start over at the front, so the buffer does not creep. */
        ofpbuf_clear(&bc->tx);
    }
    return 0;
}

/* Wakes the poll loop when the stream has something to do: to read, if
 * 'recv', and to send, if anything is queued. */
void
batch_conn_wait(const struct batch_conn *bc, bool recv)
{
    if (bc->stream) {
        stream_run_wait(bc->stream);
        if (recv) {
            stream_recv_wait(bc->stream);
        }
        if (bc->tx.size) {
            stream_send_wait(bc->stream);
        }
    }
}

void
batch_conn_shared_init(struct batch_conn_shared *sh, size_t size)
{
    ofpbuf_init(&sh->rx, size);
    ofpbuf_init(&sh->tx, size);
    sh->tx_lent = false;
}

static void
swap_buffers(struct ofpbuf *a, struct ofpbuf *b)
{
    struct ofpbuf tmp = *a;
    *a = *b;
    *b = tmp;
}

/* Makes 'sh''s buffers 'bc''s, until batch_conn_give_back(): 'bc''s
 * receive buffer starts with what 'bc' kept, and its transmit buffer is
 * the shared one only if nothing of its own waits to be sent (otherwise
 * what it sends would go ahead of that). */
void
batch_conn_borrow(struct batch_conn *bc, struct batch_conn_shared *sh)
{
    /* While lent, 'sh' holds 'bc''s own buffers. */
    swap_buffers(&bc->rx, &sh->rx);
    ofpbuf_clear(&bc->rx);
    if (sh->rx.size) {
        ofpbuf_put(&bc->rx, sh->rx.data, sh->rx.size);
    }
    sh->tx_lent = !bc->tx.size;
    if (sh->tx_lent) {
        swap_buffers(&bc->tx, &sh->tx);
        ofpbuf_clear(&bc->tx);
    }
}

/* Gives back what batch_conn_borrow() lent, moving what is left in the
 * shared receive buffer (a partial message) to 'bc''s own.  Answers that
 * the socket did not take stay where they are: 'bc' keeps that transmit
 * buffer, and its own, empty, becomes the shared one. */
void
batch_conn_give_back(struct batch_conn *bc, struct batch_conn_shared *sh)
{
    ofpbuf_clear(&sh->rx);
    if (bc->rx.size) {
        ofpbuf_put(&sh->rx, bc->rx.data, bc->rx.size);
    }
    swap_buffers(&bc->rx, &sh->rx);
    if (sh->tx_lent) {
        if (!bc->tx.size) {
            swap_buffers(&bc->tx, &sh->tx);
        }
        sh->tx_lent = false;
    }
}

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
#include "controller/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dirs.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "socket-util.h"
#include "stream-fd.h"
#include "stream-provider.h"
#include "stream.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(listener);

struct listener {
    struct pstream *pstream;
};

/* The socket of the stream that the last accept made, or -1. */
static int accepted_fd = -1;

static int
accept_unix(int fd, const struct sockaddr_storage *ss, size_t ss_len,
            struct stream **streamp)
{
    /* Named as OVS names them: by the peer's bound name, or numbered. */
    const struct sockaddr_un *sun = (const struct sockaddr_un *) ss;
    size_t path_ofs = offsetof(struct sockaddr_un, sun_path);
    size_t len = (ss_len > path_ofs
                  ? strnlen(sun->sun_path, ss_len - path_ofs) : 0);
    static unsigned int next_idx;
    char *name = (len
                  ? xasprintf("unix:%.*s", (int) len, sun->sun_path)
                  : xasprintf("unix#%u", next_idx++));

    int error = new_fd_stream(name, fd, 0, AF_UNIX, streamp);
    accepted_fd = error ? -1 : fd;
    return error;
}

static int
accept_tcp(int fd, const struct sockaddr_storage *ss,
           size_t ss_len OVS_UNUSED, struct stream **streamp)
{
    struct ds name = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&name, "tcp:");
    ss_format_address(ss, &name);
    ds_put_format(&name, ":%"PRIu16, ss_get_port(ss));

    /* OpenFlow messages are small and answered at once. */
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);

    int error = new_fd_stream(ds_steal_cstr(&name), fd, 0, AF_INET,
                              streamp);
    accepted_fd = error ? -1 : fd;
    return error;
}

static int
open_punix(const char *name, const char *suffix, struct pstream **pstreamp)
{
    /* A relative name is in the run directory, as for OVS's punix:. */
    char *path = abs_file_name(ovs_rundir(), suffix);
    int fd = make_unix_socket(SOCK_STREAM, true, path, NULL);
    if (fd < 0) {
        int error = -fd;
        VLOG_ERR("%s: binding failed: %s", path, ovs_strerror(error));
        free(path);
        return error;
    }
    if (listen(fd, 64) < 0) {
        int error = errno;
        VLOG_ERR("%s: listen: %s", name, ovs_strerror(error));
        close(fd);
        free(path);
        return error;
    }
    return new_fd_pstream(xstrdup(name), fd, accept_unix, path, pstreamp);
}

static int
open_ptcp(const char *suffix, struct pstream **pstreamp)
{
    struct sockaddr_storage ss;
    int fd = inet_open_passive(SOCK_STREAM, suffix, OFP_PORT, &ss,
                               DSCP_DEFAULT, true);
    if (fd < 0) {
        return -fd;
    }

    struct ds name = DS_EMPTY_INITIALIZER;
    ds_put_format(&name, "ptcp:%"PRIu16":", ss_get_port(&ss));
    ss_format_address(&ss, &name);
    int error = new_fd_pstream(ds_steal_cstr(&name), fd, accept_tcp, NULL,
                               pstreamp);
    if (!error) {
        pstream_set_bound_port(*pstreamp, htons(ss_get_port(&ss)));
    }
    return error;
}

/* Listens on 'name', a passive OpenFlow connection method (punix:FILE,
 * ptcp:[PORT][:IP], pssl:[PORT][:IP]). */
int
listener_open(const char *name, struct listener **listenerp)
{
    struct pstream *pstream;
    int error;

    if (!strncmp(name, "punix:", 6)) {
        error = open_punix(name, name + 6, &pstream);
    } else if (!strncmp(name, "ptcp:", 5)) {
        error = open_ptcp(name + 5, &pstream);
    } else {
        error = pstream_open_with_default_port(name, OFP_PORT, &pstream,
                                               DSCP_DEFAULT);
    }
    if (error) {
        *listenerp = NULL;
        return error;
    }
    *listenerp = xmalloc(sizeof **listenerp);
    (*listenerp)->pstream = pstream;
    return 0;
}

void
listener_close(struct listener *l)
{
    if (l) {
        pstream_close(l->pstream);
        free(l);
    }
}

/* Accepts a connection, as pstream_accept() does, and says in '*fd' its
 * socket, or -1 if that is not known. */
int
listener_accept(struct listener *l, struct stream **streamp, int *fd)
{
    accepted_fd = -1;
    int error = pstream_accept(l->pstream, streamp);
    *fd = error ? -1 : accepted_fd;
    accepted_fd = -1;
    return error;
}

void
listener_wait(struct listener *l)
{
    pstream_wait(l->pstream);
}

const char *
listener_get_name(const struct listener *l)
{
    return pstream_get_name(l->pstream);
}

/* The TCP port it listens on (in network byte order), or 0. */
ovs_be16
listener_get_bound_port(const struct listener *l)
{
    return pstream_get_bound_port(l->pstream);
}

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

#ifndef LISTENER_H
#define LISTENER_H 1

/* Listening for switches, saying which socket each connection has.
 *
 * OVS's streams do not say which socket they read from, and with many
 * switches the balancer reads only the connections whose sockets have
 * something (see swconn.c).  So for punix: and ptcp: the listening socket
 * is opened here, as OVS's pstream_open() would open it (the same names,
 * options and log messages), and wrapped in an OVS pstream whose accepted
 * streams' sockets are known.  Other methods (pssl:) are OVS's own, and
 * their connections' sockets are not known. */

#include "openvswitch/types.h"

struct listener;
struct stream;

int listener_open(const char *name, struct listener **);
void listener_close(struct listener *);

int listener_accept(struct listener *, struct stream **, int *fd);
void listener_wait(struct listener *);
const char *listener_get_name(const struct listener *);
ovs_be16 listener_get_bound_port(const struct listener *);

#endif /* listener.h */

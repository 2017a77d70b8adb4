#! /usr/bin/env python3
# A scriptable fake OpenFlow switch, for testing ovs-balancer with input a
# real switch would not send, or more of it than a test could inject
# through one.
#
# It connects to ovs-balancer, does the switch side of the handshake
# (OpenFlow 1.0 or 1.3), answers echo, barrier and stats requests (with no
# flows), answers the balancer's ARP probes for the servers it is told to
# play, and then runs its actions in order:
#
#   flood:N[:PORTS[:FIRST]]
#                     N packet-ins, each an ICMP echo to the VIP from a new
#                     client (10.1.0.0 + i, MAC 02:00:00 + i, for i from
#                     FIRST, default 0) on one of PORTS (default 1,2,3,4)
#   pieces:N[:PORTS[:FIRST]]
#                     as flood, but each message written 5 bytes at a time,
#                     so that the balancer reads most of them in parts
#   deaf:N:FILE       as flood, but reading nothing: writes until the
#                     balancer stops taking them (the socket stays full for
#                     2 s), then makes FILE and, still deaf, waits until
#                     FILE is removed
#   frame:PORT:HEX    one packet-in from PORT carrying the given frame
#   msg:TYPE[:HEX]    a message of OpenFlow type TYPE with the given body
#   raw:HEX           raw bytes, header included
#   sync              an echo request; waits for its reply, which comes once
#                     the balancer has handled everything sent before it
#
# After each action it checks that the balancer still answers an echo
# request.  At the end it prints what it sent and received.

import argparse
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checksums import csum  # noqa: E402

OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_FEATURES_REQUEST, OFPT_FEATURES_REPLY = 5, 6
OFPT_PACKET_IN, OFPT_PACKET_OUT, OFPT_FLOW_MOD = 10, 13, 14
OF10_STATS_REQUEST, OF10_STATS_REPLY = 16, 17
OF10_BARRIER_REQUEST, OF10_BARRIER_REPLY = 18, 19
OF13_MULTIPART_REQUEST, OF13_MULTIPART_REPLY = 18, 19
OF13_BARRIER_REQUEST, OF13_BARRIER_REPLY = 20, 21
OFPMP_PORT_DESC = 13


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(':'))


def ip_bytes(s):
    return socket.inet_aton(s)


def ip_checksum(data):
    return ~csum(data) & 0xffff


def icmp_echo(src_mac, dst_mac, src_ip, dst_ip):
    icmp = struct.pack('!BBHHH', 8, 0, 0, 0, 0) + b'fake-switch!'
    icmp = icmp[:2] + struct.pack('!H', ip_checksum(icmp)) + icmp[4:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(icmp), 0, 0x4000,
                     64, 1, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack('!H', ip_checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b'\x08\x00' + ip + icmp


def arp_reply(sha, spa, tha, tpa):
    return (tha + sha + b'\x08\x06'
            + struct.pack('!HHBBH', 1, 0x800, 6, 4, 2)
            + sha + spa + tha + tpa)


class FakeSwitch:
    def __init__(self, args):
        self.version = 1 if args.protocol == 'OpenFlow10' else 4
        self.dpid = int(args.dpid, 16)
        self.ports = list(range(1, args.ports + 1))
        self.servers = args.servers
        self.xid = 0
        self.counts = {}
        self.buf = b''
        self.echo_pending = set()
        if args.target.startswith('unix:'):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(args.target[5:])
        else:
            host, port = args.target[4:].rsplit(':', 1)
            self.sock = socket.create_connection((host, int(port)))
        self.out = []
        self.pending = b''      # Written in part: the rest goes first.

    def send(self, type_, body=b'', xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.out.append(struct.pack('!BBHI', self.version, type_,
                                    8 + len(body), xid) + body)
        return xid

    def flush(self):
        """Sends what is queued, reading (and answering) meanwhile: the
        balancer stops reading from a switch that does not read what it
        sends, and each would wait for the other."""
        deadline = time.time() + 30
        while self.out or self.pending:
            self.pending += b''.join(self.out)
            self.out = []
            r, w, _ = select.select([self.sock], [self.sock], [], 1)
            if time.time() > deadline:
                sys.exit('fake-switch: cannot send for 30 s')
            if w:
                self.write_some()
            if r:
                self.receive()

    def write_some(self):
        """Writes as much of 'pending' as the socket takes at once."""
        try:
            sent = self.sock.send(self.pending, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        self.pending = self.pending[sent:]

    def packet_in(self, port, frame):
        if self.version == 1:
            body = struct.pack('!IHHBB', 0xffffffff, len(frame), port, 0, 0)
        else:
            oxm = struct.pack('!HHII', 1, 12, 0x80000004, port) + b'\0' * 4
            body = (struct.pack('!IHBBQ', 0xffffffff, len(frame), 0, 0,
                                0xffffffffffffffff) + oxm + b'\0\0')
        self.send(OFPT_PACKET_IN, body + frame)
        self.count('packet-ins sent')

    def count(self, what, n=1):
        self.counts[what] = self.counts.get(what, 0) + n

    def features_reply(self, xid):
        if self.version == 1:
            body = struct.pack('!QIB3xII', self.dpid, 0, 254, 0, 0)
            for p in self.ports:
                body += struct.pack('!H6s16sIIIIII', p,
                                    bytes([2, 0, 0, 0, 0, p]),
                                    ('p%d' % p).encode(), 0, 0, 0, 0, 0, 0)
        else:
            body = struct.pack('!QIBB2xII', self.dpid, 0, 254, 0, 0, 0)
        self.send(OFPT_FEATURES_REPLY, body, xid)

    def multipart_reply(self, xid, mp_type, msg):
        body = b''
        if mp_type == OFPMP_PORT_DESC:
            for p in self.ports:
                body += struct.pack('!I4x6s2x16sIIIIIIII', p,
                                    bytes([2, 0, 0, 0, 0, p]),
                                    ('p%d' % p).encode(), 0, 0, 0, 0, 0, 0,
                                    0, 0)
        if mp_type == 0xffff:
            # A vendor's (experimenter's) request, such as a flow monitor:
            # an empty reply of the same kind echoes its headers.
            self.send(OF10_STATS_REPLY if self.version == 1
                      else OF13_MULTIPART_REPLY, msg[8:24], xid)
        elif self.version == 1:
            self.send(OF10_STATS_REPLY, struct.pack('!HH', mp_type, 0) + body,
                      xid)
        else:
            self.send(OF13_MULTIPART_REPLY,
                      struct.pack('!HH4x', mp_type, 0) + body, xid)

    def answer_probe(self, msg):
        """Answers a packet-out that carries an ARP probe of a server."""
        if self.version == 1:
            in_port, actions_len = struct.unpack('!HH', msg[12:16])
            frame = msg[16 + actions_len:]
        else:
            actions_len = struct.unpack('!H', msg[16:18])[0]
            frame = msg[24 + actions_len:]
        if len(frame) < 42 or frame[12:14] != b'\x08\x06' \
           or frame[20:22] != b'\x00\x01':
            return
        tpa = socket.inet_ntoa(frame[38:42])
        if tpa in self.servers:
            n = int(tpa.split('.')[-1])
            mac = bytes([0, 0, 0, 0, 0, n])
            self.packet_in(n, arp_reply(mac, frame[38:42], frame[22:28],
                                        frame[28:32]))

    def handle(self, msg):
        version, type_, length, xid = struct.unpack('!BBHI', msg[:8])
        if type_ == OFPT_HELLO:
            pass
        elif type_ == OFPT_ECHO_REQUEST:
            self.send(OFPT_ECHO_REPLY, msg[8:], xid)
        elif type_ == OFPT_ECHO_REPLY:
            self.echo_pending.discard(xid)
        elif type_ == OFPT_FEATURES_REQUEST:
            self.features_reply(xid)
        elif (self.version == 1 and type_ == OF10_STATS_REQUEST) or \
             (self.version == 4 and type_ == OF13_MULTIPART_REQUEST):
            self.multipart_reply(xid, struct.unpack('!H', msg[8:10])[0], msg)
        elif self.version == 1 and type_ == OF10_BARRIER_REQUEST:
            self.send(OF10_BARRIER_REPLY, b'', xid)
        elif self.version == 4 and type_ == OF13_BARRIER_REQUEST:
            self.send(OF13_BARRIER_REPLY, b'', xid)
        elif type_ == OFPT_PACKET_OUT:
            self.count('packet-outs received')
            self.answer_probe(msg)
        elif type_ == OFPT_FLOW_MOD:
            self.count('flow-mods received')
        elif type_ == OFPT_ERROR:
            self.count('errors received')

    def poll(self, timeout):
        self.flush()
        r, _, _ = select.select([self.sock], [], [], timeout)
        if r:
            self.receive()
            self.flush()

    def receive(self):
        data = self.sock.recv(1 << 20)
        if not data:
            sys.exit('fake-switch: the balancer closed the connection')
        self.buf += data
        while len(self.buf) >= 8:
            length = struct.unpack('!H', self.buf[2:4])[0]
            if length < 8:
                sys.exit('fake-switch: bad message from the balancer')
            if len(self.buf) < length:
                break
            msg, self.buf = self.buf[:length], self.buf[length:]
            self.handle(msg)

    def sync(self, what):
        xid = self.send(OFPT_ECHO_REQUEST)
        self.echo_pending.add(xid)
        deadline = time.time() + 30
        while xid in self.echo_pending:
            if time.time() > deadline:
                sys.exit('fake-switch: no echo reply after %s' % what)
            self.poll(0.1)

    def connect(self):
        self.send(OFPT_HELLO)
        # The handshake is done when the balancer has read back its flows,
        # its last step; give it the time to get there.
        deadline = time.time() + 1
        while time.time() < deadline:
            self.poll(0.05)
        self.sync('handshake')

    def flood(self, n, ports, first, piece=0, queue_only=False):
        for i in range(first, first + n):
            ip = struct.pack('!I', 0x0a010000 + i)
            mac = struct.pack('!HI', 0x0200, i)
            self.packet_in(ports[i % len(ports)],
                           icmp_echo(mac, mac_bytes('00:00:00:00:00:fe'), ip,
                                     ip_bytes('10.0.0.254')))
            if piece:
                data = b''.join(self.out)
                self.out = []
                for k in range(0, len(data), piece):
                    self.sock.sendall(data[k:k + piece])
                self.poll(0)
            elif len(self.out) >= 256 and not queue_only:
                self.poll(0)

    def deaf(self, n, marker):
        self.flood(n, [1, 2, 3, 4], 0, queue_only=True)
        self.pending += b''.join(self.out)
        self.out = []
        while self.pending:
            _, w, _ = select.select([], [self.sock], [], 2)
            if not w:
                break
            self.write_some()
        self.count('bytes the balancer did not take while deaf',
                   len(self.pending))
        open(marker, 'w').close()
        while os.path.exists(marker):
            time.sleep(0.05)

    def run(self, action):
        kind, _, arg = action.partition(':')
        if kind in ('flood', 'pieces'):
            n, _, rest = arg.partition(':')
            ports, _, first = rest.partition(':')
            self.flood(int(n), [int(p) for p in ports.split(',')]
                       if ports else [1, 2, 3, 4], int(first or 0),
                       5 if kind == 'pieces' else 0)
        elif kind == 'deaf':
            n, _, marker = arg.partition(':')
            self.deaf(int(n), marker)
        elif kind == 'frame':
            port, _, hexdata = arg.partition(':')
            self.packet_in(int(port), bytes.fromhex(hexdata))
        elif kind == 'msg':
            type_, _, hexdata = arg.partition(':')
            self.send(int(type_), bytes.fromhex(hexdata))
        elif kind == 'raw':
            self.out.append(bytes.fromhex(arg))
        elif kind != 'sync':
            sys.exit('fake-switch: unknown action %s' % action)
        self.sync(action)


def main():
    p = argparse.ArgumentParser(description='A fake OpenFlow switch.')
    p.add_argument('target', help='unix:FILE or tcp:HOST:PORT')
    p.add_argument('actions', nargs='*', help='what to do, in order')
    p.add_argument('-O', '--protocol', default='OpenFlow13',
                   choices=['OpenFlow10', 'OpenFlow13'])
    p.add_argument('--dpid', default='00000000000000aa')
    p.add_argument('--ports', type=int, default=7,
                   help='report ports 1 to N (default 7)')
    p.add_argument('--servers', default='10.0.0.5,10.0.0.6,10.0.0.7',
                   help='servers to answer probes for, on port = last byte')
    p.add_argument('--linger', type=float, default=0,
                   help='stay connected this many seconds at the end')
    args = p.parse_args()
    args.servers = [s for s in args.servers.split(',') if s]

    sw = FakeSwitch(args)
    sw.connect()
    for action in args.actions:
        sw.run(action)
    deadline = time.time() + args.linger
    while time.time() < deadline:
        sw.poll(0.1)
    for what in sorted(sw.counts):
        print('%s: %d' % (what, sw.counts[what]))


if __name__ == '__main__':
    main()

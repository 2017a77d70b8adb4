#! /usr/bin/env python3
# Copyright (c) 2026 The ovs-balancer authors.
# Licensed under the Apache License, Version 2.0.
"""A backend's answers to ovs-balancer's health checks, for the tests.

Reads the last check packet that left a port (from its tx pcap) and prints,
as hex for "ovs-appctl netdev-dummy/receive", what the backend answers:

  check-answer.py PCAP synack        a SYN-ACK to the last SYN (the server's
                                     first sequence number is 1000)
  check-answer.py PCAP rst           a RST to the last SYN
  check-answer.py PCAP data OFS TEXT [fin]
                                     TEXT (with \\r and \\n escapes) at offset
                                     OFS of the answer to the last segment
                                     sent to the server, with FIN if asked
  check-answer.py PCAP udp TEXT      a UDP reply to the last check datagram
  check-answer.py PCAP icmp          ICMP port unreachable about it
"""

import struct
import sys

CHECK_PORT_MIN = 61440
SERVER_ISN = 1000


def packets(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    ofs = 24
    while ofs + 16 <= len(data):
        incl = struct.unpack(endian + 'I', data[ofs + 8:ofs + 12])[0]
        yield data[ofs + 16:ofs + 16 + incl]
        ofs += 16 + incl


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def last_check(path, proto):
    """The last IPv4 'proto' packet from a check port in 'path'."""
    found = None
    for p in packets(path):
        if len(p) < 34 or p[12:14] != b'\x08\x00' or p[23] != proto:
            continue
        ihl = (p[14] & 0xf) * 4
        sport = struct.unpack('!H', p[14 + ihl:16 + ihl])[0]
        if sport >= CHECK_PORT_MIN:
            found = p
    if not found:
        sys.exit('check-answer: no check packet in %s' % path)
    return found


def ipv4(src_mac, dst_mac, src, dst, proto, l4):
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 0, 0x4000, 64,
                     proto, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return dst_mac + src_mac + b'\x08\x00' + ip + l4


def answer_tcp(p, flags, seq, ack, payload=b''):
    ihl = (p[14] & 0xf) * 4
    src, dst = p[26:30], p[30:34]
    sport, dport = struct.unpack('!HH', p[14 + ihl:18 + ihl])
    tcp = struct.pack('!HHIIBBHHH', dport, sport, seq & 0xffffffff,
                      ack & 0xffffffff, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = struct.pack('!4s4sBBH', dst, src, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    return ipv4(p[0:6], p[6:12], dst, src, 6, tcp)


def tcp_fields(p):
    ihl = (p[14] & 0xf) * 4
    seq, ack = struct.unpack('!II', p[18 + ihl:26 + ihl])
    flags = p[14 + ihl + 13]
    hlen = (p[14 + ihl + 12] >> 4) * 4
    total = struct.unpack('!H', p[16:18])[0]
    return seq, ack, flags, total - ihl - hlen


def main():
    path, what = sys.argv[1], sys.argv[2]
    if what in ('synack', 'rst'):
        p = last_check(path, 6)
        seq, _, _, _ = tcp_fields(p)
        if what == 'synack':
            frame = answer_tcp(p, 0x12, SERVER_ISN, seq + 1)
        else:
            frame = answer_tcp(p, 0x14, 0, seq + 1)
    elif what == 'data':
        p = last_check(path, 6)
        seq, _, _, length = tcp_fields(p)
        ofs = int(sys.argv[3])
        text = sys.argv[4].encode().decode('unicode_escape').encode('latin1')
        flags = 0x18 | (0x01 if len(sys.argv) > 5 and sys.argv[5] == 'fin'
                        else 0)
        frame = answer_tcp(p, flags, SERVER_ISN + 1 + ofs, seq + length,
                           text)
    elif what == 'udp':
        p = last_check(path, 17)
        ihl = (p[14] & 0xf) * 4
        src, dst = p[26:30], p[30:34]
        sport, dport = struct.unpack('!HH', p[14 + ihl:18 + ihl])
        payload = sys.argv[3].encode()
        udp = struct.pack('!HHHH', dport, sport, 8 + len(payload), 0)
        udp += payload
        pseudo = struct.pack('!4s4sBBH', dst, src, 0, 17, len(udp))
        udp = (udp[:6] + struct.pack('!H', csum(pseudo + udp) or 0xffff)
               + udp[8:])
        frame = ipv4(p[0:6], p[6:12], dst, src, 17, udp)
    elif what == 'icmp':
        p = last_check(path, 17)
        ihl = (p[14] & 0xf) * 4
        src, dst = p[26:30], p[30:34]
        quote = p[14:14 + ihl + 8]
        icmp = struct.pack('!BBHI', 3, 3, 0, 0) + quote
        icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
        frame = ipv4(p[0:6], p[6:12], dst, src, 1, icmp)
    else:
        sys.exit('check-answer: unknown answer %s' % what)
    print(frame.hex())


if __name__ == '__main__':
    main()

#! /usr/bin/env python3
# Copyright (c) 2026 The ovs-balancer authors.
# Licensed under the Apache License, Version 2.0.
"""A TCP segment as hex, for "ovs-appctl netdev-dummy/receive":

  tcp-segment.py SRC_MAC DST_MAC SRC_IP DST_IP SPORT DPORT FLAGS SEQ ACK

FLAGS is a "|"-separated list of syn, ack, fin, rst, psh.  The checksums
are right, so that conntrack tracks the segments as a real connection.
"""

import importlib.util
import os
import socket
import struct
import sys

spec = importlib.util.spec_from_file_location(
    'check_answer', os.path.join(os.path.dirname(__file__), 'check-answer.py'))
check_answer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_answer)

FLAGS = {'fin': 0x01, 'syn': 0x02, 'rst': 0x04, 'psh': 0x08, 'ack': 0x10}


def main():
    if len(sys.argv) != 10:
        sys.exit(__doc__)
    src_mac, dst_mac, src, dst, sport, dport, flags, seq, ack = sys.argv[1:]
    mac = lambda s: bytes(int(x, 16) for x in s.split(':'))
    src, dst = socket.inet_aton(src), socket.inet_aton(dst)
    bits = 0
    for f in flags.split('|'):
        bits |= FLAGS[f]
    tcp = struct.pack('!HHIIBBHHH', int(sport), int(dport), int(seq),
                      int(ack), 5 << 4, bits, 65535, 0, 0)
    pseudo = struct.pack('!4s4sBBH', src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', check_answer.csum(pseudo + tcp)) \
        + tcp[18:]
    print(check_answer.ipv4(mac(src_mac), mac(dst_mac), src, dst, 6,
                            tcp).hex())


if __name__ == '__main__':
    main()

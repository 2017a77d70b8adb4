#! /usr/bin/env python3
# Checks the IPv4 header checksum and the TCP, UDP or ICMP checksum of every
# IPv4 packet in the pcap files given, and prints one line per file:
# "FILE: N IPv4 packets, checksums good" or the packets that are wrong.
# Exits 1 if any checksum is wrong.  csum() serves other test scripts.

import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return total


def packets(path):
    with open(path, 'rb') as f:
        header = f.read(24)
        magic = struct.unpack('<I', header[:4])[0]
        order = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            caplen = struct.unpack(order + 'IIII', rec)[2]
            yield f.read(caplen)


def check(frame):
    """Returns None for a non-IPv4 frame, else a list of problems."""
    if len(frame) < 34 or frame[12:14] != b'\x08\x00':
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0xf) * 4
    problems = []
    if csum(ip[:ihl]) != 0xffff:
        problems.append('IPv4 header checksum')
    tot_len = struct.unpack('!H', ip[2:4])[0]
    frag = struct.unpack('!H', ip[6:8])[0]
    if frag & 0x3fff:
        return problems        # L4 checksums cover the whole datagram
    proto = ip[9]
    l4 = ip[ihl:tot_len]
    pseudo = ip[12:20] + struct.pack('!BBH', 0, proto, len(l4))
    if proto == 6 and csum(pseudo + l4) != 0xffff:
        problems.append('TCP checksum')
    elif proto == 17 and l4[6:8] != b'\0\0' and csum(pseudo + l4) != 0xffff:
        problems.append('UDP checksum')
    elif proto == 1 and csum(l4) != 0xffff:
        problems.append('ICMP checksum')
    return problems


def main():
    status = 0
    for path in sys.argv[1:]:
        status |= check_file(path)
    sys.exit(status)


def check_file(path):
    n = 0
    bad = []
    for i, frame in enumerate(packets(path)):
        problems = check(frame)
        if problems is None:
            continue
        n += 1
        if problems:
            bad.append('packet %d: bad %s' % (i + 1, ', '.join(problems)))
    if bad:
        print('%s: %s' % (path, '; '.join(bad)))
        return 1
    print('%s: %d IPv4 packets, checksums good' % (path, n))
    return 0


if __name__ == '__main__':
    main()

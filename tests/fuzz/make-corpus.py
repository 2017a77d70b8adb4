#! /usr/bin/env python3
# Writes each "NAME HEX" line of a seed file as the binary file NAME in a
# corpus directory, for libFuzzer.
#
# usage: make-corpus.py SEEDS.TXT DIR

import os
import sys

seeds, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
with open(seeds) as f:
    for line in f:
        line = line.strip()
        if line and not line.startswith('#'):
            name, data = line.split()
            with open(os.path.join(out, name), 'wb') as g:
                g.write(bytes.fromhex(data))

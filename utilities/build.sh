#!/bin/sh
# Builds ovs-balancer from a fresh checkout: installs the Debian packages
# needed, builds Open vSwitch (utilities/build-ovs.sh), then runs boot.sh,
# configure and make as needed.  Quiet unless something fails.
#
# usage: utilities/build.sh [CONFIGURE-ARGS...]

set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

utilities/build-ovs.sh
if test ! -x configure || test configure.ac -nt configure \
   || test m4/ovs-balancer.m4 -nt configure; then
    echo "build: generating configure"
    ./boot.sh > boot.log 2>&1 || { cat boot.log; exit 1; }
fi
if test ! -f Makefile || test configure -nt Makefile || test $# -gt 0; then
    echo "build: configuring"
    ./configure --enable-Werror "$@" > configure.log 2>&1 \
        || { tail -20 configure.log; exit 1; }
fi
echo "build: building ovs-balancer"
make -j"$(($(nproc) + 1))" > make.log 2>&1 || { tail -40 make.log; exit 1; }

#!/bin/sh
# Builds the Open vSwitch that ovs-balancer links against and tests with.
#
# Installs the Debian packages needed, unpacks Debian's openvswitch-source
# tarball into a git-ignored directory (default: ./ovs at the top of the
# tree) and builds all of it there.  Does nothing when a build of the same
# tarball is already complete.
#
# usage: utilities/build-ovs.sh [--no-install] [DIR]

set -e

top=$(cd "$(dirname "$0")/.." && pwd)
install=yes
case $1 in
    --no-install) install=no; shift ;;
    -h|--help)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 0 ;;
    -*) echo "$0: unknown option $1 (try --help)" >&2; exit 1 ;;
esac
dir=${1:-$top/ovs}
tarball=/usr/src/openvswitch/openvswitch.tar.gz

# Everything needed to build OVS and ovs-balancer and to run the tests.
packages="openvswitch-source autoconf automake libtool make gcc pkg-config
          libssl-dev libcap-ng-dev python3 iproute2 iputils-ping ethtool
          curl iperf3 procps psmisc mininet clang libclang-rt-dev"

missing=
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $p"
done
if test -n "$missing"; then
    if test $install = no; then
        echo "$0: missing Debian packages:$missing" >&2
        exit 1
    fi
    echo "build-ovs: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $missing >/dev/null
fi

if test ! -r "$tarball"; then
    echo "$0: $tarball not found (apt-get install openvswitch-source)" >&2
    exit 1
fi

# The stamp names the tarball it was built from; a different tarball or
# an unfinished build starts over.
want=$(sha256sum "$tarball" | cut -d' ' -f1)
stamp=$dir/.ovs-balancer-build-stamp
if test -f "$stamp" && test "$(cat "$stamp")" = "$want" \
   && test -f "$dir/lib/.libs/libopenvswitch.a" \
   && test -x "$dir/vswitchd/ovs-vswitchd"; then
    echo "build-ovs: $dir is up to date"
    exit 0
fi

echo "build-ovs: unpacking $tarball into $dir"
rm -rf "$dir"
mkdir -p "$dir"
tar -xzf "$tarball" -C "$dir" --strip-components=1

echo "build-ovs: configuring and building Open vSwitch (about 2 minutes)"
cd "$dir"
./configure --enable-static --disable-shared \
    --localstatedir=/var --sysconfdir=/etc --prefix=/usr > configure.log 2>&1 \
    || { tail -20 configure.log >&2; exit 1; }
jobs=$(($(nproc) + 1))
make -j"$jobs" > make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
echo "$want" > "$stamp"
echo "build-ovs: done, Open vSwitch $(sed -n 's/^AC_INIT(openvswitch, *\([^,]*\),.*/\1/p' configure.ac) in $dir"

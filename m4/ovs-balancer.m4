# -*- autoconf -*-
# Copyright (c) 2026 The ovs-balancer authors.
# Licensed under the Apache License, Version 2.0.

dnl OVSB_CHECK_OVS
dnl
dnl Finds the Open vSwitch source and build trees that ovs-balancer compiles
dnl and links against, as OVN's --with-ovs-source and --with-ovs-build do.
dnl Both default to "ovs" in the top source directory, where
dnl utilities/build-ovs.sh puts them.
AC_DEFUN([OVSB_CHECK_OVS], [
  abs_srcdir=`cd "$srcdir" && pwd`
  AC_ARG_WITH([ovs-source],
    [AS_HELP_STRING([--with-ovs-source=DIR],
                    [Open vSwitch source tree (default: SRCDIR/ovs)])],
    [OVS_SRCDIR=$withval], [OVS_SRCDIR=$abs_srcdir/ovs])
  AC_ARG_WITH([ovs-build],
    [AS_HELP_STRING([--with-ovs-build=DIR],
                    [Open vSwitch build tree (default: the source tree)])],
    [OVS_BUILDDIR=$withval], [OVS_BUILDDIR=$OVS_SRCDIR])

  ovsb_how="Run utilities/build-ovs.sh to unpack and build it there, or point --with-ovs-source and --with-ovs-build at an Open vSwitch 3.x tree that has been built"
  AC_MSG_CHECKING([for the Open vSwitch source tree])
  if test -f "$OVS_SRCDIR/include/openvswitch/vconn.h" \
     && test -f "$OVS_SRCDIR/tests/ofproto-macros.at"; then
    OVS_SRCDIR=`cd "$OVS_SRCDIR" && pwd`
    AC_MSG_RESULT([$OVS_SRCDIR])
  else
    AC_MSG_RESULT([no])
    AC_MSG_ERROR([no Open vSwitch source tree at $OVS_SRCDIR. $ovsb_how.])
  fi

  AC_MSG_CHECKING([for the Open vSwitch build tree])
  if test -f "$OVS_BUILDDIR/config.h" \
     && test -f "$OVS_BUILDDIR/lib/libopenvswitch.la" \
     && test -x "$OVS_BUILDDIR/vswitchd/ovs-vswitchd"; then
    OVS_BUILDDIR=`cd "$OVS_BUILDDIR" && pwd`
    AC_MSG_RESULT([$OVS_BUILDDIR])
  else
    AC_MSG_RESULT([no])
    AC_MSG_ERROR([no built Open vSwitch at $OVS_BUILDDIR (config.h, lib/libopenvswitch.la and vswitchd/ovs-vswitchd are needed). $ovsb_how.])
  fi

  AC_MSG_CHECKING([the Open vSwitch version])
  OVS_VERSION=`sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$OVS_BUILDDIR/config.h"`
  AC_MSG_RESULT([$OVS_VERSION])
  case $OVS_VERSION in
    3.*) ;;
    *) AC_MSG_ERROR([Open vSwitch 3.x is needed, $OVS_BUILDDIR is $OVS_VERSION]) ;;
  esac

  dnl OVS's headers need the config.h that OVS itself was configured with,
  dnl so "#include <config.h>" finds the one in the OVS build tree.
  OVS_CPPFLAGS="-I$OVS_BUILDDIR -I$OVS_SRCDIR/include -I$OVS_SRCDIR/lib"
  OVS_CPPFLAGS="$OVS_CPPFLAGS -I$OVS_BUILDDIR/include -I$OVS_BUILDDIR/lib"
  dnl libtool links the static archive and the libraries it depends on.
  OVS_LIBADD="$OVS_BUILDDIR/lib/libopenvswitch.la"

  AC_SUBST([OVS_SRCDIR])
  AC_SUBST([OVS_BUILDDIR])
  AC_SUBST([OVS_VERSION])
  AC_SUBST([OVS_CPPFLAGS])
  AC_SUBST([OVS_LIBADD])
])

dnl OVSB_ENABLE_WERROR
AC_DEFUN([OVSB_ENABLE_WERROR], [
  AC_ARG_ENABLE([Werror],
    [AS_HELP_STRING([--enable-Werror], [treat compiler warnings as errors])],
    [], [enable_Werror=no])
  AS_IF([test "$enable_Werror" = yes], [WERROR=-Werror], [WERROR=])
  AC_SUBST([WERROR])
])

dnl OVSB_ENABLE_SANITIZERS
dnl
dnl --enable-asan and --enable-ubsan build ovs-balancer (not OVS) with
dnl AddressSanitizer and UndefinedBehaviorSanitizer.
AC_DEFUN([OVSB_ENABLE_SANITIZERS], [
  AC_ARG_ENABLE([asan],
    [AS_HELP_STRING([--enable-asan], [build with AddressSanitizer])],
    [], [enable_asan=no])
  AC_ARG_ENABLE([ubsan],
    [AS_HELP_STRING([--enable-ubsan],
                    [build with UndefinedBehaviorSanitizer])],
    [], [enable_ubsan=no])
  SANITIZER_FLAGS=
  AS_IF([test "$enable_asan" = yes],
        [SANITIZER_FLAGS="$SANITIZER_FLAGS -fsanitize=address"])
  AS_IF([test "$enable_ubsan" = yes],
        [SANITIZER_FLAGS="$SANITIZER_FLAGS -fsanitize=undefined -fno-sanitize-recover=undefined"])
  AS_IF([test -n "$SANITIZER_FLAGS"],
        [SANITIZER_FLAGS="$SANITIZER_FLAGS -fno-omit-frame-pointer"
         ovsb_save_CFLAGS=$CFLAGS
         CFLAGS="$CFLAGS $SANITIZER_FLAGS"
         AC_MSG_CHECKING([whether $CC accepts $SANITIZER_FLAGS])
         AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])], [AC_MSG_RESULT([yes])],
                        [AC_MSG_RESULT([no])
                         AC_MSG_ERROR([$CC cannot build with $SANITIZER_FLAGS])])
         CFLAGS=$ovsb_save_CFLAGS])
  AC_SUBST([SANITIZER_FLAGS])
])

dnl OVSB_CHECK_LIBFUZZER
dnl
dnl The fuzz target needs clang's -fsanitize=fuzzer.
AC_DEFUN([OVSB_CHECK_LIBFUZZER], [
  AC_ARG_VAR([CLANG], [clang, for the libFuzzer target])
  AC_PATH_PROGS([CLANG], [clang clang-14], [no])
  AC_MSG_CHECKING([whether $CLANG can build libFuzzer targets])
  have_libfuzzer=no
  if test "$CLANG" != no; then
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n ? 0 : 0; }' > conftest-fuzz.c
    if $CLANG -fsanitize=fuzzer conftest-fuzz.c -o conftest-fuzz >&AS_MESSAGE_LOG_FD 2>&1; then
      have_libfuzzer=yes
    fi
    rm -f conftest-fuzz conftest-fuzz.c
  fi
  AC_MSG_RESULT([$have_libfuzzer])
  AM_CONDITIONAL([HAVE_LIBFUZZER], [test $have_libfuzzer = yes])
])

dnl OVSB_SET_WARNING_FLAGS
dnl
dnl The warnings OVS builds itself with.
AC_DEFUN([OVSB_SET_WARNING_FLAGS], [
  WARNING_FLAGS=
  for flag in -Wall -Wextra -Wno-sign-compare -Wpointer-arith -Wformat \
              -Wformat-security -Wswitch-enum -Wunused-parameter \
              -Wbad-function-cast -Wcast-align -Wstrict-prototypes \
              -Wold-style-definition -Wmissing-prototypes \
              -Wmissing-field-initializers -fno-strict-aliasing \
              -Wswitch-bool -Wlogical-not-parentheses \
              -Wsizeof-array-argument -Wbool-compare \
              -Wshift-negative-value -Wduplicated-cond -Wshadow \
              -Wmultistatement-macros; do
    AS_VAR_PUSHDEF([ovsb_cv], [ovsb_cv_cflag_$flag])
    AC_CACHE_CHECK([whether $CC accepts $flag], [ovsb_cv], [
      ovsb_save_CFLAGS=$CFLAGS
      CFLAGS="$CFLAGS -Werror $flag"
      AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
                        [AS_VAR_SET([ovsb_cv], [yes])],
                        [AS_VAR_SET([ovsb_cv], [no])])
      CFLAGS=$ovsb_save_CFLAGS])
    AS_VAR_IF([ovsb_cv], [yes], [WARNING_FLAGS="$WARNING_FLAGS $flag"])
    AS_VAR_POPDEF([ovsb_cv])
  done
  AC_SUBST([WARNING_FLAGS])
])

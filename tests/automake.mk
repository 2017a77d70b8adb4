# The autotest testsuite, built on OVS's own test macros, which are
# m4_include()d from the OVS source tree.

TESTSUITE_AT = \
	tests/testsuite.at \
	tests/lb-macros.at \
	tests/lb-unit.at \
	tests/lb-daemon.at \
	tests/lb-balancer.at \
	tests/lb-robust.at

SYSTEM_TESTSUITE_AT = \
	tests/system-testsuite.at \
	tests/lb-macros.at \
	tests/lb-system.at

OVS_MACROS_AT = \
	$(OVS_SRCDIR)/tests/ovs-macros.at \
	$(OVS_SRCDIR)/tests/ovsdb-macros.at \
	$(OVS_SRCDIR)/tests/ofproto-macros.at

OVS_SYSTEM_MACROS_AT = \
	$(OVS_SRCDIR)/tests/system-userspace-macros.at \
	$(OVS_SRCDIR)/tests/system-common-macros.at

EXTRA_DIST += \
	$(TESTSUITE_AT) \
	$(SYSTEM_TESTSUITE_AT) \
	tests/atlocal.in \
	tests/summary.sh \
	tests/checksums.py \
	tests/ofp-fake-switch.py \
	$(srcdir)/package.m4 \
	$(srcdir)/tests/testsuite \
	$(srcdir)/tests/system-testsuite

TESTSUITE = $(srcdir)/tests/testsuite
TESTSUITE_DIR = $(abs_top_builddir)/tests/testsuite.dir
SYSTEM_TESTSUITE = $(srcdir)/tests/system-testsuite
DISTCLEANFILES += tests/atconfig tests/atlocal

# OVS's programs come first from the OVS build tree, so the tests always
# use the OVS that ovs-balancer was built against.
AUTOTEST_PATH = $(OVS_BUILDDIR)/utilities:$(OVS_BUILDDIR)/vswitchd:$(OVS_BUILDDIR)/ovsdb:controller:tests:utilities

check_PROGRAMS += tests/test-lb
tests_test_lb_SOURCES = tests/test-lb.c
tests_test_lb_LDADD = lib/libovsbalancer.la $(OVS_LIBADD)

# The last line "make check" prints is the count of passed, failed and
# skipped tests.
check-local: tests/atconfig tests/atlocal $(TESTSUITE)
	@$(SHELL) '$(TESTSUITE)' -C tests AUTOTEST_PATH='$(AUTOTEST_PATH)' \
	    $(TESTSUITEFLAGS); status=$$?; \
	$(SHELL) '$(srcdir)/tests/summary.sh' tests/testsuite.log; \
	exit $$status

# Real traffic between network namespaces: needs root, and runs one test at
# a time (only one ovs-vswitchd can own the userspace datapath).
check-system: all tests/atconfig tests/atlocal $(SYSTEM_TESTSUITE)
	@$(SHELL) '$(SYSTEM_TESTSUITE)' -C tests AUTOTEST_PATH='$(AUTOTEST_PATH)' \
	    $(TESTSUITEFLAGS) -j1; status=$$?; \
	$(SHELL) '$(srcdir)/tests/summary.sh' tests/system-testsuite.log; \
	exit $$status

clean-local:
	test ! -f '$(TESTSUITE)' || $(SHELL) '$(TESTSUITE)' -C tests --clean
	test ! -f '$(SYSTEM_TESTSUITE)' || $(SHELL) '$(SYSTEM_TESTSUITE)' -C tests --clean

AUTOTEST = $(AUTOM4TE) --language=autotest
$(TESTSUITE): package.m4 $(TESTSUITE_AT) $(OVS_MACROS_AT)
	$(AM_V_GEN)$(AUTOTEST) -I '$(srcdir)' -I '$(OVS_SRCDIR)' -o $@.tmp $@.at
	$(AM_V_at)mv $@.tmp $@

$(SYSTEM_TESTSUITE): package.m4 $(SYSTEM_TESTSUITE_AT) $(OVS_MACROS_AT) \
		$(OVS_SYSTEM_MACROS_AT)
	$(AM_V_GEN)$(AUTOTEST) -I '$(srcdir)' -I '$(OVS_SRCDIR)' -o $@.tmp $@.at
	$(AM_V_at)mv $@.tmp $@

# The `:;' works around a Bash 3.2 bug when the output is not writable.
$(srcdir)/package.m4: $(top_srcdir)/configure.ac
	$(AM_V_GEN):;{ \
	  echo '# Signature of the current package.' && \
	  echo 'm4_define([AT_PACKAGE_NAME],      [$(PACKAGE_NAME)])' && \
	  echo 'm4_define([AT_PACKAGE_TARNAME],   [$(PACKAGE_TARNAME)])' && \
	  echo 'm4_define([AT_PACKAGE_VERSION],   [$(PACKAGE_VERSION)])' && \
	  echo 'm4_define([AT_PACKAGE_STRING],    [$(PACKAGE_STRING)])' && \
	  echo 'm4_define([AT_PACKAGE_BUGREPORT], [$(PACKAGE_BUGREPORT)])'; \
	} >'$(srcdir)/package.m4'

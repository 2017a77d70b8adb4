# The autotest testsuite, built on OVS's own test macros, which are
# m4_include()d from the OVS source tree.

TESTSUITE_AT = \
	tests/testsuite.at \
	tests/lb-macros.at \
	tests/lb-unit.at \
	tests/lb-flows.at \
	tests/lb-daemon.at \
	tests/lb-balancer.at \
	tests/lb-services.at \
	tests/lb-stateful.at \
	tests/lb-ha.at \
	tests/lb-robust.at \
	tests/lb-repair.at \
	tests/lb-db.at \
	tests/lb-check.at \
	tests/lb-bench.at

SYSTEM_TESTSUITE_AT = \
	tests/system-testsuite.at \
	tests/lb-macros.at \
	tests/lb-system.at \
	tests/lb-ha-system.at

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
	tests/check-answer.py \
	tests/tcp-segment.py \
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

# Valgrind: the testsuite with ovs-balancer and test-lb run under valgrind
# through wrapper scripts, as OVS's "make check-valgrind" does; then any
# valgrind log that reports an error fails the run.
VALGRIND = valgrind --log-file=valgrind.%p --leak-check=full \
	--track-origins=yes --num-callers=30 \
	--suppressions=$(abs_top_srcdir)/tests/valgrind.supp
valgrind_wrappers = tests/valgrind/ovs-balancer tests/valgrind/test-lb
EXTRA_DIST += tests/valgrind-wrapper.in tests/valgrind.supp
CLEANFILES += $(valgrind_wrappers)
make_valgrind_wrapper = \
	$(MKDIR_P) tests/valgrind && \
	$(SED) -e "s|[@]program[@]|$(abs_builddir)/$$program|" \
	    $(srcdir)/tests/valgrind-wrapper.in > $@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@
tests/valgrind/ovs-balancer: tests/valgrind-wrapper.in
	$(AM_V_GEN)program=controller/ovs-balancer; $(make_valgrind_wrapper)
tests/valgrind/test-lb: tests/valgrind-wrapper.in
	$(AM_V_GEN)program=tests/test-lb; $(make_valgrind_wrapper)
check-valgrind: all $(check_PROGRAMS) $(valgrind_wrappers) tests/atconfig \
		tests/atlocal $(TESTSUITE)
	@$(SHELL) '$(TESTSUITE)' -C tests VALGRIND='$(VALGRIND)' \
	    AUTOTEST_PATH='tests/valgrind:$(AUTOTEST_PATH)' -d \
	    $(TESTSUITEFLAGS); status=$$?; \
	bad=`grep -l -E 'ERROR SUMMARY: [1-9]' $(TESTSUITE_DIR)/*/valgrind.* \
	     2>/dev/null`; \
	if test -n "$$bad"; then \
	    echo "valgrind found errors in:" $$bad; exit 1; \
	fi; \
	echo "valgrind: no errors in `ls $(TESTSUITE_DIR)/*/valgrind.* | wc -l` logs"; \
	exit $$status

# libFuzzer: the balancer's packet handling, built with clang.  "make fuzz"
# runs it for FUZZ_TIME seconds on the seed corpus; the testsuite runs the
# seeds through it once.
FUZZ_TIME = 600
FUZZ_SRC = $(filter-out lib/lb-db.c, \
	           $(filter %.c,$(lib_libovsbalancer_la_SOURCES))) \
	tests/fuzz/lb-packet-fuzzer.c
EXTRA_DIST += tests/fuzz/lb-packet-fuzzer.c tests/fuzz/seeds.txt \
	tests/fuzz/make-corpus.py
if HAVE_LIBFUZZER
check_DATA = tests/fuzz/lb-packet-fuzzer
CLEANFILES += tests/fuzz/lb-packet-fuzzer tests/fuzz/obj/*.o
FUZZ_FLAGS = -g -O1 -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
tests/fuzz/lb-packet-fuzzer: $(FUZZ_SRC) $(lib_libovsbalancer_la_SOURCES)
	@$(MKDIR_P) tests/fuzz/obj
	$(AM_V_GEN)for src in $(FUZZ_SRC); do \
	    $(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(DEFS) \
	        $(AM_CPPFLAGS) -c $(srcdir)/$$src \
	        -o tests/fuzz/obj/`basename $$src .c`.o || exit 1; \
	done && \
	$(LIBTOOL) --silent --tag=CC --mode=link $(CLANG) $(FUZZ_FLAGS) \
	    -fsanitize=fuzzer -o $@ tests/fuzz/obj/*.o $(OVS_LIBADD)
fuzz: tests/fuzz/lb-packet-fuzzer
	rm -rf tests/fuzz/corpus-work
	$(PYTHON3) $(srcdir)/tests/fuzz/make-corpus.py \
	    $(srcdir)/tests/fuzz/seeds.txt tests/fuzz/corpus-work
	cd tests/fuzz && ./lb-packet-fuzzer -max_total_time=$(FUZZ_TIME) \
	    -print_final_stats=1 corpus-work 2>&1 | \
	    grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|Done'
else
fuzz:
	@echo "fuzz: needs clang with libFuzzer (apt-get install clang)"; exit 1
endif

clean-local:
	rm -rf tests/valgrind tests/fuzz/obj tests/fuzz/corpus-work
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

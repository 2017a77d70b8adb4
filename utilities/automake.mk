# Scripts and tools around ovs-balancer: building OVS, the demo, the
# benchmark.
dist_noinst_SCRIPTS += \
	utilities/build-ovs.sh \
	utilities/build.sh \
	utilities/run-tests \
	utilities/ovs-balancer-demo \
	utilities/ovs-balancer-mininet \
	utilities/ovs-balancer-benchmark \
	utilities/ovs-balancer-benchmark-datapath \
	utilities/ovs-balancer-benchmark-readback \
	utilities/ovs-balancer-db

bin_PROGRAMS += utilities/ovs-balancer-ctl
utilities_ovs_balancer_ctl_SOURCES = utilities/ovs-balancer-ctl.c
utilities_ovs_balancer_ctl_LDADD = lib/libovsbalancer.la $(OVS_LIBADD)
man_MANS += utilities/ovs-balancer-ctl.8
EXTRA_DIST += utilities/ovs-balancer-ctl.8.in
CLEANFILES += utilities/ovs-balancer-ctl.8

bin_PROGRAMS += utilities/ovs-balancer-bench
utilities_ovs_balancer_bench_SOURCES = \
	utilities/ovs-balancer-bench.c \
	controller/batch-conn.c \
	controller/batch-conn.h \
	controller/listener.c \
	controller/listener.h
utilities_ovs_balancer_bench_LDADD = lib/libovsbalancer.la $(OVS_LIBADD)

# Short TCP connections through a path, for the datapath benchmark.
noinst_PROGRAMS += utilities/ovs-balancer-tcp-load
utilities_ovs_balancer_tcp_load_SOURCES = utilities/ovs-balancer-tcp-load.c

# Scripts and tools around ovs-balancer: building OVS, the demo, the
# benchmark.
dist_noinst_SCRIPTS += \
	utilities/build-ovs.sh \
	utilities/build.sh \
	utilities/run-tests \
	utilities/ovs-balancer-demo \
	utilities/ovs-balancer-mininet

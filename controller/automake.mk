# The ovs-balancer daemon: connections to switches, the handshake, the main
# loop, timers and ovs-appctl commands.
bin_PROGRAMS += controller/ovs-balancer
controller_ovs_balancer_SOURCES = \
	controller/ovs-balancer.c \
	controller/batch-conn.c \
	controller/batch-conn.h \
	controller/dbconn.c \
	controller/dbconn.h \
	controller/listener.c \
	controller/listener.h \
	controller/swconn.c \
	controller/swconn.h
controller_ovs_balancer_LDADD = lib/libovsbalancer.la $(OVS_LIBADD)

man_MANS += controller/ovs-balancer.8
EXTRA_DIST += controller/ovs-balancer.8.in
CLEANFILES += controller/ovs-balancer.8

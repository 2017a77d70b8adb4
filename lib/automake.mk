# The balancer module: configuration, services, sessions, schedulers, the
# flow table, and the OpenFlow messages and packets they turn into.  No
# sockets, so it can be tested on its own.
noinst_LTLIBRARIES += lib/libovsbalancer.la
lib_libovsbalancer_la_SOURCES = \
	lib/lb-check.c \
	lib/lb-check.h \
	lib/lb-config.c \
	lib/lb-config.h \
	lib/lb-controller.c \
	lib/lb-controller.h \
	lib/lb-db.c \
	lib/lb-db.h \
	lib/lb-flows.c \
	lib/lb-flows.h \
	lib/lb-health.c \
	lib/lb-health.h \
	lib/lb-hugemem.c \
	lib/lb-hugemem.h \
	lib/lb-ofp.c \
	lib/lb-ofp.h \
	lib/lb-packet.c \
	lib/lb-packet.h \
	lib/lb-pool.c \
	lib/lb-pool.h \
	lib/lb-ports.h \
	lib/lb-repair.c \
	lib/lb-repair.h \
	lib/lb-resync.c \
	lib/lb-resync.h \
	lib/lb-sched-mh.c \
	lib/lb-sched-rr.c \
	lib/lb-sched-wlc.c \
	lib/lb-sched-wrr.c \
	lib/lb-scheduler.c \
	lib/lb-scheduler.h \
	lib/lb-service.c \
	lib/lb-service.h \
	lib/lb-sessions.c \
	lib/lb-sessions.h \
	lib/lb-stateful.c \
	lib/lb-stateful.h \
	lib/lb-stats.c \
	lib/lb-stats.h \
	lib/lb-switch.c \
	lib/lb-switch.h \
	lib/lb-table.c \
	lib/lb-table.h \
	lib/lb-template.c \
	lib/lb-template.h
nodist_lib_libovsbalancer_la_SOURCES = \
	lib/ovs-balancer-idl.c \
	lib/ovs-balancer-idl.h

# The database's C interface, made from the schema by OVS's ovsdb-idlc.
OVSDB_IDLC = PYTHONPATH='$(OVS_SRCDIR)/python' $(PYTHON3) \
	'$(OVS_SRCDIR)/ovsdb/ovsdb-idlc.in'
lib/ovs-balancer-idl.ovsidl: ovs-balancer.ovsschema lib/ovs-balancer-idl.ann
	$(AM_V_GEN)$(OVSDB_IDLC) annotate $(srcdir)/ovs-balancer.ovsschema \
	    $(srcdir)/lib/ovs-balancer-idl.ann > $@.tmp && mv $@.tmp $@
lib/ovs-balancer-idl.c: lib/ovs-balancer-idl.ovsidl
	$(AM_V_GEN)$(OVSDB_IDLC) c-idl-source $< > $@.tmp && mv $@.tmp $@
lib/ovs-balancer-idl.h: lib/ovs-balancer-idl.ovsidl
	$(AM_V_GEN)$(OVSDB_IDLC) c-idl-header $< > $@.tmp && mv $@.tmp $@
BUILT_SOURCES += lib/ovs-balancer-idl.c lib/ovs-balancer-idl.h
CLEANFILES += lib/ovs-balancer-idl.c lib/ovs-balancer-idl.h \
	lib/ovs-balancer-idl.ovsidl
EXTRA_DIST += lib/ovs-balancer-idl.ann

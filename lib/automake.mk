# The balancer module: configuration, tables, schedulers, and the OpenFlow
# messages and packets they turn into.  No sockets, so it can be tested on
# its own.
noinst_LTLIBRARIES += lib/libovsbalancer.la
lib_libovsbalancer_la_SOURCES = \
	lib/lb-config.c \
	lib/lb-config.h \
	lib/lb-ofp.c \
	lib/lb-ofp.h \
	lib/lb-packet.c \
	lib/lb-packet.h \
	lib/lb-resync.c \
	lib/lb-scheduler.c \
	lib/lb-scheduler.h \
	lib/lb-switch.c \
	lib/lb-switch.h \
	lib/lb-switch-private.h \
	lib/lb-template.c \
	lib/lb-template.h

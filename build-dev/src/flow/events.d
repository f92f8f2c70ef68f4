build-dev/src/flow/events.o: src/flow/events.c src/flow/events.h \
 src/agent/agent.h src/flow/flow.h include/pytrace/pytrace.h \
 src/output/flow.h src/python/linetable.h
src/flow/events.h:
src/agent/agent.h:
src/flow/flow.h:
include/pytrace/pytrace.h:
src/output/flow.h:
src/python/linetable.h:

build-dev/src/output/flow.o: src/output/flow.c src/output/flow.h \
 src/agent/agent.h
src/output/flow.h:
src/agent/agent.h:

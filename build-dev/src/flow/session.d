build-dev/src/flow/session.o: src/flow/session.c src/flow/flow.h \
 include/pytrace/pytrace.h src/elf/elf.h src/flow/events.h \
 src/agent/agent.h src/output/flow.h src/python/linetable.h \
 src/flow/loader.h src/mem/maps.h src/mem/mem.h src/python/python.h \
 src/mem/arena.h src/python/offsets.h src/native/unwind.h \
 src/target/inject.h src/target/ptrace.h
src/flow/flow.h:
include/pytrace/pytrace.h:
src/elf/elf.h:
src/flow/events.h:
src/agent/agent.h:
src/output/flow.h:
src/python/linetable.h:
src/flow/loader.h:
src/mem/maps.h:
src/mem/mem.h:
src/python/python.h:
src/mem/arena.h:
src/python/offsets.h:
src/native/unwind.h:
src/target/inject.h:
src/target/ptrace.h:

build-dev/src/flow/loader.o: src/flow/loader.c src/flow/loader.h \
 src/agent/agent.h src/mem/maps.h src/mem/mem.h src/python/python.h \
 src/mem/arena.h src/python/linetable.h src/python/offsets.h \
 include/pytrace/pytrace.h src/elf/elf.h src/flow/flow.h \
 src/target/inject.h
src/flow/loader.h:
src/agent/agent.h:
src/mem/maps.h:
src/mem/mem.h:
src/python/python.h:
src/mem/arena.h:
src/python/linetable.h:
src/python/offsets.h:
include/pytrace/pytrace.h:
src/elf/elf.h:
src/flow/flow.h:
src/target/inject.h:

build-dev/src/process.o: src/process.c src/mem/arena.h src/mem/maps.h \
 src/mem/mem.h src/native/unwind.h src/mem/mem.h \
 include/pytrace/pytrace.h src/python/python.h src/mem/arena.h \
 src/mem/maps.h src/python/linetable.h src/python/offsets.h \
 src/target/ptrace.h
src/mem/arena.h:
src/mem/maps.h:
src/mem/mem.h:
src/native/unwind.h:
src/mem/mem.h:
include/pytrace/pytrace.h:
src/python/python.h:
src/mem/arena.h:
src/mem/maps.h:
src/python/linetable.h:
src/python/offsets.h:
src/target/ptrace.h:

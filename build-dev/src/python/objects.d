build-dev/src/python/objects.o: src/python/objects.c src/python/python.h \
 src/mem/arena.h src/mem/maps.h src/mem/mem.h src/python/linetable.h \
 src/python/offsets.h include/pytrace/pytrace.h
src/python/python.h:
src/mem/arena.h:
src/mem/maps.h:
src/mem/mem.h:
src/python/linetable.h:
src/python/offsets.h:
include/pytrace/pytrace.h:

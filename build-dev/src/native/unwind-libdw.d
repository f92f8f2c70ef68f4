build-dev/src/native/unwind-libdw.o: src/native/unwind-libdw.c \
 src/native/unwind.h src/mem/mem.h include/pytrace/pytrace.h
src/native/unwind.h:
src/mem/mem.h:
include/pytrace/pytrace.h:

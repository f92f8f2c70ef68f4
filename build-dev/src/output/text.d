build-dev/src/output/text.o: src/output/text.c src/output/output.h \
 include/pytrace/pytrace.h src/stack/aggregate.h src/stack/event.h \
 src/syscalls/syscalls.h src/mem/mem.h
src/output/output.h:
include/pytrace/pytrace.h:
src/stack/aggregate.h:
src/stack/event.h:
src/syscalls/syscalls.h:
src/mem/mem.h:

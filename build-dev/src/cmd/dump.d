build-dev/src/cmd/dump.o: src/cmd/dump.c src/cmd/cmd.h \
 src/output/output.h include/pytrace/pytrace.h src/stack/aggregate.h \
 src/stack/event.h src/syscalls/syscalls.h src/mem/mem.h
src/cmd/cmd.h:
src/output/output.h:
include/pytrace/pytrace.h:
src/stack/aggregate.h:
src/stack/event.h:
src/syscalls/syscalls.h:
src/mem/mem.h:

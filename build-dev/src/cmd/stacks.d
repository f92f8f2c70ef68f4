build-dev/src/cmd/stacks.o: src/cmd/stacks.c src/cmd/cmd.h \
 src/output/output.h include/pytrace/pytrace.h src/stack/aggregate.h \
 src/stack/event.h src/syscalls/syscalls.h src/mem/mem.h \
 src/target/tracer.h
src/cmd/cmd.h:
src/output/output.h:
include/pytrace/pytrace.h:
src/stack/aggregate.h:
src/stack/event.h:
src/syscalls/syscalls.h:
src/mem/mem.h:
src/target/tracer.h:

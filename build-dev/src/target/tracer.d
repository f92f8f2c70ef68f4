build-dev/src/target/tracer.o: src/target/tracer.c src/target/tracer.h \
 include/pytrace/pytrace.h src/syscalls/syscalls.h src/mem/mem.h \
 src/target/ptrace.h
src/target/tracer.h:
include/pytrace/pytrace.h:
src/syscalls/syscalls.h:
src/mem/mem.h:
src/target/ptrace.h:

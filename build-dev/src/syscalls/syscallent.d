build-dev/src/syscalls/syscallent.o: src/syscalls/syscallent.c \
 src/syscalls/syscalls.h src/mem/mem.h
src/syscalls/syscalls.h:
src/mem/mem.h:

build-dev/src/syscalls/errnoent.o: src/syscalls/errnoent.c \
 src/syscalls/syscalls.h src/mem/mem.h
src/syscalls/syscalls.h:
src/mem/mem.h:

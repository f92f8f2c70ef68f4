build-dev/src/syscalls/select.o: src/syscalls/select.c \
 src/syscalls/syscalls.h src/mem/mem.h
src/syscalls/syscalls.h:
src/mem/mem.h:

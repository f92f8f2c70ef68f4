build-dev/src/syscalls/decode.o: src/syscalls/decode.c \
 src/syscalls/syscalls.h src/mem/mem.h src/syscalls/xlat.h
src/syscalls/syscalls.h:
src/mem/mem.h:
src/syscalls/xlat.h:

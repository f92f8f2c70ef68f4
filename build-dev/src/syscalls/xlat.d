build-dev/src/syscalls/xlat.o: src/syscalls/xlat.c src/syscalls/xlat.h
src/syscalls/xlat.h:

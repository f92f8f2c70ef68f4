build-dev/src/mem/arena.o: src/mem/arena.c src/mem/arena.h
src/mem/arena.h:

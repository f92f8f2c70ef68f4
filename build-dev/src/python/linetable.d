build-dev/src/python/linetable.o: src/python/linetable.c \
 src/python/linetable.h
src/python/linetable.h:

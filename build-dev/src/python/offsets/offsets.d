build-dev/src/python/offsets/offsets.o: src/python/offsets/offsets.c \
 src/python/offsets.h
src/python/offsets.h:

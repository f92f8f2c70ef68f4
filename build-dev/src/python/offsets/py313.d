build-dev/src/python/offsets/py313.o: src/python/offsets/py313.c \
 src/python/offsets.h
src/python/offsets.h:

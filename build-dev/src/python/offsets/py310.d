build-dev/src/python/offsets/py310.o: src/python/offsets/py310.c \
 src/python/offsets.h
src/python/offsets.h:

build-dev/src/python/offsets/py311.o: src/python/offsets/py311.c \
 src/python/offsets.h
src/python/offsets.h:

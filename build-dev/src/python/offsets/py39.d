build-dev/src/python/offsets/py39.o: src/python/offsets/py39.c \
 src/python/offsets.h
src/python/offsets.h:

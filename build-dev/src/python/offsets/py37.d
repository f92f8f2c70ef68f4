build-dev/src/python/offsets/py37.o: src/python/offsets/py37.c \
 src/python/offsets.h
src/python/offsets.h:

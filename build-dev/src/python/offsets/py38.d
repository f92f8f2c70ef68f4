build-dev/src/python/offsets/py38.o: src/python/offsets/py38.c \
 src/python/offsets.h
src/python/offsets.h:

build-dev/src/python/offsets/py27.o: src/python/offsets/py27.c \
 src/python/offsets.h
src/python/offsets.h:

build-dev/src/python/offsets/py312.o: src/python/offsets/py312.c \
 src/python/offsets.h
src/python/offsets.h:

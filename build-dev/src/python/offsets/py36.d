build-dev/src/python/offsets/py36.o: src/python/offsets/py36.c \
 src/python/offsets.h
src/python/offsets.h:

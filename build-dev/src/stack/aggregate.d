build-dev/src/stack/aggregate.o: src/stack/aggregate.c \
 src/stack/aggregate.h
src/stack/aggregate.h:

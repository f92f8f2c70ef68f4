build-dev/src/stack/merge.o: src/stack/merge.c include/pytrace/pytrace.h
include/pytrace/pytrace.h:

build-dev/src/status.o: src/status.c include/pytrace/pytrace.h
include/pytrace/pytrace.h:

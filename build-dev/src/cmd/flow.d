build-dev/src/cmd/flow.o: src/cmd/flow.c src/cmd/cmd.h src/flow/flow.h \
 include/pytrace/pytrace.h
src/cmd/cmd.h:
src/flow/flow.h:
include/pytrace/pytrace.h:

build-dev/src/target/ptrace.o: src/target/ptrace.c src/target/ptrace.h \
 include/pytrace/pytrace.h
src/target/ptrace.h:
include/pytrace/pytrace.h:

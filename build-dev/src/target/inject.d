build-dev/src/target/inject.o: src/target/inject.c src/target/inject.h \
 src/mem/maps.h src/mem/mem.h
src/target/inject.h:
src/mem/maps.h:
src/mem/mem.h:

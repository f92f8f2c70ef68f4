build-dev/src/mem/maps.o: src/mem/maps.c src/mem/maps.h
src/mem/maps.h:

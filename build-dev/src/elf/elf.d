build-dev/src/elf/elf.o: src/elf/elf.c src/elf/elf.h
src/elf/elf.h:

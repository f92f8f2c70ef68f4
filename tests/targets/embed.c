/* SPDX-License-Identifier: MIT */
/* An application that embeds libpython (like uwsgi or a game engine): its
 * executable is not python. It runs the script named in argv[1] as
 * __main__, with argv[1..] as sys.argv, through the API every CPython from
 * 2.7 to 3.13 has. */
#include <Python.h>
#include <stdio.h>
#include <string.h>

/* A static function: on a stripped build only a separate debug file names
 * it (tests check pytrace finds that file through .gnu_debuglink). */
static __attribute__((noinline)) int embed_run_script(const char *code)
{
	int rc = PyRun_SimpleString(code);
	__asm__ volatile("" ::: "memory");  /* not a tail call: keep this frame */
	return rc;
}

int main(int argc, char **argv)
{
	char code[8192];
	size_t pos = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: embed SCRIPT [ARGS...]\n");
		return 2;
	}
	/* sys.argv as a list of byte strings decoded as UTF-8 (no quoting
	 * issues: every byte is written as \xNN). */
	pos += (size_t)snprintf(code + pos, sizeof(code) - pos, "import sys\nsys.argv = [");
	for (int i = 1; i < argc; i++) {
		pos += (size_t)snprintf(code + pos, sizeof(code) - pos, "b'");
		for (const unsigned char *s = (const unsigned char *)argv[i]; *s && pos + 8 < sizeof(code); s++)
			pos += (size_t)snprintf(code + pos, sizeof(code) - pos, "\\x%02x", *s);
		pos += (size_t)snprintf(code + pos, sizeof(code) - pos, "'.decode('utf-8'),");
	}
	snprintf(code + pos, sizeof(code) - pos,
		 "]\n"
		 "g = {'__name__': '__main__', '__file__': sys.argv[0]}\n"
		 "exec(compile(open(sys.argv[0], 'rb').read(), sys.argv[0], 'exec'), g)\n");
	Py_Initialize();
	int rc = embed_run_script(code);
	Py_Finalize();
	return rc == 0 ? 0 : 1;
}

/* Host harness for firmware/src/decimate.c: int16 PCM on stdin, fed in chunks of argv[1] samples
 * (so the phase carried between calls is exercised), the decimated int16 PCM on stdout. */
#include <stdio.h>
#include <stdlib.h>

#include "decimate.h"

int main(int argc, char **argv)
{
	static int16_t in[4096], out[4096];
	struct mf_decimator d;
	size_t chunk = argc > 1 ? (size_t)atoi(argv[1]) : 160, got;

	if (chunk < 1 || chunk > 4096)
		return 2;
	mf_decimator_init(&d);
	while ((got = fread(in, sizeof in[0], chunk, stdin)) > 0) {
		uint32_t n = mf_decimate2(&d, in, (uint32_t)got, argc > 2 ? in : out); /* argv[2]: in place */
		fwrite(argc > 2 ? in : out, sizeof out[0], n, stdout);
	}
	return 0;
}

/* Window source of the sample build: the test windows compiled in (mcuforge_sample_windows.c,
 * written by the firmware stage from data/features/test.npz), in order, then -ENODATA. */
#include <errno.h>
#include <stddef.h>

#include "mcuforge_sample_windows.h"
#include "window_source.h"

static size_t next_window;

int window_source_init(void)
{
	next_window = 0;
	return 0;
}

int window_source_next(float *window, struct window_expectation *expected)
{
	size_t i;

	if (next_window >= MCUFORGE_SAMPLE_WINDOWS) {
		return -ENODATA;
	}
	for (i = 0; i < MCUFORGE_SAMPLE_WINDOW_FLOATS; ++i) {
		window[i] = mcuforge_sample_windows[next_window][i];
	}
	if (expected != NULL) {
		expected->label = mcuforge_sample_labels[next_window];
		expected->logits = mcuforge_sample_logits[next_window];
	}
	++next_window;
	return 0;
}

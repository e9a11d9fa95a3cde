/* The generated model's names for the application's main files (main.c, main_stream.c):
 * MF_MODEL / MF_MODEL_UPPER come from CMakeLists.txt, the rest is pasted from them. */
#ifndef MCUFORGE_MODEL_BINDING_H
#define MCUFORGE_MODEL_BINDING_H

#include <stdint.h>

#include <zephyr/kernel.h>

#define MF_CAT(a, b) a##b
#define MF_XCAT(a, b) MF_CAT(a, b)
#define MF_STR(a) #a
#define MF_XSTR(a) MF_STR(a)
#include MF_XSTR(MF_MODEL.h)
#define MF_MACRO(suffix) MF_XCAT(MF_XCAT(MCUFORGE_, MF_MODEL_UPPER), suffix)
#define MF_INVOKE MF_XCAT(MF_XCAT(mcuforge_, MF_MODEL), _invoke)
#define MF_LABELS MF_XCAT(MF_XCAT(mcuforge_, MF_MODEL), _labels)
#define MF_INPUT_SIZE MF_MACRO(_INPUT_SIZE)
#define MF_OUTPUT_SIZE MF_MACRO(_OUTPUT_SIZE)
#define MF_NUM_LABELS MF_MACRO(_NUM_LABELS)

#ifndef MF_MODEL_ALONE /* main_model.c runs the model without the feature twin */
#include "mcuforge_features_config.h"

BUILD_ASSERT(MCUFORGE_FEATURES_N_FEATURES == MF_INPUT_SIZE,
	     "the feature twin's output size differs from the model's input size: re-run codegen");
#endif

/* Index of the largest value (the first one on ties). */
static inline int mf_argmax(const int8_t *values, int count)
{
	int best = 0;

	for (int i = 1; i < count; ++i) {
		if (values[i] > values[best]) {
			best = i;
		}
	}
	return best;
}

#endif /* MCUFORGE_MODEL_BINDING_H */

/* Batch harness for the feature twin (tests/test_features_c.py).
 * stdin: N windows of WINDOW_LENGTH x N_CHANNELS float32 (row-major).
 * stdout per window: N_FEATURES float32 (mcuforge_features_float), then N_FEATURES int8
 * (mcuforge_features). */
#include <stdint.h>
#include <stdio.h>

#include "mcuforge_features_config.h"
#include "mcuforge/features.h"

#define WINDOW_SIZE (MCUFORGE_FEATURES_WINDOW_LENGTH * MCUFORGE_FEATURES_N_CHANNELS)

int main(void)
{
    static float window[WINDOW_SIZE];
    static float features[MCUFORGE_FEATURES_N_FEATURES];
    static int8_t model_input[MCUFORGE_FEATURES_N_FEATURES];
    unsigned long index = 0;
    for (;;) {
        int status;
        size_t got = fread(window, sizeof(float), WINDOW_SIZE, stdin);
        if (got == 0)
            break;
        if (got != WINDOW_SIZE) {
            fprintf(stderr, "truncated window %lu\n", index);
            return 3;
        }
        status = mcuforge_features_float(window, features);
        if (status == 0)
            status = mcuforge_features(window, model_input);
        if (status != 0) {
            fprintf(stderr, "features failed with %d on window %lu\n", status, index);
            return 4;
        }
        if (fwrite(features, sizeof(float), MCUFORGE_FEATURES_N_FEATURES, stdout) !=
                MCUFORGE_FEATURES_N_FEATURES ||
            fwrite(model_input, 1, MCUFORGE_FEATURES_N_FEATURES, stdout) !=
                MCUFORGE_FEATURES_N_FEATURES)
            return 5;
        ++index;
    }
    return 0;
}

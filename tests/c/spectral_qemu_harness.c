/* Feature-twin harness on QEMU (tests/test_spectral_device.py): the windows are compiled in
 * (mf_windows.h: MF_N_WINDOWS, mf_windows[][WINDOW_LENGTH x N_CHANNELS] float32); per window
 * it writes N_FEATURES float32 from mcuforge_features_float, then N_FEATURES int8 from
 * mcuforge_features, as hex over semihosting, then "done". */
#include <stdint.h>

#include "mcuforge_features_config.h"
#include "mcuforge/features.h"
#include "mf_windows.h"
#include "semihost.h"
#include "hex_out.h"

static float features[MCUFORGE_FEATURES_N_FEATURES];
static int8_t model_input[MCUFORGE_FEATURES_N_FEATURES];

int main(void)
{
    int w;
    for (w = 0; w < MF_N_WINDOWS; ++w) {
        if (mcuforge_features_float(mf_windows[w], features) != 0 ||
            mcuforge_features(mf_windows[w], model_input) != 0)
            semihost_exit(4);
        write_hex(features, sizeof features);
        write_hex(model_input, sizeof model_input);
    }
    semihost_write("done\n");
    semihost_exit(0);
}

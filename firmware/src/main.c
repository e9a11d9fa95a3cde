/* mcuforge application: raw sensor window -> features -> int8 model -> class, on Zephyr.
 *
 * For every window the configured source delivers (window_source.h), runs the feature twin
 * (firmware/features: the Python `features` stage in C) and the generated model (native C
 * kernels or TFLite Micro, same API: firmware/generated/<model>.h), and prints with printk one
 * line: the class; when the source knows them, the class the Python int8 pipeline predicted
 * ("expected"), the true class, and whether the int8 logits equal the Python pipeline's bit for
 * bit; and the cycles of features + inference (Zephyr's timing API -- DWT or a SoC timer -- or,
 * where that counter does not run, as under QEMU, the kernel's hardware cycle counter).
 *
 * The run ends with "mcuforge: PASS" when every window gave the expected class and logits, else
 * "mcuforge: FAIL" (sample.yaml's twister harness and the firmware stage look for these lines).
 * A wrong class against the true label is the model's error, not the device's: counted, not FAIL.
 * MF_MODEL / MF_MODEL_UPPER (the codegen name as a C identifier) come from CMakeLists.txt. */
#include <errno.h>
#include <stdint.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>
#include <zephyr/timing/timing.h>

#include "mcuforge/features.h"
#include "mcuforge_features_config.h"
#include "model_binding.h"
#include "window_source.h"

#define MF_WINDOW_FLOATS (MCUFORGE_FEATURES_WINDOW_LENGTH * MCUFORGE_FEATURES_N_CHANNELS)

static float window[MF_WINDOW_FLOATS];
static int8_t model_input[MF_INPUT_SIZE];
static int8_t logits[MF_OUTPUT_SIZE];

static const char *label_name(int index)
{
	return (index >= 0 && index < MF_NUM_LABELS) ? MF_LABELS[index] : "?";
}

/* Features + model for the window in `window`; 0 or a negative error; *cycles and *us = their cost. */
static int infer(uint64_t *cycles, uint32_t *us)
{
	uint32_t kernel_start = k_cycle_get_32();
	timing_t start = timing_counter_get();
	int status = mcuforge_features(window, model_input);

	if (status == MCUFORGE_FEATURES_OK) {
		status = MF_INVOKE(model_input, logits);
	}
	timing_t end = timing_counter_get();
	uint32_t kernel_cycles = k_cycle_get_32() - kernel_start;

	*cycles = timing_cycles_get(&start, &end);
	*us = (uint32_t)(timing_cycles_to_ns(*cycles) / 1000u);
	if (*cycles == 0u) { /* no cycle counter (QEMU has no DWT): the kernel's clock */
		*cycles = kernel_cycles;
		*us = (uint32_t)((uint64_t)kernel_cycles * 1000000u / sys_clock_hw_cycles_per_sec());
	}
	return status;
}

int main(void)
{
	struct window_expectation expected;
	uint32_t windows = 0, classes_as_expected = 0, logits_exact = 0, correct = 0, failures = 0;
	int status;

	timing_init();
	timing_start();
	printk("mcuforge: model %s, %s backend, %d classes\n", MF_XSTR(MF_MODEL),
	       IS_ENABLED(CONFIG_MCUFORGE_BACKEND_TFLM) ? "tflm" : "native", MF_NUM_LABELS);
	status = window_source_init();
	if (status != 0) {
		printk("mcuforge: window source failed to start (%d)\nmcuforge: FAIL\n", status);
		return 0;
	}
	while ((status = window_source_next(window, &expected)) == 0) {
		uint64_t cycles;
		uint32_t us;

		status = infer(&cycles, &us);
		if (status != 0) {
			break;
		}
		int predicted = mf_argmax(logits, MF_OUTPUT_SIZE);
		int python = expected.logits != NULL ? mf_argmax(expected.logits, MF_OUTPUT_SIZE) : -1;
		bool exact = expected.logits != NULL;

		for (int i = 0; exact && i < MF_OUTPUT_SIZE; ++i) {
			exact = logits[i] == expected.logits[i];
		}
		classes_as_expected += predicted == python;
		logits_exact += exact;
		correct += predicted == expected.label;
		failures += expected.logits != NULL && (!exact || predicted != python);
		printk("window %u: class %s (%d) expected %s, true %s, logits %s, %u cycles (%u us)\n", windows,
		       label_name(predicted), predicted, label_name(python), label_name(expected.label),
		       expected.logits == NULL ? "unchecked" : (exact ? "exact" : "DIFFER"), (uint32_t)cycles, us);
		++windows;
	}
	timing_stop();
	if (status != -ENODATA) {
		printk("mcuforge: window %u failed (%d)\n", windows, status);
		failures++;
	}
	printk("mcuforge: %u windows, %u classes as expected, %u logits exact, %u true classes\n", windows,
	       classes_as_expected, logits_exact, correct);
	printk("mcuforge: %s\n", failures == 0 && windows > 0 ? "PASS" : "FAIL");
	return 0;
}

/* mcuforge model-alone benchmark on Zephyr: one generated model (native or TFLite Micro, same API),
 * no features, no windows. Built instead of main.c when the inputs dir's mcuforge_inputs.cmake sets
 * MCUFORGE_MODEL_ALONE (benchmarks/zephyr_bench.py BOARD:BACKEND:MODEL writes it).
 *
 * Input: x[i] = ((i*13+5) % 101) - 50, as benchmarks/codegen.py's bare-metal harness. The model runs
 * twice (TFLM builds its interpreter on the first call); the second invoke is the one measured, with
 * k_cycle_get_32 around it (under QEMU -icount: instruction-proportional). Both outputs must equal
 * the host's (mcuforge.codegen.tflm_runtime.run_int8), mcuforge_model_alone.h's MF_ALONE_EXPECTED.
 * Prints "model alone: ... cycles" and "output: v0 v1 ...", then "mcuforge: PASS" or "FAIL". */
#include <stdint.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "model_binding.h"
#include "mcuforge_model_alone.h"

BUILD_ASSERT(sizeof(mf_alone_expected) == MF_OUTPUT_SIZE, "mcuforge_model_alone.h is not this model's");

static int8_t input[MF_INPUT_SIZE];
static int8_t output[MF_OUTPUT_SIZE];

/* One invoke on the benchmark input; its status, *cycles = its cost on the kernel's cycle clock. */
static int invoke_once(uint32_t *cycles)
{
	for (int i = 0; i < MF_INPUT_SIZE; ++i) {
		input[i] = (int8_t)(((i * 13 + 5) % 101) - 50);
	}
	memset(output, 0, sizeof(output));
	uint32_t start = k_cycle_get_32();
	int status = MF_INVOKE(input, output);

	*cycles = k_cycle_get_32() - start;
	return status;
}

int main(void)
{
	uint32_t first_cycles, cycles;

	printk("mcuforge: model %s alone, %s backend, %d inputs, %d outputs\n", MF_XSTR(MF_MODEL),
	       IS_ENABLED(CONFIG_MCUFORGE_BACKEND_TFLM) ? "tflm" : "native", MF_INPUT_SIZE, MF_OUTPUT_SIZE);
	int first = invoke_once(&first_cycles);
	bool first_exact = first == 0 && memcmp(output, mf_alone_expected, sizeof(output)) == 0;
	int status = invoke_once(&cycles);
	bool exact = status == 0 && memcmp(output, mf_alone_expected, sizeof(output)) == 0;

	printk("model alone: status %d, %u cycles, first invoke status %d, %u cycles, output %s\n", status,
	       cycles, first, first_cycles, exact && first_exact ? "exact" : "DIFFER");
	printk("output:");
	for (int i = 0; i < MF_OUTPUT_SIZE; ++i) {
		printk(" %d", output[i]);
	}
	printk("\nmcuforge: %s\n", exact && first_exact ? "PASS" : "FAIL");
	return 0;
}

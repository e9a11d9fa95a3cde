/* mcuforge application, microphone build (Kconfig MCUFORGE_WINDOW_SOURCE_DMIC): streaming keyword
 * spotting on Zephyr. Every hop of PCM from the microphone (source_dmic.c) moves the frame by one
 * hop; kws_stream.c (the same loop the bare-metal stream harness runs on QEMU, twin
 * mcuforge.firmware.streaming) computes its MFCCs, runs the classifier every MF_STREAM_EVERY hops
 * and detects keywords. Prints one line per detection ("keyword <label> at <t> ms, margin <m>")
 * and, every MCUFORGE_STATUS_EVERY classifications, the top class and the cycles of the last
 * classifying hop. MF_MODEL / MF_MODEL_UPPER come from CMakeLists.txt. */
#include <stdint.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "kws_stream.h"
#include "mcuforge_features_config.h"
#include "mcuforge_stream_config.h"
#include "model_binding.h"
#include "source_dmic.h"

#define FRAME MCUFORGE_FEATURES_FRAME_LENGTH
#define HOP MCUFORGE_FEATURES_HOP_LENGTH
#define MCUFORGE_STATUS_EVERY 50

BUILD_ASSERT(FRAME >= HOP, "a frame shorter than its hop");

static int16_t pcm[FRAME + HOP]; /* the current frame, then the next hop */
static int8_t history[MF_STREAM_SMOOTH][MF_OUTPUT_SIZE];
static int32_t sums[MF_OUTPUT_SIZE];
static int8_t logits[MF_OUTPUT_SIZE];
static struct mf_kws_stream stream;

int main(void)
{
	const struct mf_kws_config cfg = {MF_INVOKE, MF_OUTPUT_SIZE, MF_STREAM_EVERY, MF_STREAM_SMOOTH,
					  MF_STREAM_REFRACTORY, MF_STREAM_THRESHOLD, MF_STREAM_FIRST_KEYWORD,
					  &history[0][0], sums};
	uint32_t hops = 0, detections = 0;
	int status;

	printk("mcuforge: model %s, %d classes, streaming: frame %d, hop %d samples at %d Hz, classifier "
	       "every %d hops, smoothing %d, threshold %d\n", MF_XSTR(MF_MODEL), MF_NUM_LABELS, FRAME, HOP,
	       MCUFORGE_MODEL_RATE_HZ, MF_STREAM_EVERY, MF_STREAM_SMOOTH, MF_STREAM_THRESHOLD);
	mf_kws_stream_init(&stream, &cfg);
	status = dmic_source_init();
	/* prefill: the first frame but its last hop */
	for (int filled = 0; status == 0 && filled < FRAME - HOP; filled += HOP) {
		status = dmic_source_next_hop(pcm + HOP + filled);
	}
	while (status == 0 && (status = dmic_source_next_hop(pcm + FRAME)) == 0) {
		int detected = -1;
		uint32_t start = k_cycle_get_32();

		memmove(pcm, pcm + HOP, FRAME * sizeof pcm[0]);
		status = mf_kws_stream_hop(&stream, pcm, logits, &detected);
		uint32_t cycles = k_cycle_get_32() - start;

		if (status == 1) {
			status = 0;
			if (detected >= 0) {
				printk("keyword %s at %u ms\n", MF_LABELS[detected],
				       (uint32_t)((uint64_t)hops * HOP * 1000u / MCUFORGE_MODEL_RATE_HZ));
				++detections;
			}
			if (stream.classified % MCUFORGE_STATUS_EVERY == 0) {
				printk("mcuforge: %u hops, %u classifications, %u detections, top %s, %u cycles\n",
				       hops + 1, stream.classified, detections,
				       MF_LABELS[mf_argmax(logits, MF_OUTPUT_SIZE)], cycles);
			}
		}
		++hops;
	}
	printk("mcuforge: microphone stream stopped after %u hops (%d)\nmcuforge: FAIL\n", hops, status);
	return 0;
}

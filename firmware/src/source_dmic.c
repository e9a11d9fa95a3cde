/* Window source "dmic": the board's PDM microphone (devicetree label dmic_dev; on
 * arduino_nano_33_ble/nrf52840/sense the MP34DT05 on the nRF52840's PDM) through Zephyr's DMIC API.
 *
 * The PDM peripheral delivers MCUFORGE_MIC_RATE_HZ (16 kHz) mono int16 PCM in blocks of one hop
 * (MCUFORGE_FEATURES_HOP_LENGTH x MCUFORGE_MIC_DECIMATION samples) from a memory slab; each block
 * is decimated to the model's rate in place (decimate.c: fixed integer half-band FIR, twin
 * mcuforge.dsp.decimate) when the model runs at 8 kHz, and handed to the caller as one hop. */
#include <errno.h>
#include <string.h>

#include <zephyr/audio/dmic.h>
#include <zephyr/device.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "decimate.h"
#include "mcuforge_features_config.h"
#include "mcuforge_stream_config.h"
#include "source_dmic.h"

#if !MCUFORGE_STREAM_OK
#error "the model cannot take the microphone: see MCUFORGE_STREAM_REASON in mcuforge_stream_config.h"
#else

BUILD_ASSERT(DT_NODE_EXISTS(DT_NODELABEL(dmic_dev)),
	     "no dmic_dev devicetree label: the board needs a PDM microphone (or an overlay naming it)");
BUILD_ASSERT(MCUFORGE_MIC_DECIMATION == 1 || MCUFORGE_MIC_DECIMATION == 2, "decimation is 1 or 2");

#define BLOCK_SAMPLES (MCUFORGE_FEATURES_HOP_LENGTH * MCUFORGE_MIC_DECIMATION)
#define BLOCK_BYTES (BLOCK_SAMPLES * sizeof(int16_t))
#define BLOCK_COUNT 8            /* 8 hops of slack for the classifier's longer hops */
#define READ_TIMEOUT_MS 1000

static const struct device *const dmic = DEVICE_DT_GET(DT_NODELABEL(dmic_dev));
K_MEM_SLAB_DEFINE_STATIC(pcm_slab, BLOCK_BYTES, BLOCK_COUNT, 4);
static struct mf_decimator decimator;

int dmic_source_init(void)
{
	struct pcm_stream_cfg stream = {
		.pcm_rate = MCUFORGE_MIC_RATE_HZ,
		.pcm_width = 16,
		.block_size = BLOCK_BYTES,
		.mem_slab = &pcm_slab,
	};
	struct dmic_cfg cfg = {
		.io = {.min_pdm_clk_freq = 1000000, .max_pdm_clk_freq = 3500000,
		       .min_pdm_clk_dc = 40, .max_pdm_clk_dc = 60},
		.streams = &stream,
		.channel = {.req_num_streams = 1, .req_num_chan = 1},
	};
	int status;

	if (!device_is_ready(dmic)) {
		printk("mcuforge: microphone %s not ready\n", dmic->name);
		return -ENODEV;
	}
	cfg.channel.req_chan_map_lo = dmic_build_channel_map(0, 0, PDM_CHAN_LEFT);
	status = dmic_configure(dmic, &cfg);
	if (status == 0) {
		status = dmic_trigger(dmic, DMIC_TRIGGER_START);
	}
	if (status != 0) {
		printk("mcuforge: microphone %s failed to start (%d)\n", dmic->name, status);
		return status;
	}
	mf_decimator_init(&decimator);
	printk("mcuforge: microphone %s, %d Hz PCM, decimated by %d to %d Hz, hop %d samples\n", dmic->name,
	       MCUFORGE_MIC_RATE_HZ, MCUFORGE_MIC_DECIMATION, MCUFORGE_MODEL_RATE_HZ, MCUFORGE_FEATURES_HOP_LENGTH);
	return 0;
}

int dmic_source_next_hop(int16_t *hop)
{
	void *block;
	size_t size;
	int status = dmic_read(dmic, 0, &block, &size, READ_TIMEOUT_MS);

	if (status != 0) {
		return status;
	}
	if (size != BLOCK_BYTES) {
		k_mem_slab_free(&pcm_slab, block);
		return -EIO;
	}
	if (MCUFORGE_MIC_DECIMATION == 2) {
		mf_decimate2(&decimator, block, BLOCK_SAMPLES, hop);
	} else {
		memcpy(hop, block, BLOCK_BYTES);
	}
	k_mem_slab_free(&pcm_slab, block);
	return 0;
}

#endif /* MCUFORGE_STREAM_OK */

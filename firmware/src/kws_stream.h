/* Streaming keyword spotting, the portable core shared by the bare-metal stream harness
 * (firmware/baremetal/stream_main.c, on QEMU) and the Zephyr microphone app (src/main_stream.c).
 * Python twin: mcuforge.firmware.streaming (stream_reference, detect).
 *
 * Hop h hands in frame h (MCUFORGE_FEATURES_FRAME_LENGTH int16 samples, hop h * HOP_LENGTH on):
 * its N_COEFFS MFCCs (mcuforge_mfcc_frame_pcm) are quantised to the model's int8 input at once
 * (mcuforge_features_quantize) into a ring of N_FRAMES rows. After hop h with h + 1 >= N_FRAMES and
 * (h + 1) % every == 0 the ring, oldest row first, is the model input of frames h - N_FRAMES + 1
 * .. h. With features.clip_norm: mean (MCUFORGE_FEATURES_MFCC_CLIP_NORM) the ring holds the float
 * MFCCs instead; each classification copies them oldest first into one map, normalises it as a
 * whole clip (mcuforge_mfcc_clip_normalize: the mean over exactly these frames) and quantises it:
 * the model sees what the features stage computes for the window that starts at frame
 * h - N_FRAMES + 1 (2 x 4 x N_FRAMES x N_COEFFS bytes more RAM). The int8 logits enter a moving
 * sum over the last `smooth` classifications (int32 per class:
 * the smoothed log-posterior up to a constant); a detection of class c fires when c = argmax
 * (lowest index on ties) is a keyword (c >= first_keyword), `smooth` classifications exist,
 * sum[c] - max over the others >= threshold (output quantisation steps x smooth), and no detection
 * fired in the previous `refractory` classifications. */
#ifndef MCUFORGE_KWS_STREAM_H
#define MCUFORGE_KWS_STREAM_H

#include <stdint.h>

#include "mcuforge_features_config.h"

#define MF_KWS_ERR_FEATURES (-4)
#define MF_KWS_ERR_INVOKE (-5)

typedef int (*mf_kws_invoke_fn)(const int8_t *input, int8_t *logits);

struct mf_kws_config {
	mf_kws_invoke_fn invoke;
	int n_outputs;
	uint32_t every, smooth, refractory;
	int32_t threshold;
	int first_keyword;
	int8_t *history; /* smooth x n_outputs, caller's storage */
	int32_t *sums;   /* n_outputs, caller's storage */
};

struct mf_kws_stream {
	struct mf_kws_config cfg;
#if MCUFORGE_FEATURES_MFCC_CLIP_NORM
	float ring[MCUFORGE_FEATURES_N_FRAMES][MCUFORGE_FEATURES_N_COEFFS];
	float map[MCUFORGE_FEATURES_N_FRAMES * MCUFORGE_FEATURES_N_COEFFS];
#else
	int8_t ring[MCUFORGE_FEATURES_N_FRAMES][MCUFORGE_FEATURES_N_COEFFS];
#endif
	int8_t input[MCUFORGE_FEATURES_N_FRAMES * MCUFORGE_FEATURES_N_COEFFS];
	uint32_t hop, classified, quiet;
};

void mf_kws_stream_init(struct mf_kws_stream *s, const struct mf_kws_config *cfg);

/* One hop with its frame: 1 when the classifier ran (logits in `logits`, *detected = the class or
 * -1), 0 when not, or MF_KWS_ERR_FEATURES / MF_KWS_ERR_INVOKE. */
int mf_kws_stream_hop(struct mf_kws_stream *s, const int16_t *frame, int8_t *logits, int *detected);

#endif /* MCUFORGE_KWS_STREAM_H */

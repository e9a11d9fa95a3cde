/* Streaming keyword spotting core: kws_stream.h. */
#include "kws_stream.h"

#include <string.h>

#include "mcuforge/features.h"

#define N_FRAMES MCUFORGE_FEATURES_N_FRAMES
#define N_COEFFS MCUFORGE_FEATURES_N_COEFFS

void mf_kws_stream_init(struct mf_kws_stream *s, const struct mf_kws_config *cfg)
{
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	memset(cfg->history, 0, (size_t)cfg->smooth * (size_t)cfg->n_outputs);
	memset(cfg->sums, 0, (size_t)cfg->n_outputs * sizeof cfg->sums[0]);
}

/* The smoothing and detection step of one classification: the detected class or -1. */
static int detect(struct mf_kws_stream *s, const int8_t *logits)
{
	const struct mf_kws_config *cfg = &s->cfg;
	int8_t *row = cfg->history + (s->classified % cfg->smooth) * (uint32_t)cfg->n_outputs;
	int32_t runner_up = INT32_MIN;
	int best = 0, c;

	for (c = 0; c < cfg->n_outputs; ++c) {
		cfg->sums[c] += (int32_t)logits[c] - (s->classified >= cfg->smooth ? row[c] : 0);
		row[c] = logits[c];
		if (cfg->sums[c] > cfg->sums[best])
			best = c;
	}
	for (c = 0; c < cfg->n_outputs; ++c)
		if (c != best && cfg->sums[c] > runner_up)
			runner_up = cfg->sums[c];
	if (s->quiet > 0)
		--s->quiet;
	if (s->classified + 1 < cfg->smooth || best < cfg->first_keyword || s->quiet > 0 ||
	    cfg->sums[best] - runner_up < cfg->threshold)
		return -1;
	s->quiet = cfg->refractory + 1;
	return best;
}

int mf_kws_stream_hop(struct mf_kws_stream *s, const int16_t *frame, int8_t *logits, int *detected)
{
	const uint32_t hop = s->hop++;
	float coeffs[N_COEFFS];
	int f;

	if (mcuforge_mfcc_frame_pcm(frame, coeffs) != MCUFORGE_FEATURES_OK)
		return MF_KWS_ERR_FEATURES;
#if MCUFORGE_FEATURES_MFCC_CLIP_NORM
	memcpy(s->ring[hop % N_FRAMES], coeffs, sizeof coeffs);
#else
	if (mcuforge_features_quantize(coeffs, 0, N_COEFFS, s->ring[hop % N_FRAMES]) != MCUFORGE_FEATURES_OK)
		return MF_KWS_ERR_FEATURES;
#endif
	if (hop + 1 < N_FRAMES || (hop + 1) % s->cfg.every != 0)
		return 0;
#if MCUFORGE_FEATURES_MFCC_CLIP_NORM
	for (f = 0; f < N_FRAMES; ++f) /* oldest first: frame hop - N_FRAMES + 1 + f */
		memcpy(s->map + f * N_COEFFS, s->ring[(hop + 1 + f) % N_FRAMES], sizeof s->ring[0]);
	mcuforge_mfcc_clip_normalize(s->map);
	if (mcuforge_features_quantize(s->map, 0, N_FRAMES * N_COEFFS, s->input) != MCUFORGE_FEATURES_OK)
		return MF_KWS_ERR_FEATURES;
#else
	for (f = 0; f < N_FRAMES; ++f)
		memcpy(s->input + f * N_COEFFS, s->ring[(hop + 1 + f) % N_FRAMES], N_COEFFS);
#endif
	if (s->cfg.invoke(s->input, logits) != 0)
		return MF_KWS_ERR_INVOKE;
	*detected = detect(s, logits);
	++s->classified;
	return 1;
}

/* Decimation by 2 of int16 PCM (16 kHz PDM microphone -> the KWS model's 8 kHz): a fixed integer
 * half-band FIR low-pass, then every second output kept. Exact integer arithmetic; the Python twin
 * is mcuforge.dsp.decimate (tests/test_decimate.py proves them equal with the host gcc).
 *
 * The filter: 31 taps, Hamming-windowed sinc with cut-off fs/4, scaled to Q15 and rounded, the
 * centre tap adjusted so the taps sum to exactly 32768 (DC gain 1). -0.45 dB at 3.4 kHz, <= -25.6 dB
 * from 4.6 kHz and <= -51.7 dB from 5 kHz (at the 16 kHz input rate). Output sample n is
 *   y[n] = clamp_int16((sum_k taps[k] * x[2n + k - 30] + 16384) >> 15)
 * (arithmetic shift = floor) with x[i] = 0 for i < 0 (the filter starts from silence). The sum of
 * |taps| is 50092, so |sum| <= 50092 * 32768 < 2^31: int32 never overflows. */
#ifndef MCUFORGE_DECIMATE_H
#define MCUFORGE_DECIMATE_H

#include <stdint.h>

#define MF_DECIMATE_TAPS 31

struct mf_decimator {
	int16_t history[MF_DECIMATE_TAPS - 1]; /* the last 30 input samples, oldest first */
	uint32_t phase;                        /* input samples seen, mod 2 */
};

void mf_decimator_init(struct mf_decimator *d);

/* Filter `count` input samples, append the kept outputs to `out`; returns how many (count / 2, or
 * one more / less by the phase carried from the previous call). `in` and `out` may be the same. */
uint32_t mf_decimate2(struct mf_decimator *d, const int16_t *in, uint32_t count, int16_t *out);

#endif /* MCUFORGE_DECIMATE_H */

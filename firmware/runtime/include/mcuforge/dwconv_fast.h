/* Specialised int8 DEPTHWISE_CONV_2D (batch 1, depth_multiplier 1): the body the generated code
 * instantiates once per layer with every shape, stride, dilation, padding and requantisation
 * constant a literal (see conv_fast.h; Python side: mcuforge/codegen/dwconv_fast.py).
 *
 * Equals tflite::reference_integer_ops::DepthwiseConvPerChannel bit for bit:
 * - the input offset is folded into the bias at codegen time:
 *   bias_folded[ch] = bias[ch] + input_offset * sum_t w[t][ch] (mod 2^32), so the taps add w * x;
 * - an output pixel whose taps are all valid reads them in place, at literal offsets from its
 *   first tap; an edge pixel points each invalid tap at `zp_row` (c bytes of input_zp =
 *   -input_offset): it adds w * zp, cancelling its share of the folded offset, i.e. the 0 that
 *   TFLM's skipped tap adds (int32 addition is associative modulo 2^32);
 * - four channels at a time: per tap one word of 4 input channels and one of 4 weights; with
 *   __ARM_FEATURE_DSP SXTB16 (bytes 0,2) and SXTB16 ROR 8 (bytes 1,3) split both into int16
 *   lanes, and SMLABB / SMLATT accumulate each lane into its own channel (not SMLAD, which would
 *   sum two channels). Without DSP a portable loop over the 4 channels with literal offsets
 *   (Cortex-M0+/M3, RISC-V). Leftover channels (c % 4) run one at a time.
 * - the output stage is mf_requantize_s8 with multipliers >= 0 (MF_CF_REQUANT, conv_fast.h); with
 *   `right_shifts_only` (a literal: every shift <= 0) the left shift is left out, and with `nudged`
 *   (a literal: every shift <= -1 and the accumulator bounded, mcuforge.codegen.dwconv_fast.
 *   nudged_rounding) the division rounds by mf_rounding_divide_by_pot_nudged (MF_DW_REQUANT); with
 *   `below_2p20` (a literal, see mf_requantize_right_s8) ARMv6-M multiplies in 32 bits. */
#ifndef MCUFORGE_DWCONV_FAST_H
#define MCUFORGE_DWCONV_FAST_H

#include <stdint.h>
#include "mcuforge/conv_fast.h"
#include "mcuforge/dot.h"
#include "mcuforge/fixedpoint.h"

#define MF_DW_MAX_TAPS 64 /* mcuforge.codegen.dwconv_fast.MAX_TAPS: larger filters stay portable */

/* How far the tap loops unroll, measured on the KWS DS-CNN's 3x3 layers (instructions per layer):
 * all taps with DSP (M4) and on ARMv6-M (M0+: 664 k vs 726 k for rows only); one row of taps on
 * Thumb-2 without DSP (M3: 311 k vs 326 k all, 366 k none); none on RV32IMC (469 k vs 500 k one
 * row, 562 k all: gcc hoists the loads of the unrolled taps and spills them). */
#if defined(MF_USE_DSP) || (defined(__thumb__) && !defined(__thumb2__))
#define MF_DW_UNROLL_ROWS MF_UNROLL(GCC unroll 16)
#else
#define MF_DW_UNROLL_ROWS
#endif
#if defined(MF_USE_DSP) || defined(__thumb__)
#define MF_DW_UNROLL_COLUMNS MF_UNROLL(GCC unroll 16)
#else
#define MF_DW_UNROLL_COLUMNS
#endif

/* Input row (c channels) of tap (fy, fx): in place at a literal offset from `base`, or tap[t]. */
#define MF_DW_TAP(fy, fx) (in_place ? base + ((fy) * dh * in_w + (fx) * dw) * c : tap[(fy) * fw + (fx)])

#define MF_DW_REQUANT(acc, ch)                                                                                    \
    (right_shifts_only ? mf_requantize_right_s8((acc), mf_cf_nonneg(multiplier[ch]), -shift[ch], nudged,         \
                                                below_2p20, output_offset, act_min, act_max)                      \
                       : MF_CF_REQUANT((acc), (ch)))

/* acc[k] += sum over the fh x fw taps of w[t][c0 + k] * x_t[c0 + k], k < 4. */
__attribute__((always_inline)) static inline void mf_dw_group4(const int8_t *base, const int8_t *const *tap,
                                                              int32_t in_place, const int8_t *filter, int32_t c0,
                                                              int32_t c, int32_t in_w, int32_t fh, int32_t fw,
                                                              int32_t dh, int32_t dw, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t fy, fx;
    MF_DW_UNROLL_ROWS
    for (fy = 0; fy < fh; ++fy) {
        MF_DW_UNROLL_COLUMNS
        for (fx = 0; fx < fw; ++fx) {
            const int8_t *x = MF_DW_TAP(fy, fx) + c0;
            const int8_t *w = filter + (fy * fw + fx) * c + c0;
#if defined(MF_USE_DSP)
            const uint32_t xv = mf_load_u32(x), wv = mf_load_u32(w);
            const uint32_t x02 = MF_SXTB16(xv), x13 = MF_SXTB16_ROR8(xv);
            const uint32_t w02 = MF_SXTB16(wv), w13 = MF_SXTB16_ROR8(wv);
            a0 = MF_SMLABB(x02, w02, a0);
            a2 = MF_SMLATT(x02, w02, a2);
            a1 = MF_SMLABB(x13, w13, a1);
            a3 = MF_SMLATT(x13, w13, a3);
#else
            a0 += w[0] * x[0];
            a1 += w[1] * x[1];
            a2 += w[2] * x[2];
            a3 += w[3] * x[3];
#endif
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Every channel of one output pixel (taps in place from `base`, or from `tap`). */
__attribute__((always_inline)) static inline void mf_dw_pixel(const int8_t *base, const int8_t *const *tap,
                                                             int32_t in_place, const int8_t *filter,
                                                             const int32_t *bias_folded, const int32_t *multiplier,
                                                             const int32_t *shift, int8_t *out, int32_t c,
                                                             int32_t in_w, int32_t fh, int32_t fw, int32_t dh,
                                                             int32_t dw, int32_t output_offset, int32_t act_min,
                                                             int32_t act_max, int32_t right_shifts_only,
                                                             int32_t nudged, int32_t below_2p20)
{
    int32_t c0, k, fy, fx;
    for (c0 = 0; c0 + 3 < c; c0 += 4) {
        int32_t acc[4];
        for (k = 0; k < 4; ++k)
            acc[k] = bias_folded[c0 + k];
        mf_dw_group4(base, tap, in_place, filter, c0, c, in_w, fh, fw, dh, dw, acc);
        for (k = 0; k < 4; ++k)
            out[c0 + k] = MF_DW_REQUANT(acc[k], c0 + k);
    }
    for (; c0 < c; ++c0) {
        int32_t acc = bias_folded[c0];
        for (fy = 0; fy < fh; ++fy)
            for (fx = 0; fx < fw; ++fx)
                acc += filter[(fy * fw + fx) * c + c0] * MF_DW_TAP(fy, fx)[c0];
        out[c0] = MF_DW_REQUANT(acc, c0);
    }
}

/* The layer: output[oy][ox][ch] for every output pixel (raster order) and channel. */
__attribute__((always_inline)) static inline void mf_dwconv_fast_s8(
    const int8_t *input, const int8_t *filter, const int32_t *bias_folded, const int32_t *multiplier,
    const int32_t *shift, const int8_t *zp_row, int8_t *output, int32_t in_h, int32_t in_w, int32_t c, int32_t fh,
    int32_t fw, int32_t out_h, int32_t out_w, int32_t sh, int32_t sw, int32_t dh, int32_t dw, int32_t pad_h,
    int32_t pad_w, int32_t output_offset, int32_t act_min, int32_t act_max, int32_t right_shifts_only,
    int32_t nudged, int32_t below_2p20)
{
    int32_t oy, ox, fy, fx;
    for (oy = 0; oy < out_h; ++oy) {
        const int32_t in_y0 = oy * sh - pad_h;
        const int32_t rows_in = in_y0 >= 0 && in_y0 + dh * (fh - 1) < in_h;
        for (ox = 0; ox < out_w; ++ox) {
            const int32_t in_x0 = ox * sw - pad_w;
            int8_t *out = output + (oy * out_w + ox) * c;
            if (rows_in && in_x0 >= 0 && in_x0 + dw * (fw - 1) < in_w) {
                mf_dw_pixel(input + (in_y0 * in_w + in_x0) * c, 0, 1, filter, bias_folded, multiplier, shift, out,
                            c, in_w, fh, fw, dh, dw, output_offset, act_min, act_max, right_shifts_only, nudged,
                            below_2p20);
            } else {
                const int8_t *tap[MF_DW_MAX_TAPS];
                for (fy = 0; fy < fh; ++fy) {
                    const int32_t iy = in_y0 + dh * fy;
                    for (fx = 0; fx < fw; ++fx) {
                        const int32_t ix = in_x0 + dw * fx;
                        tap[fy * fw + fx] = (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w)
                                                ? zp_row
                                                : input + (iy * in_w + ix) * c;
                    }
                }
                mf_dw_pixel(0, tap, 0, filter, bias_folded, multiplier, shift, out, c, in_w, fh, fw, dh, dw,
                            output_offset, act_min, act_max, right_shifts_only, nudged, below_2p20);
            }
        }
    }
}

#endif /* MCUFORGE_DWCONV_FAST_H */

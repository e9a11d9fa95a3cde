/* Specialised int8 CONV_2D (groups == 1): the body the generated code instantiates once per
 * layer, from a static function that passes every shape, stride, padding and requantisation
 * constant as a literal, so the compiler folds them (the TinyEngine / EON approach).
 *
 * Equals tflite::reference_integer_ops::ConvPerChannel bit for bit:
 * - the input offset is folded into the bias at codegen time (mcuforge.codegen.conv_fast):
 *   bias_folded[oc] = bias[oc] + input_offset * sum_k w[oc][k] (mod 2^32), so the inner loop is
 *   sum_k w[oc][k] * x[k] over the full patch;
 * - a padded tap reads input_zp (= -input_offset): it adds w * (zp + input_offset) = 0, exactly
 *   what TFLM's skipped tap adds; int32 addition is associative modulo 2^32;
 * - a pixel's patch [fy][fx][c] is read in place when it is one contiguous run of the input
 *   (every tap valid, filter rows adjacent in memory); otherwise it is gathered into `patch`;
 * - register blocking: two output pixels x MF_CF_CH output channels per inner loop, sharing the
 *   weight loads (and, with __ARM_FEATURE_DSP, SXTB16 + SMLAD on int16 pairs as in CMSIS-NN's
 *   arm_nn_mat_mult_kernel_s8_s16). Without DSP a portable C loop runs (Cortex-M0+/M3, RISC-V).
 * The two pixels' patches sit `pdist` bytes apart (in the input, or in `patch`). */
#ifndef MCUFORGE_CONV_FAST_H
#define MCUFORGE_CONV_FAST_H

#include <stdint.h>
#include "mcuforge/dot.h"
#include "mcuforge/fixedpoint.h"

#if defined(__GNUC__) && !defined(__clang__)
#define MF_UNROLL(n) _Pragma(#n) /* the portable 2x4 loop: 749 k vs 800 k instructions (student, M3) */
#else
#define MF_UNROLL(n)
#endif

/* acc[2r + p] += sum_{i<n} w[r * n + i] * x_p[i] for two pixels (x_b = x_a + pdist) and two rows. */
__attribute__((always_inline)) static inline void mf_cf_block_2x2(const int8_t *xa, int32_t pdist, const int8_t *w,
                                                                 int32_t n, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *const x_end = xa + n;
#if defined(MF_USE_DSP)
    const int8_t *const x_end4 = xa + (n & ~3);
    while (xa != x_end4) {
        const uint32_t va = mf_load_u32(xa), vb = mf_load_u32(xa + pdist);
        const uint32_t a02 = MF_SXTB16(va), a13 = MF_SXTB16_ROR8(va);
        const uint32_t b02 = MF_SXTB16(vb), b13 = MF_SXTB16_ROR8(vb);
        uint32_t wv = mf_load_u32(w), w02 = MF_SXTB16(wv), w13 = MF_SXTB16_ROR8(wv);
        a0 = MF_SMLAD(a02, w02, a0);
        a0 = MF_SMLAD(a13, w13, a0);
        a1 = MF_SMLAD(b02, w02, a1);
        a1 = MF_SMLAD(b13, w13, a1);
        wv = mf_load_u32(w + n);
        w02 = MF_SXTB16(wv);
        w13 = MF_SXTB16_ROR8(wv);
        a2 = MF_SMLAD(a02, w02, a2);
        a2 = MF_SMLAD(a13, w13, a2);
        a3 = MF_SMLAD(b02, w02, a3);
        a3 = MF_SMLAD(b13, w13, a3);
        xa += 4;
        w += 4;
    }
#endif
    while (xa != x_end) {
        const int32_t xv = xa[0], yv = xa[pdist];
        const int32_t w0 = w[0], w1 = w[n];
        a0 += w0 * xv;
        a1 += w0 * yv;
        a2 += w1 * xv;
        a3 += w1 * yv;
        ++xa;
        ++w;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* acc[2r + p] += sum_{i<n} w[r * n + i] * x_p[i] for two pixels and four rows (portable). */
__attribute__((always_inline)) static inline void mf_cf_block_2x4(const int8_t *xa, int32_t pdist, const int8_t *w,
                                                                 int32_t n, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5], a6 = acc[6], a7 = acc[7];
    const int8_t *const x_end = xa + n;
    MF_UNROLL(GCC unroll 2)
    while (xa != x_end) {
        const int32_t xv = xa[0], yv = xa[pdist];
        int32_t wv = w[0];
        a0 += wv * xv;
        a1 += wv * yv;
        wv = w[n];
        a2 += wv * xv;
        a3 += wv * yv;
        wv = w[2 * n];
        a4 += wv * xv;
        a5 += wv * yv;
        wv = w[3 * n];
        a6 += wv * xv;
        a7 += wv * yv;
        ++xa;
        ++w;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = a4;
    acc[5] = a5;
    acc[6] = a6;
    acc[7] = a7;
}

/* acc[p] += sum_{i<n} w[i] * x_p[i] for two pixels and one row (the odd last channel; SMLAD with DSP). */
__attribute__((always_inline)) static inline void mf_cf_block_2x1(const int8_t *xa, int32_t pdist, const int8_t *w,
                                                                 int32_t n, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    const int8_t *const x_end = xa + n;
#if defined(MF_USE_DSP)
    const int8_t *const x_end4 = xa + (n & ~3);
    while (xa != x_end4) {
        const uint32_t va = mf_load_u32(xa), vb = mf_load_u32(xa + pdist), wv = mf_load_u32(w);
        const uint32_t w02 = MF_SXTB16(wv), w13 = MF_SXTB16_ROR8(wv);
        a0 = MF_SMLAD(MF_SXTB16(va), w02, a0);
        a0 = MF_SMLAD(MF_SXTB16_ROR8(va), w13, a0);
        a1 = MF_SMLAD(MF_SXTB16(vb), w02, a1);
        a1 = MF_SMLAD(MF_SXTB16_ROR8(vb), w13, a1);
        xa += 4;
        w += 4;
    }
#endif
    while (xa != x_end) {
        a0 += w[0] * xa[0];
        a1 += w[0] * xa[pdist];
        ++xa;
        ++w;
    }
    acc[0] = a0;
    acc[1] = a1;
}

/* Gather the patch of output pixel (in_y0, in_x0) into dst ([fy][fx][c]), padded taps = zp. */
__attribute__((always_inline)) static inline void mf_cf_gather(const int8_t *input, int32_t in_h, int32_t in_w,
                                                              int32_t c, int32_t fh, int32_t fw, int32_t dh,
                                                              int32_t dw, int32_t in_y0, int32_t in_x0, int8_t zp,
                                                              int8_t *dst)
{
    int32_t fy, fx, k;
    for (fy = 0; fy < fh; ++fy) {
        const int32_t iy = in_y0 + dh * fy;
        for (fx = 0; fx < fw; ++fx) {
            const int32_t ix = in_x0 + dw * fx;
            if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
                for (k = 0; k < c; ++k)
                    dst[k] = zp;
            } else {
                const int8_t *src = input + (iy * in_w + ix) * c;
                for (k = 0; k < c; ++k)
                    dst[k] = src[k];
            }
            dst += c;
        }
    }
}

/* Pointer to the patch of output pixel `pix` (row-major over out_h x out_w): in place when
 * `contiguous` layers allow it and every tap is valid, else gathered into dst. */
__attribute__((always_inline)) static inline const int8_t *mf_cf_patch(
    const int8_t *input, int32_t pix, int32_t in_h, int32_t in_w, int32_t c, int32_t fh, int32_t fw, int32_t sh,
    int32_t sw, int32_t dh, int32_t dw, int32_t pad_h, int32_t pad_w, int32_t out_w, int32_t contiguous, int8_t zp,
    int8_t *dst)
{
    const int32_t oy = pix / out_w, ox = pix - (pix / out_w) * out_w;
    const int32_t in_y0 = oy * sh - pad_h, in_x0 = ox * sw - pad_w;
    if (contiguous && in_y0 >= 0 && in_y0 + dh * (fh - 1) < in_h && in_x0 >= 0 && in_x0 + dw * (fw - 1) < in_w)
        return input + (in_y0 * in_w + in_x0) * c;
    mf_cf_gather(input, in_h, in_w, c, fh, fw, dh, dw, in_y0, in_x0, zp, dst);
    return dst;
}

/* The output stage of channel oc in the specialised kernel. The codegen specialises a layer only
 * when every multiplier is >= 0 (TFLite's always are: [2^30, 2^31) or 0), so the doubling high
 * multiply's INT32_MIN saturation case cannot occur; with `right_shifts_only` (every shift <= 0,
 * a literal) the left-shift path folds away, and with `nudged` (a literal, see
 * mf_requantize_right_s8) the division is one add, one subtract and one shift. Equal to
 * mf_requantize_s8 on such constants. */
#define MF_CF_REQUANT(acc, oc)                                                                              \
    (right_shifts_only                                                                                      \
         ? mf_requantize_right_s8((acc), mf_cf_nonneg(multiplier[oc]), -shift[oc], nudged, below_2p20,      \
                                  output_offset, act_min, act_max)                                          \
         : mf_requantize_s8((acc), mf_cf_nonneg(multiplier[oc]), shift[oc], output_offset, act_min, act_max))

#define MF_CF_REQUANT_ARMV6M(acc, oc)                                                                       \
    (requant_table ? mf_requantize_table_s8((acc), requant_table + 5 * (oc), output_offset, act_min, act_max) \
                   : MF_CF_REQUANT((acc), (oc)))

__attribute__((always_inline)) static inline int32_t mf_cf_nonneg(int32_t v)
{
    if (v < 0)
        __builtin_unreachable(); /* mcuforge.codegen.conv_fast.specialise_conv checks it */
    return v;
}

/* Every output channel of two pixels whose patches sit `dist` bytes apart (from xa). */
__attribute__((always_inline)) static inline void mf_cf_channels(const int8_t *xa, int32_t dist, int32_t two,
                                                                const int8_t *filter, const int32_t *filter_rows,
                                                                const int32_t *bias_folded,
                                                                const int32_t *multiplier, const int32_t *shift,
                                                                const int32_t *requant_table,
                                                                int32_t n, int32_t out_c, int32_t output_offset,
                                                                int32_t act_min, int32_t act_max,
                                                                int32_t right_shifts_only, int32_t nudged,
                                                                int32_t below_2p20, int8_t *out_a)
{
    int8_t *out_b = out_a + out_c;
    int32_t oc;
#if MF_ARMV6M
    /* ARMv6-M: five channels of one pixel at a time from the tap-interleaved int32 weights
     * (mf_rows_armv6m, by hand: gcc spills the accumulators on this core), then the rest; the output
     * stage from the precomputed table when the codegen made one (mf_requantize_table_s8) */
    int32_t p, k;
    (void)filter;
    for (p = 0; p < 1 + two; ++p) {
        int8_t *const out = p ? out_b : out_a;
        int32_t acc[5];
        for (oc = 0; oc + 4 < out_c; oc += 5) {
            mf_rows_armv6m(xa + p * dist, n, filter_rows + oc * n, bias_folded + oc, 5, acc);
            MF_UNROLL(GCC unroll 5)
            for (k = 0; k < 5; ++k)
                out[oc + k] = MF_CF_REQUANT_ARMV6M(acc[k], oc + k);
        }
        if (oc < out_c) {
            mf_rows_armv6m(xa + p * dist, n, filter_rows + oc * n, bias_folded + oc, out_c - oc, acc);
            for (k = 0; oc + k < out_c; ++k)
                out[oc + k] = MF_CF_REQUANT_ARMV6M(acc[k], oc + k);
        }
    }
#else
    (void)filter_rows;
    (void)requant_table;
#if !defined(MF_USE_DSP)
    /* without DSP: four channels x two pixels (every offset is a literal: one LDRSB each) */
    for (oc = 0; oc + 3 < out_c; oc += 4) {
        int32_t acc[8], k;
        for (k = 0; k < 4; ++k)
            acc[2 * k] = acc[2 * k + 1] = bias_folded[oc + k];
        mf_cf_block_2x4(xa, dist, filter + oc * n, n, acc);
        for (k = 0; k < 4; ++k) {
            out_a[oc + k] = MF_CF_REQUANT(acc[2 * k], oc + k);
            if (two)
                out_b[oc + k] = MF_CF_REQUANT(acc[2 * k + 1], oc + k);
        }
    }
#else
    oc = 0;
#endif
    for (; oc + 1 < out_c; oc += 2) {
        int32_t acc[4];
        acc[0] = acc[1] = bias_folded[oc];
        acc[2] = acc[3] = bias_folded[oc + 1];
        mf_cf_block_2x2(xa, dist, filter + oc * n, n, acc);
        out_a[oc] = MF_CF_REQUANT(acc[0], oc);
        out_a[oc + 1] = MF_CF_REQUANT(acc[2], oc + 1);
        if (two) {
            out_b[oc] = MF_CF_REQUANT(acc[1], oc);
            out_b[oc + 1] = MF_CF_REQUANT(acc[3], oc + 1);
        }
    }
    if (oc < out_c) {
        int32_t acc[2];
        acc[0] = acc[1] = bias_folded[oc];
        mf_cf_block_2x1(xa, dist, filter + oc * n, n, acc);
        out_a[oc] = MF_CF_REQUANT(acc[0], oc);
        if (two)
            out_b[oc] = MF_CF_REQUANT(acc[1], oc);
    }
#endif /* MF_ARMV6M */
}

/* The layer: output[pix][oc] for every output pixel and channel. `patch` holds max(pdist, n) + n
 * bytes (zero-initialised static storage: an odd last pixel's partner reads defined bytes).
 * pdist: the in-place distance between consecutive pixels' patches when `contiguous` (one
 * output column: sh * in_w * c), else n. */
__attribute__((always_inline)) static inline void mf_conv_fast_s8(
    const int8_t *input, const int8_t *filter, const int32_t *filter_rows, const int32_t *bias_folded,
    const int32_t *multiplier, const int32_t *shift, const int32_t *requant_table, int8_t *output, int8_t *patch,
    int32_t in_h, int32_t in_w, int32_t c, int32_t fh, int32_t fw, int32_t out_h, int32_t out_w, int32_t out_c,
    int32_t sh, int32_t sw, int32_t dh, int32_t dw, int32_t pad_h, int32_t pad_w, int32_t input_zp,
    int32_t contiguous, int32_t pdist, int32_t output_offset, int32_t act_min, int32_t act_max,
    int32_t right_shifts_only, int32_t nudged, int32_t below_2p20)
{
    const int32_t n = fh * fw * c, pixels = out_h * out_w;
    const int32_t gdist = pdist > n ? pdist : n; /* gathered pairs never overlap */
    int32_t pix;
    for (pix = 0; pix < pixels; pix += 2) {
        const int32_t two = pix + 1 < pixels;
        int32_t dist = pdist;
        const int8_t *xa = mf_cf_patch(input, pix, in_h, in_w, c, fh, fw, sh, sw, dh, dw, pad_h, pad_w, out_w,
                                       contiguous, (int8_t)input_zp, patch);
        int8_t *out_a = output + pix * out_c;
        if (xa == patch || !two ||
            xa + pdist != mf_cf_patch(input, pix + 1, in_h, in_w, c, fh, fw, sh, sw, dh, dw, pad_h, pad_w, out_w,
                                      contiguous, (int8_t)input_zp, patch + gdist)) {
            /* not both in place at distance pdist: gather both (the second one's bytes are
             * read but unused when it does not exist) */
            if (xa != patch)
                mf_cf_gather(input, in_h, in_w, c, fh, fw, dh, dw, (pix / out_w) * sh - pad_h,
                             (pix - (pix / out_w) * out_w) * sw - pad_w, (int8_t)input_zp, patch);
            if (two)
                (void)mf_cf_patch(input, pix + 1, in_h, in_w, c, fh, fw, sh, sw, dh, dw, pad_h, pad_w, out_w, 0,
                                  (int8_t)input_zp, patch + gdist);
            xa = patch;
            dist = gdist;
        }
        /* two instantiations: the distance is a literal in each inner loop */
        if (dist == pdist)
            mf_cf_channels(xa, pdist, two, filter, filter_rows, bias_folded, multiplier, shift, requant_table, n, out_c,
                           output_offset, act_min, act_max, right_shifts_only, nudged, below_2p20, out_a);
        else
            mf_cf_channels(xa, gdist, two, filter, filter_rows, bias_folded, multiplier, shift, requant_table, n, out_c,
                           output_offset, act_min, act_max, right_shifts_only, nudged, below_2p20, out_a);
    }
}

#endif /* MCUFORGE_CONV_FAST_H */

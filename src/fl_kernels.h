/* fl_kernels.h -- the SIMD inner loops of fastloss, compiled once per x86-64 ISA level and chosen at import.
 *
 * Why C and not Cython: Cython cannot mark a loop `#pragma omp simd`, and GCC only vectorises a loop that
 * calls log/exp when the math is inline and branch-free (fl_vmath.h) and the loop carries that pragma.
 *
 * Why explicit dispatch and not target_clones: the same bodies are compiled for the baseline (SSE2), x86-64-v3
 * (AVX2, FMA) and x86-64-v4 (AVX-512) levels and reached through one function table, so a test can force the
 * baseline level (FASTLOSS_ISA=baseline) and check that it gives the same bits. It does, because
 *   - setup.py compiles with -ffp-contract=off (no FMA contraction: every level rounds the same operations),
 *   - fl_vmath.h specifies every operation in C (no libm or libmvec whose variants differ by ISA),
 *   - sums that cross lanes use a fixed number of lanes (FL_LANES) combined in a fixed order, so the vector
 *     width changes how many registers hold the lanes, not the order of the additions.
 * The scalar tier-1 code in _kernels.pyx.tp uses the same fl_vmath functions, so the scalar fallback (a chunk
 * holding a value that must be reported) gives the bits the vector loop would have given.
 *
 * Row loops ("rows_*"): nr rows of K contiguous elements -> one double per row, the mean over K of the element
 * losses, summed in k order exactly as the scalar code does. They return non-zero if a probability lies
 * outside [0, 1] anywhere in the chunk (masked rows included: the caller then redoes the chunk row by row,
 * checking included rows only).
 */
#ifndef FL_KERNELS_H
#define FL_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fl_vmath.h"

/* Elements per vector chunk: the per-element buffer (16 KiB of doubles) stays in L1. */
#define FL_CHUNK 2048
/* Rows per part of a chunk whose passes keep several buffers of doubles per element: half a chunk of elements
 * (8 KiB a buffer, so two of them and the inputs stay in a 32 KiB L1), whole vectors of 8 rows where there are
 * 8. CCE f32 on rows of 10, one thread: 10.6-10.9 ns a row in parts of 204 rows, 10.2 in parts of 96. */
#define FL_PART_ROWS(K) ((FL_CHUNK / 2) / (K) >= 8 ? ((FL_CHUNK / 2) / (K)) & ~(ptrdiff_t)7                   \
                         : (FL_CHUNK / 2) / (K) >= 1 ? (FL_CHUNK / 2) / (K) : 1)
/* Prefetch hints (they never fault, so an address past the end of an array is harmless). FL_PREFETCH_ROW asks for
 * every line of a row of at least a line, by its first and last element. Low temporal locality (prefetcht2): the
 * next chunk's lines wait in L2 rather than in an L1 that the chunk's own buffers fill, and the requests do not
 * hold L1's miss buffers. Against prefetcht0, one thread at 1e7 (rows of 10, float64): Keras 2.2 9.3-9.9 ->
 * 7.8-8.5 ms, CCE on probabilities 17.7-18.1 -> 12.8-13.0 ms. */
#ifndef FL_NO_PREFETCH
#define FL_PREFETCH(ADDRESS) __builtin_prefetch(ADDRESS, 0, 1)
#else
#define FL_PREFETCH(ADDRESS) ((void)0)
#endif
#define FL_PREFETCH_ROW(ROW, K) (FL_PREFETCH(ROW), FL_PREFETCH((ROW) + (K) - 1))
/* FL_PIECES_AHEAD runs BODY (a loop over [I0, I1)) on the N elements of a chunk in pieces of FL_PREFETCH_STRIDE,
 * each piece first asking for its own lines of Y and P AHEAD elements on (the next chunk): for the exp-bound BCE
 * from logits, whose slow loop leaves the hardware prefetcher behind. 1e7 elements in rows of 8, two threads:
 * float64 7.4-7.8 -> 5.9-6.3 ms, float32 3.9-4.1 -> 3.6-3.8 ms, at 2-5% more for 1e5 (data in L2/L3). All of a
 * chunk's lines at once, or pieces of 512, gained nothing; memory-bound loops (MAE) only got slower. */
#define FL_PREFETCH_STRIDE 128
#define FL_PIECES_AHEAD(T, N, AHEAD, Y, P, I0, I1, ...)                                                       \
    for (ptrdiff_t I0 = 0; I0 < (N); I0 += FL_PREFETCH_STRIDE) {                                              \
        const ptrdiff_t I1 = I0 + FL_PREFETCH_STRIDE < (N) ? I0 + FL_PREFETCH_STRIDE : (N);                   \
        FL_PREFETCH_LINES(T, (Y) + (AHEAD) + I0, (P) + (AHEAD) + I0, I1 - I0);                                \
        __VA_ARGS__                                                                                           \
    }
/* Asks for the lines of COUNT elements of type T at Y and at P (interleaved), or of the n bytes at start. */
#define FL_LINE_BYTES 64
#define FL_PREFETCH_LINES(T, Y, P, COUNT)                                                                     \
    for (ptrdiff_t fl_l_ = 0; fl_l_ < (COUNT); fl_l_ += FL_LINE_BYTES / (ptrdiff_t)sizeof(T)) {               \
        FL_PREFETCH((Y) + fl_l_);                                                                             \
        FL_PREFETCH((P) + fl_l_);                                                                             \
    }
FL_INLINE void fl_prefetch_bytes(const void* start, ptrdiff_t n)
{
    for (ptrdiff_t b = 0; b < n; b += FL_LINE_BYTES) FL_PREFETCH((const char*)start + b);
}
/* Lanes of a cross-element sum; their fixed count and combination order make sums ISA-independent. */
#define FL_LANES 8

typedef struct {
    /* Every scalar a loss may read. _kernels.pyx.tp's PARAM_FIELDS lists the double fields in the order of the
     * `params` array the Python side passes (fastloss/_engine.py builds it by name); a kernel reads only its own. */
    double lo;       /* probability clip bounds, taken in the input dtype by the caller */
    double hi;
    double keep;     /* target transform y' = y * keep + offset: label smoothing, hinge's {0,1} -> {-1,1} */
    double offset;
    double delta;    /* huber's threshold */
    double gamma;    /* focal exponent */
    double alpha;    /* focal balance; tversky's false-negative weight */
    double beta;     /* tversky's false-positive weight; smooth L1's threshold */
    double q;        /* generalized crossentropy exponent */
    double smooth;   /* additive smoothing of ratio losses (dice, tversky) */
    double threshold;/* decision threshold of binary metrics */
    double margin;   /* margin losses */
    double eps;      /* a loss's own epsilon where it differs from the clip bounds */
    double k;        /* top-k */
    double flags;    /* kernel-specific switches (bit set, exact in a double) */
    const double* columns;  /* per-column table (layout defined by the kernel that reads it), or NULL */
    ptrdiff_t n_columns;    /* entries in columns */
} fl_params;

typedef int (*fl_rows_f32_fn)(const float*, const float*, ptrdiff_t, ptrdiff_t, const fl_params*, double*);
typedef int (*fl_rows_f64_fn)(const double*, const double*, ptrdiff_t, ptrdiff_t, const fl_params*, double*);
typedef double (*fl_lse_f32_fn)(const float*, ptrdiff_t);
typedef double (*fl_lse_f64_fn)(const double*, ptrdiff_t);
typedef double (*fl_row_f32_fn)(const float*, const float*, ptrdiff_t, const fl_params*, int*);
typedef double (*fl_row_f64_fn)(const double*, const double*, ptrdiff_t, const fl_params*, int*);
typedef ptrdiff_t (*fl_chunk_weights_f32_fn)(const float*, float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, const double*,
                                            const float*, ptrdiff_t, const double*, ptrdiff_t, const unsigned char*,
                                            ptrdiff_t, double*, double*, ptrdiff_t*);
typedef ptrdiff_t (*fl_chunk_weights_f64_fn)(const double*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t, const double*,
                                            const float*, ptrdiff_t, const double*, ptrdiff_t, const unsigned char*,
                                            ptrdiff_t, double*, double*, ptrdiff_t*);

typedef int (*fl_overlap_f32_fn)(const float*, const float*, ptrdiff_t, int, const fl_params*, double*);
typedef int (*fl_overlap_f64_fn)(const double*, const double*, ptrdiff_t, int, const fl_params*, double*);

/* The losses with an element loss fl_<name>_element(y, p, prm). X(ISA, ATTR, NAME) is expanded for each name:
 * table fields, element functions, table entries. The row value is the mean over the row of the elements (the
 * loop bodies of FL_ELEMENTWISE_IN_DOUBLE; _kernels.pyx.tp's ELEMENTWISE lists the same names), except for
 * bce_logits, whose rows take one log per row (FL_BCE_LOGITS_ROWS). */
#define FL_ELEMENTWISE(X, ISA, ATTR) X(ISA, ATTR, bce_logits) FL_ELEMENTWISE_IN_DOUBLE(X, ISA, ATTR)
/* Those whose float32 elements are computed in double too (fl_<name>_element_f32 = fl_<name>_element). */
#define FL_ELEMENTWISE_IN_DOUBLE(X, ISA, ATTR)                                                                \
    X(ISA, ATTR, squared_error) X(ISA, ATTR, absolute_error)                                                  \
    X(ISA, ATTR, absolute_percentage_error) X(ISA, ATTR, squared_logarithmic_error) X(ISA, ATTR, huber)       \
    X(ISA, ATTR, log_cosh) X(ISA, ATTR, poisson) X(ISA, ATTR, hinge) X(ISA, ATTR, squared_hinge)

#define FL_TABLE_FIELDS(ISA, ATTR, NAME) fl_rows_f32_fn NAME##_f32; fl_rows_f64_fn NAME##_f64;
#define FL_TABLE_ENTRIES(ISA, ATTR, NAME) .NAME##_f32 = fl_rows_##NAME##_f32_##ISA, .NAME##_f64 = fl_rows_##NAME##_f64_##ISA,

struct fl_sparse_rows;  /* fl_sparse.h */

typedef struct {
    fl_rows_f32_fn bce_probabilities_f32;
    fl_rows_f64_fn bce_probabilities_f64;
    FL_ELEMENTWISE(FL_TABLE_FIELDS, _, _)
    fl_rows_f32_fn binary_focal_probabilities_f32, binary_focal_logits_f32;
    fl_rows_f64_fn binary_focal_probabilities_f64, binary_focal_logits_f64;
    fl_lse_f32_fn log_sum_exp_f32;
    fl_lse_f64_fn log_sum_exp_f64;
    /* Label-free parts of short rows for the sparse kernels: non-zero if the chunk holds a value to report. */
    int (*rows_log_sum_exp_f32)(const float*, ptrdiff_t, ptrdiff_t, double*);
    int (*rows_log_sum_exp_f64)(const double*, ptrdiff_t, ptrdiff_t, double*);
    int (*rows_probability_sum_f32)(const float*, ptrdiff_t, ptrdiff_t, double*);
    int (*rows_probability_sum_f64)(const double*, ptrdiff_t, ptrdiff_t, double*);
    fl_rows_f32_fn rows_cce_logits_f32, rows_cce_probabilities_f32;
    fl_rows_f64_fn rows_cce_logits_f64, rows_cce_probabilities_f64;
    fl_row_f32_fn cce_logits_f32, cce_probabilities_f32;
    fl_row_f64_fn cce_logits_f64, cce_probabilities_f64;
    fl_rows_f32_fn rows_categorical_focal_probabilities_f32, rows_categorical_focal_logits_f32;
    fl_rows_f64_fn rows_categorical_focal_probabilities_f64, rows_categorical_focal_logits_f64;
    fl_row_f32_fn categorical_focal_probabilities_f32, categorical_focal_logits_f32;
    fl_row_f64_fn categorical_focal_probabilities_f64, categorical_focal_logits_f64;
    void (*reduce_rows)(const double*, ptrdiff_t, const double*, double*);
    void (*reduce_rows_f32w)(const double*, ptrdiff_t, const float*, double*);
    int (*hard_totals_f32)(const float*, const float*, ptrdiff_t, const fl_params*, int, const float*,
                           const double*, const double*, ptrdiff_t, double*, ptrdiff_t*);
    int (*hard_totals_f64)(const double*, const double*, ptrdiff_t, const fl_params*, int, const float*,
                           const double*, const double*, ptrdiff_t, double*, ptrdiff_t*);
    void (*bce_logits_totals_f32)(const float*, const float*, ptrdiff_t, ptrdiff_t, const fl_params*, double*);
    void (*bce_logits_totals_f64)(const double*, const double*, ptrdiff_t, ptrdiff_t, const fl_params*, double*);
    double (*stream_sum_f32)(const float*, ptrdiff_t);  /* the benchmarks' read roofline */
    double (*stream_sum_f64)(const double*, ptrdiff_t);
    double (*exp_sum_f32)(const float*, ptrdiff_t);  /* the benchmarks' exp floor */
    double (*exp_sum_f64)(const double*, ptrdiff_t);
    fl_chunk_weights_f32_fn chunk_weights_f32;
    fl_chunk_weights_f64_fn chunk_weights_f64;
    ptrdiff_t (*count_nonzero_f32)(const float*, ptrdiff_t);  /* Keras 2.2's E0 */
    ptrdiff_t (*count_nonzero_f64)(const double*, ptrdiff_t);

    fl_overlap_f32_fn overlap_sums_f32;  /* fl_overlap.h */
    fl_overlap_f64_fn overlap_sums_f64;
    fl_rows_f32_fn overlap_sum_f32;
    fl_rows_f64_fn overlap_sum_f64;
    /* Sparse crossentropy chunks (fl_sparse.h). */
    int (*sparse_log_sum_exp_f32)(const struct fl_sparse_rows*, const float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, float*,
                                  double*);
    int (*sparse_log_sum_exp_f64)(const struct fl_sparse_rows*, const double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  double*, double*);
    int (*sparse_probability_sum_f32)(const struct fl_sparse_rows*, const float*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                      float*, double*);
    int (*sparse_probability_sum_f64)(const struct fl_sparse_rows*, const double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                      double*, double*);
} fl_vtable;

/* ---------------------------------------------------------------------------------------------------------
 * Per-element losses, shared by the vector loops here and the scalar code in _kernels.pyx.tp.
 * ------------------------------------------------------------------------------------------------------- */

FL_INLINE double fl_clip(double p, double lo, double hi)
{
    /* Comparisons rather than fmin/fmax: NaN stays NaN, as np.clip and Keras's clip leave it. */
    p = p < lo ? lo : p;
    return p > hi ? hi : p;
}

/* fl_clip on float lanes (a float32 value and float32 bounds): the same comparisons, so the same result. */
FL_INLINE float fl_clip_float(float p, float lo, float hi)
{
    p = p < lo ? lo : p;
    return p > hi ? hi : p;
}

FL_INLINE double fl_bce_probabilities_element(double y, double p, const fl_params* prm)
{
    double ys = y * prm->keep + prm->offset;
    double pc = fl_clip(p, prm->lo, prm->hi);
    return -(ys * fl_log_normal(pc) + (1.0 - ys) * fl_log_normal(1.0 - pc));
}

/* -[y log σ(z) + (1-y) log(1-σ(z))] = max(z, 0) - z·y + log1p(exp(-|z|)): exp never overflows, and the log1p form
 * keeps full precision when exp(-|z|) is tiny. The linear part, in double (its terms can cancel): */
FL_INLINE double fl_bce_logits_linear(double z, double ys)
{
    return (z > 0.0 ? z : 0.0) - z * ys;
}
/* exp(-|z|) of an input of type T, as the softplus tails and the exp floor take it: float lanes for float32. -fabs,
 * not a select on the sign, which cost 6% of an exp-bound loop. */
#define FL_EXP_OF_NEG_ABS_f32(V) fl_expf_nonpositive(-fabsf(V))
#define FL_EXP_OF_NEG_ABS_f64(V) fl_exp_nonpositive(-fabs(V))

FL_INLINE double fl_bce_logits_element(double y, double z, const fl_params* prm)
{
    return fl_bce_logits_linear(z, y * prm->keep + prm->offset) + fl_softplus_neg_abs(z);
}

/* BCE on a float32 probability with a hard target (y exactly 0 or 1, no smoothing): -log(q) for q = p or 1 - p,
 * clipped, on float lanes. q = 1 - p is rounded in float, but its rounding error d = (1 - q) - p is exact (both
 * subtractions are exact by Sterbenz's lemma), and log(1 - p) = log(q) + d/q with d/q = d·(2 - q) to far below
 * an ulp (q >= 1/2 there): relative error < 2e-7 across the clip range [1e-7, 1 - 2^-23]. */
FL_INLINE double fl_bce_hard_f32(float y, float p, double lo, double hi)
{
    const float lo_f = (float)lo, hi_f = (float)hi;   /* the bounds are float32 values already */
    float pc = fl_clip_float(p, lo_f, hi_f);
    int positive = y != 0.0f;
    float q = positive ? pc : 1.0f - pc;
    float d = positive ? 0.0f : (1.0f - q) - pc;
    return -(double)fl_logf_plus(q, d * (2.0f - q));
}

/* The element of each input type. float64: the formula above (with a hard target it is exactly -log(p) or
 * -log(1 - p): the other product is 0 times a finite log, and x + (-0) = x). float32: a hard target takes the
 * float-lane fl_bce_hard_f32, anything else (soft targets, smoothing) the double formula. */
/* A target other than 0 and 1 (NaN included): the shortcuts of hard targets (BCE's one log, CCE's products) do not
 * apply to its row or element. */
FL_INLINE int fl_target_is_soft(double y)
{
    return (y != 0.0) & (y != 1.0);
}

/* A probability that the losses on probabilities refuse (a NaN is not refused: it propagates). */
FL_INLINE int fl_outside_unit_interval(double p)
{
    return (p < 0.0) | (p > 1.0);
}

FL_INLINE int fl_bce_target_is_hard(double y, const fl_params* prm)
{
    return !fl_target_is_soft(y) & (prm->keep == 1.0) & (prm->offset == 0.0);
}

FL_INLINE double fl_bce_probabilities_element_f64(double y, double p, const fl_params* prm)
{
    return fl_bce_probabilities_element(y, p, prm);
}

FL_INLINE double fl_bce_probabilities_element_f32(float y, float p, const fl_params* prm)
{
    double soft = fl_bce_probabilities_element(y, p, prm);
    double hard = fl_bce_hard_f32(y, p, prm->lo, prm->hi);
    return fl_bce_target_is_hard(y, prm) ? hard : soft;
}

/* log(clip(q, lo, hi)) of a renormalised probability q (double). float32 inputs take the log on float lanes: the
 * rounding of the clipped q to float goes into fl_logf_plus's correction, (q - q_f)/q_f ~ (q - q_f)·(2 - q_f) (exact
 * enough where log q is small, i.e. q near 1; negligible against |log q| elsewhere), so the result stays within
 * two float ulps of log q. */
FL_INLINE double fl_log_clipped_f64(double q, double lo, double hi)
{
    return fl_log_normal(fl_clip(q, lo, hi));
}

FL_INLINE double fl_log_clipped_f32(double q, double lo, double hi)
{
    double qc = fl_clip(q, lo, hi);
    float qf = (float)qc;
    return (double)fl_logf_plus(qf, (float)(qc - (double)qf) * (2.0f - qf));
}

/* Non-zero if a value of p[0..n) lies outside [0, 1] (a NaN does not), as fl_outside_unit_interval over the values
 * says: the chunks' range check. First the largest bit pattern, read as an unsigned integer, against 1.0's: non-negative
 * numbers order as their bit patterns do, and a set sign bit (a negative number, -0.0) or a NaN's exponent lies
 * above 1.0's. One max per vector instead of two comparisons and their masks (rows of 10 float64 in L2: 26 -> 21
 * µs per 10^5). Only a chunk that this flags (a value outside [0, 1], a NaN, a -0.0) takes the comparisons. */
#define FL_BITS_f32(X) fl__f2u(X)
#define FL_BITS_f64(X) fl__d2u(X)
#define FL_BITS_TYPE_f32 uint32_t
#define FL_BITS_TYPE_f64 uint64_t
#define FL_ONE_BITS_f32 0x3f800000u
#define FL_ONE_BITS_f64 0x3ff0000000000000ull
#define FL_OUTSIDE_UNIT_INTERVAL(TS, P, N)                                                                    \
    __extension__({                                                                                           \
        FL_BITS_TYPE_##TS fl_top_ = 0;                                                                        \
        int fl_outside_ = 0;                                                                                  \
        _Pragma("omp simd reduction(max:fl_top_)")                                                            \
        for (ptrdiff_t fl_i_ = 0; fl_i_ < (N); fl_i_++) {                                                     \
            const FL_BITS_TYPE_##TS fl_b_ = FL_BITS_##TS((P)[fl_i_]);                                         \
            fl_top_ = fl_b_ > fl_top_ ? fl_b_ : fl_top_;                                                      \
        }                                                                                                     \
        if (fl_top_ > FL_ONE_BITS_##TS) {                                                                     \
            _Pragma("omp simd reduction(|:fl_outside_)")                                                      \
            for (ptrdiff_t fl_i_ = 0; fl_i_ < (N); fl_i_++)                                                   \
                fl_outside_ |= fl_outside_unit_interval((double)(P)[fl_i_]);                                  \
        }                                                                                                     \
        fl_outside_;                                                                                          \
    })

/* Keras renormalises a row of probabilities, p / Σp, before the clip: FL_RENORMALISED(p, FL_RENORMALISER(Σp)).
 * float64 rows divide, as Keras does. float32 rows multiply by the row's reciprocal: q is then within 1.5 double ulps
 * of p / Σp instead of 0.5, a billionth of the float lanes' log error, and the chunk loop loses its per-element
 * division. */
#define FL_RENORMALISER_f64(SUM) (SUM)
#define FL_RENORMALISED_f64(P, R) ((double)(P) / (R))
#define FL_RENORMALISER_f32(SUM) (1.0 / (SUM))
#define FL_RENORMALISED_f32(P, R) ((double)(P) * (R))

FL_INLINE double fl_bce_hard_f64(double y, double p, double lo, double hi)
{
    double pc = fl_clip(p, lo, hi);
    return -fl_log_normal(y != 0.0 ? pc : 1.0 - pc);
}

/* A float32 BCE-from-logits element: the linear part max(z, 0) - z·y in double (where the terms can cancel), the
 * softplus tail log1p(exp(-|z|)) in (0, ln 2] on float lanes (< 2 float ulps, i.e. < 2.4e-7 relative). For targets
 * in [0, 1] the linear part is >= 0, so the element, and any sum of elements, keeps that relative error.
 * A hard target (exactly 0 or 1, no smoothing) takes the whole element on float lanes (fl_bce_logits_hard_f32):
 * there z·y is z or ±0, so the linear part is exact in float, and the element is that plus the tail, rounded once
 * (< 2.5 float ulps). Infinities and NaN give what the double formula gives. A chunk of hard targets then needs no
 * double arithmetic at all (FL_BCE_LOGITS_ELEMENTS_f32). */
FL_INLINE float fl_bce_logits_hard_f32(float y, float z, float tail)
{
    return ((z > 0.0f ? z : 0.0f) - z * y) + tail;
}

FL_INLINE double fl_bce_logits_element_f32(float y, float z, const fl_params* prm)
{
    const float tail = fl_softplus_neg_absf(z);
    const double soft = fl_bce_logits_linear(z, (double)y * prm->keep + prm->offset) + (double)tail;
    return fl_bce_target_is_hard(y, prm) ? (double)fl_bce_logits_hard_f32(y, z, tail) : soft;
}

/* ---------------------------------------------------------------------------------------------------------
 * BCE rows from one log per row. A row's value is the mean of its K elements, and the logs in that sum are the
 * log of a product: Σ_k -log q_k = -log Π_k q_k for hard targets on probabilities, Σ_k log1p(e_k) =
 * log1p(Π_k (1 + e_k) - 1) for the softplus tails e_k = exp(-|z_k|) on logits. So a short row takes one log
 * instead of K, and these losses become bound by reading their inputs (or, on logits, by the exp). Each product is
 * carried next to its complement (1 - Π q, or Π (1 + e) - 1), built from terms >= 0 (no cancellation, ~2-3 ulps
 * a step), so a small row loss keeps its digits: rows agree with an exact reference to ~1e-15 relative.
 * The vector loops (across rows) and the scalar row functions below run the same steps in the same order.
 * ------------------------------------------------------------------------------------------------------- */
/* Hard-target rows on probabilities: from 9 elements on, the contiguous one-log-per-element loop runs as fast as
 * the products' strided column pass (FL_FOR_ROW_LENGTH), so the product stops at 8. It also needs the product to
 * stay a normal double: lo^8 >= 2^-248. */
#define FL_BCE_HARD_PRODUCT_MAX_K 8
FL_INLINE int fl_bce_hard_product_row(ptrdiff_t K, double lo)
{
    return (K > 1) & (K <= FL_BCE_HARD_PRODUCT_MAX_K) & (lo >= 0x1p-31);
}

/* BCE-from-logits rows of float64 take it for any targets (the softplus tail does not depend on y), up to 32
 * elements (Π (1 + e) < 2^32): the double log1p it saves costs more than the column pass. float32 rows keep their
 * element sum: the tail's log1p on float lanes costs less than the product's double pass. (Unweighted rows, whose
 * total needs no row values, take products over consecutive elements instead: FL_BCE_LOGITS_TOTALS.) */
#define FL_BCE_LOGITS_PRODUCT_MAX_K 32
FL_INLINE int fl_bce_logits_product_row(ptrdiff_t K, size_t input_size)
{
    return (input_size == sizeof(double)) & (K > 1) & (K <= FL_BCE_LOGITS_PRODUCT_MAX_K);
}

/* One hard-target element: P *= q (the clipped probability of the true class) and, where COMPLEMENT, D, which is
 * 1 - P kept apart, += d·(1 - D) with d = 1 - q: p itself for y = 0 (exact), 1 - p for y = 1 (exact where it
 * matters: for p < 1/2, D > 1/2 and only P is used). */
#define FL_BCE_HARD_FACTOR(POS, PC) ((POS) ? (PC) : 1.0 - (PC))
#define FL_BCE_HARD_COFACTOR(POS, PC) ((POS) ? 1.0 - (PC) : (PC))
#define FL_COMPLEMENT_STEP(D, DQ) ((D) += (DQ) * (1.0 - (D)))
#define FL_BCE_HARD_STEP(Y, PV, LO, HI, P, D, COMPLEMENT)                                                     \
    do {                                                                                                      \
        const double fl_pc_ = fl_clip((double)(PV), LO, HI);                                                  \
        const int fl_pos_ = (double)(Y) != 0.0;                                                               \
        (P) *= FL_BCE_HARD_FACTOR(fl_pos_, fl_pc_);                                                           \
        if (COMPLEMENT) FL_COMPLEMENT_STEP(D, FL_BCE_HARD_COFACTOR(fl_pos_, fl_pc_));                         \
    } while (0)

/* -log P for P = 1 - D: from P where P <= 1/2 (|log P| >= ln 2, so P's relative error is the result's); from D
 * above, as log1p(-D) = log(u) + ((1 - u) - D)/u with u = 1 - D rounded and (1 - u) - D its exact rounding error. */
FL_INLINE double fl_neg_log_of_product(double P, double D)
{
    const double u = 1.0 - D;
    const int near_one = P > 0.5;
    return -fl__log_plus(near_one ? u : P, near_one ? (-D - (u - 1.0)) / u : 0.0);
}

/* Which hard-target BCE products carry their complements (rows, and pixels below): float64 ones, whose results keep
 * ~1e-15 with them. float32 results need ~1e-6, and without it the -log of a product of factors near 1 (at most
 * 1 - 2^-23 after the clip) is still good to ~1e-9: the complement's three operations a factor are ~25% of a float32
 * loop. */
#define FL_PRODUCT_COMPLEMENT_f32 0
#define FL_PRODUCT_COMPLEMENT_f64 1
FL_INLINE double fl_neg_log_of_product_or(int complement, double P, double D)
{
    return complement ? fl_neg_log_of_product(P, D) : -fl_log_normal(P);
}

/* A BCE-from-logits row: Q, which is Π (1 + e) - 1, takes one more softplus tail e as Q + e·(1 + Q); the row's
 * value is (its linear parts' sum + log1p(Q)) / K. */
#define FL_SOFTPLUS_PRODUCT_STEP(Q, E) ((Q) += (E) * (1.0 + (Q)))
FL_INLINE double fl_bce_logits_row_value(double linear_sum, double Q, ptrdiff_t K)
{
    return (linear_sum + fl_log1p_small(Q)) / (double)K;
}

/* The scalar row functions: the fallback twins of the vector loops (same steps, same order, same bits), used
 * for rows too long for a chunk and for chunks redone row by row. */
#define FL_BCE_PRODUCT_ROW_FUNCTIONS(T, TS)                                                                   \
    FL_INLINE double fl_row_bce_probabilities_##TS(const T* y, const T* p, ptrdiff_t K, const fl_params* prm, \
                                                   int* bad)                                                  \
    {                                                                                                         \
        int hard = fl_bce_hard_product_row(K, prm->lo) & (prm->keep == 1.0) & (prm->offset == 0.0);           \
        const int complement = FL_PRODUCT_COMPLEMENT_##TS;                                                    \
        double acc = 0.0, P = 1.0, D = 0.0;                                                                   \
        for (ptrdiff_t k = 0; k < K; k++) {                                                                   \
            const double pk = p[k], yk = y[k];                                                                \
            *bad |= fl_outside_unit_interval(pk);                                                             \
            hard &= !fl_target_is_soft(yk);                                                                   \
        }                                                                                                     \
        if (hard) {                                                                                           \
            for (ptrdiff_t k = 0; k < K; k++)                                                                 \
                FL_BCE_HARD_STEP(y[k], p[k], prm->lo, prm->hi, P, D, complement);                             \
            return fl_neg_log_of_product_or(complement, P, D) / (double)K;                                    \
        }                                                                                                     \
        for (ptrdiff_t k = 0; k < K; k++) acc += fl_bce_probabilities_element_##TS(y[k], p[k], prm);          \
        return acc / (double)K;                                                                               \
    }                                                                                                         \
                                                                                                              \
    FL_INLINE double fl_row_bce_logits_##TS(const T* y, const T* z, ptrdiff_t K, const fl_params* prm)        \
    {                                                                                                         \
        double acc = 0.0, Q = 0.0;                                                                            \
        if (fl_bce_logits_product_row(K, sizeof(T))) {                                                        \
            for (ptrdiff_t k = 0; k < K; k++) {                                                               \
                acc += fl_bce_logits_linear(z[k], (double)y[k] * prm->keep + prm->offset);                    \
                FL_SOFTPLUS_PRODUCT_STEP(Q, FL_EXP_OF_NEG_ABS_f64((double)z[k]));                              \
            }                                                                                                 \
            return fl_bce_logits_row_value(acc, Q, K);                                                        \
        }                                                                                                     \
        for (ptrdiff_t k = 0; k < K; k++) acc += fl_bce_logits_element_##TS(y[k], z[k], prm);                 \
        return acc / (double)K;                                                                               \
    }

FL_INLINE double fl_squared_error_element(double y, double p, const fl_params* prm)
{
    double e = y - p;
    (void)prm;
    return e * e;
}

FL_INLINE double fl_absolute_error_element(double y, double p, const fl_params* prm)
{
    double e = y - p;
    (void)prm;
    return e < 0.0 ? -e : e;
}

/* Below, "x < eps ? eps : x" and "m < 0 ? 0 : m" keep NaN as NaN, as np.maximum does in Keras. eps = prm->lo is
 * Keras's epsilon rounded to the input dtype. */

FL_INLINE double fl_absolute_percentage_error_element(double y, double p, const fl_params* prm)
{
    double ay = y < 0.0 ? -y : y, e = y - p;
    ay = ay < prm->lo ? prm->lo : ay;
    return 100.0 * (e < 0.0 ? -e : e) / ay;
}

FL_INLINE double fl_squared_logarithmic_error_element(double y, double p, const fl_params* prm)
{
    double pc = p < prm->lo ? prm->lo : p, yc = y < prm->lo ? prm->lo : y;
    double d = fl_log1p_small(pc) - fl_log1p_small(yc);
    return d * d;
}

FL_INLINE double fl_huber_element(double y, double p, const fl_params* prm)
{
    double e = p - y, a = e < 0.0 ? -e : e;
    return a <= prm->delta ? 0.5 * (e * e) : prm->delta * a - 0.5 * (prm->delta * prm->delta);
}

FL_INLINE double fl_log_cosh_element(double y, double p, const fl_params* prm)
{
    /* log(cosh(x)) = x + softplus(-2x) - log 2, with softplus(t) = max(t, 0) + log1p(exp(-|t|)): no overflow
     * for any finite x. */
    double x = p - y, t = -2.0 * x;
    (void)prm;
    return (x + ((t > 0.0 ? t : 0.0) + fl_softplus_neg_abs(t))) - 0.6931471805599453;
}

FL_INLINE double fl_poisson_element(double y, double p, const fl_params* prm)
{
    return p - y * fl_log(p + prm->lo);
}

FL_INLINE double fl_hinge_element(double y, double p, const fl_params* prm)
{
    double m = 1.0 - (y * prm->keep + prm->offset) * p;
    return m < 0.0 ? 0.0 : m;
}

FL_INLINE double fl_squared_hinge_element(double y, double p, const fl_params* prm)
{
    double h = fl_hinge_element(y, p, prm);
    return h * h;
}

/* The element function of each input type: float64 elements in double, float32 elements in double too unless
 * the loss has a float-lane element above (fl_bce_logits_element_f32). */
#define FL_ELEMENT_OF_TYPE(ISA, ATTR, NAME)                                                                   \
    FL_INLINE double fl_##NAME##_element_f64(double y, double p, const fl_params* prm)                        \
    {                                                                                                         \
        return fl_##NAME##_element(y, p, prm);                                                                \
    }
#define FL_DOUBLE_ELEMENT_FOR_FLOAT(ISA, ATTR, NAME)                                                          \
    FL_INLINE double fl_##NAME##_element_f32(float y, float p, const fl_params* prm)                          \
    {                                                                                                         \
        return fl_##NAME##_element(y, p, prm);                                                                \
    }
FL_ELEMENTWISE(FL_ELEMENT_OF_TYPE, _, _)
FL_ELEMENTWISE_IN_DOUBLE(FL_DOUBLE_ELEMENT_FOR_FLOAT, _, _)
FL_BCE_PRODUCT_ROW_FUNCTIONS(float, f32)
FL_BCE_PRODUCT_ROW_FUNCTIONS(double, f64)

/* Binary focal crossentropy (Keras): fl_focal_power(1 - p_t, γ, n)·bce, times fl_focal_balance with
 * apply_class_balancing. The vector loops apply the factors to the bce term in separate passes; each pass does the
 * multiplication fl_binary_focal_element does, in the same order, so both give the same bits. */
#define FL_FOCAL_CLASS_BALANCING 1   /* fl_params.flags bit: apply_class_balancing */
#define FL_FOCAL_INTEGER_POWERS 5    /* γ = 0, 1, …, 4 take the multiplication path */

FL_INLINE double fl_sigmoid(double z)
{
    /* One exp of -|z| <= 0 (no overflow) and a select instead of a branch per sign. */
    double e = fl_exp_nonpositive(z < 0.0 ? z : -z);
    return z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

/* The path fl_focal_power takes for γ: γ itself when it is a small integer, else -1. Chosen once per call, so the
 * vector loop is specialised per path and the per-element code has no branch. */
FL_INLINE int fl_focal_exponent(double gamma)
{
    return (gamma >= 0.0 && gamma < FL_FOCAL_INTEGER_POWERS && gamma == (double)(int)gamma) ? (int)gamma : -1;
}

/* pow's factor for a negative base: ±1 by the parity of an integer γ (>= 0), NaN for any other γ. Written with
 * selects only, so that GCC still vectorises a loop that calls it (γ is the same for every element). */
FL_INLINE double fl__negative_base_sign(double gamma)
{
    double half = 0.5 * gamma;
    double parity = ((half + 0x1p52) - 0x1p52 != half) ? -1.0 : 1.0;   /* every double >= 2^52 is even */
    return ((gamma + 0x1p52) - 0x1p52 == gamma || gamma >= 0x1p52) ? parity : __builtin_nan("");
}

/* pow(x, γ) without libm, with n = fl_focal_exponent(γ). n >= 0: x·x·…·x (n factors, left to right), exact
 * for n <= 2 as pow is. n = -1: exp(γ·log|x|), with pow's special values: 0^γ = 0 (γ > 0 on this path), and a
 * negative x (a target outside [0, 1]) gives NaN unless γ is an integer (then ±|x|^γ by its parity). */
FL_INLINE double fl_focal_power(double x, double gamma, int n)
{
    if (n >= 0) {
        double r = 1.0;
        for (int i = 0; i < n; i++) r *= x;
        return r;
    }
    double r = fl_exp(gamma * fl_log(x < 0.0 ? -x : x));
    r = x < 0.0 ? fl__negative_base_sign(gamma) * r : r;
    return x == 0.0 ? 0.0 : r;
}

/* 1 - p_t with p_t = y_s·p + (1 - y_s)·(1 - p): Keras uses p as it is, not clipped. */
FL_INLINE double fl_focal_base(double y, double p, const fl_params* prm)
{
    double ys = y * prm->keep + prm->offset;
    return 1.0 - (ys * p + (1.0 - ys) * (1.0 - p));
}

/* fl_focal_base of a hard target (exactly 0 or 1, no smoothing), with its bits in half the operations:
 * y·p + (1 - y)·(1 - p) is then p + 0 or 0 + (1 - p), exactly. */
FL_INLINE double fl_focal_hard_base(double y, double p)
{
    const double complement = 1.0 - p;
    return y != 0.0 ? complement : 1.0 - complement;
}

/* The α of column k: apply_class_balancing's per-column alphas where given, else the one alpha. */
FL_INLINE double fl_focal_alpha(const fl_params* prm, ptrdiff_t k)
{
    return prm->columns != NULL ? prm->columns[k] : prm->alpha;
}

FL_INLINE double fl_focal_balance(double y, double alpha, const fl_params* prm)
{
    double ys = y * prm->keep + prm->offset;
    return ys * alpha + (1.0 - ys) * (1.0 - alpha);
}

/* alpha: this element's column alpha (read only with apply_class_balancing); n = fl_focal_exponent(prm->gamma);
 * bce: the element's BCE term. */
FL_INLINE double fl_binary_focal_of_bce(double y, double p, double bce, double alpha, const fl_params* prm, int n)
{
    double focal = fl_focal_power(fl_focal_base(y, p, prm), prm->gamma, n) * bce;
    return ((long)prm->flags & FL_FOCAL_CLASS_BALANCING) ? fl_focal_balance(y, alpha, prm) * focal : focal;
}

FL_INLINE double fl_binary_focal_element(double y, double p, double alpha, const fl_params* prm, int n)
{
    return fl_binary_focal_of_bce(y, p, fl_bce_probabilities_element(y, p, prm), alpha, prm, n);
}

/* float32 probabilities take BCE's float32 term (a hard target's log on float lanes); the factors stay double. */
FL_INLINE double fl_binary_focal_element_f32(float y, float p, double alpha, const fl_params* prm, int n)
{
    return fl_binary_focal_of_bce(y, p, fl_bce_probabilities_element_f32(y, p, prm), alpha, prm, n);
}

/* ---------------------------------------------------------------------------------------------------------
 * The bodies, instantiated per ISA level and input type.
 * ------------------------------------------------------------------------------------------------------- */

/* rows[r] = mean of the K element losses of row r, TERM being element i = r·K + k's loss (an expression of fl_i_):
 * vectorised across rows, each row summed in k order, so the additions are those of the scalar row loop. */
#define FL_ROW_MEANS_OF(NR, K, ROWS, TERM)                                                                    \
    do {                                                                                                      \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t fl_r_ = 0; fl_r_ < (NR); fl_r_++) {                                                    \
            double fl_s_ = 0.0;                                                                               \
            for (ptrdiff_t fl_k_ = 0; fl_k_ < (K); fl_k_++) {                                                 \
                const ptrdiff_t fl_i_ = fl_r_ * (K) + fl_k_;                                                  \
                fl_s_ += (TERM);                                                                              \
            }                                                                                                 \
            (ROWS)[fl_r_] = fl_s_ / (double)(K);                                                              \
        }                                                                                                     \
    } while (0)
#define FL_ROW_MEANS(BUF, NR, K, ROWS) FL_ROW_MEANS_OF(NR, K, ROWS, (BUF)[fl_i_])
/* FL_ROW_MEANS_OF with K a constant for each K in 2..8 (else OTHERWISE, a statement). */
#define FL_ROW_MEANS_OF_SHORT_ROWS(NR, K, ROWS, TERM, OTHERWISE)                                              \
    switch (K) {                                                                                              \
    case 2: FL_ROW_MEANS_OF(NR, 2, ROWS, TERM); break;                                                        \
    case 3: FL_ROW_MEANS_OF(NR, 3, ROWS, TERM); break;                                                        \
    case 4: FL_ROW_MEANS_OF(NR, 4, ROWS, TERM); break;                                                        \
    case 5: FL_ROW_MEANS_OF(NR, 5, ROWS, TERM); break;                                                        \
    case 6: FL_ROW_MEANS_OF(NR, 6, ROWS, TERM); break;                                                        \
    case 7: FL_ROW_MEANS_OF(NR, 7, ROWS, TERM); break;                                                        \
    case 8: FL_ROW_MEANS_OF(NR, 8, ROWS, TERM); break;                                                        \
    default: OTHERWISE;                                                                                       \
    }

/* FL_ROW_MEANS for nr rows of K values in buf, once per ISA level. GCC vectorises the row loop only when K is a
 * constant (then with interleaved loads, and a power-of-two K divides by multiplying with its exact reciprocal);
 * with a variable K it sums and divides row by row, which costs most of the chunk for rows of 2 to 8 elements
 * (e.g. 4 features per timestep). Same additions and division either way, so the same bits. */
#define FL_ROW_MEANS_FUNCTION(ISA, ATTR)                                                                      \
    ATTR static void fl_row_means_##ISA(const double* restrict buf, ptrdiff_t nr, ptrdiff_t K,                \
                                        double* restrict rows)                                                \
    {                                                                                                         \
        FL_ROW_MEANS_OF_SHORT_ROWS(nr, K, rows, buf[fl_i_], FL_ROW_MEANS(buf, nr, K, rows));                  \
    }

/* ROWS(y, p, nr, K, prm, rows): rows[r] = the mean of ELEMENT over row r, the elements on a SIMD loop. With SHORT,
 * rows of 2 to 8 elements are summed straight from the inputs (FL_ROW_MEANS_OF with a constant K, so that GCC
 * vectorises across rows): no element buffer to write and read back, ~20% of a memory-bound (B, T, 4) MSE. The
 * same elements and additions either way, so the same bits. */
#define FL_ROWS_LOOP_SHORT_OF(ISA, ATTR, T, ROWS, ELEMENT, SHORT)                                             \
    ATTR static int ROWS(const T* restrict y, const T* restrict p, ptrdiff_t nr, ptrdiff_t K,                 \
                         const fl_params* prm_in, double* restrict rows)                                      \
    {                                                                                                         \
        const fl_params prm_local = *prm_in; /* a local copy: stores to rows cannot alias it */               \
        const fl_params* const prm = &prm_local;                                                              \
        double buf[FL_CHUNK];                                                                                 \
        const ptrdiff_t n = nr * K;                                                                           \
        double* restrict dst = (K == 1) ? rows : buf;                                                         \
        if (SHORT && K >= 2 && K <= 8) {                                                                      \
            /* float32 rows in pieces that first ask for their lines a chunk on (as FL_PIECES_AHEAD):         \
             * (B, 10, 4) MSE with a mask and weights, 1e7 elements, two threads 2.3-2.5 -> 1.8-1.9 ms,       \
             * one thread 4.4 -> 3.2 ms; 1e5 (in L2) up to 10% slower. float64 rows stay one piece            \
             * without it: 10% slower at 1e7 with it. */                                                      \
            const ptrdiff_t piece = sizeof(T) == sizeof(float) ? FL_PREFETCH_STRIDE / K : nr;                 \
            for (ptrdiff_t r0 = 0; r0 < nr; r0 += piece) {                                                    \
                const ptrdiff_t pr = nr - r0 < piece ? nr - r0 : piece;                                       \
                const T* restrict ys = y + r0 * K;                                                            \
                const T* restrict ps = p + r0 * K;                                                            \
                FL_PREFETCH_LINES(T, ys + n, ps + n, sizeof(T) == sizeof(float) ? pr * K : 0);                \
                FL_ROW_MEANS_OF_SHORT_ROWS(pr, K, rows + r0, ELEMENT(ys[fl_i_], ps[fl_i_], prm), (void)0);    \
            }                                                                                                 \
            return 0;                                                                                         \
        }                                                                                                     \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = ELEMENT(y[i], p[i], prm);                                  \
        if (K != 1) fl_row_means_##ISA(buf, nr, K, rows);                                                     \
        return 0;                                                                                             \
    }
#define FL_ROWS_LOOP_OF(ISA, ATTR, T, ROWS, ELEMENT) FL_ROWS_LOOP_SHORT_OF(ISA, ATTR, T, ROWS, ELEMENT, 0)
#define FL_ROWS_LOOP(ISA, ATTR, T, TS, NAME)                                                                  \
    FL_ROWS_LOOP_SHORT_OF(ISA, ATTR, T, fl_rows_##NAME##_##TS##_##ISA, fl_##NAME##_element_##TS, 1)

#define FL_LOOP_f32(ISA, ATTR, NAME) FL_ROWS_LOOP(ISA, ATTR, float, f32, NAME)
#define FL_LOOP_f64(ISA, ATTR, NAME) FL_ROWS_LOOP(ISA, ATTR, double, f64, NAME)

#define FL_LANE_SUM(ACC, TAIL)                                                                                \
    (((ACC[0] + ACC[1]) + (ACC[2] + ACC[3])) + ((ACC[4] + ACC[5]) + (ACC[6] + ACC[7]))) + TAIL

/* RESULT = Σ_k of the terms k in [0, K), in the fixed lane order: the statements after BUFT fill fl_buf_[0..fl_n_)
 * (of type BUFT: double, or float for terms computed on float lanes) with the terms k = fl_k0_ + i, chunk by chunk,
 * and lane j adds the terms with k ≡ j (mod FL_LANES) in order, in double. FL_CHUNK is a multiple of FL_LANES, so
 * the grouping does not depend on the chunking either. */
#define FL_SUM_CHUNKS_OF(RESULT, K, BUFT, ...)                                                                \
    do {                                                                                                      \
        BUFT fl_buf_[FL_CHUNK];                                                                               \
        double fl_acc_[FL_LANES] = {0.0}, fl_tail_ = 0.0;                                                     \
        for (ptrdiff_t fl_k0_ = 0; fl_k0_ < (K); fl_k0_ += FL_CHUNK) {                                        \
            const ptrdiff_t fl_n_ = ((K) - fl_k0_ < FL_CHUNK) ? (K) - fl_k0_ : FL_CHUNK;                      \
            const ptrdiff_t fl_n8_ = fl_n_ - fl_n_ % FL_LANES;                                                \
            __VA_ARGS__                                                                                       \
            for (ptrdiff_t fl_i_ = 0; fl_i_ < fl_n8_; fl_i_ += FL_LANES)                                      \
                for (int fl_j_ = 0; fl_j_ < FL_LANES; fl_j_++) fl_acc_[fl_j_] += (double)fl_buf_[fl_i_ + fl_j_];\
            for (ptrdiff_t fl_i_ = fl_n8_; fl_i_ < fl_n_; fl_i_++) fl_tail_ += (double)fl_buf_[fl_i_];        \
        }                                                                                                     \
        RESULT = FL_LANE_SUM(fl_acc_, fl_tail_);                                                              \
    } while (0)

#define FL_SUM_CHUNKS(RESULT, K, ...) FL_SUM_CHUNKS_OF(RESULT, K, double, __VA_ARGS__)

/* FL_SUM_CHUNKS of TERM, an expression of k, evaluated by a plain SIMD loop into the chunk buffer. */
#define FL_SUM_TERMS_OF(RESULT, K, BUFT, TERM)                                                                \
    FL_SUM_CHUNKS_OF(RESULT, K, BUFT,                                                                         \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t fl_i_ = 0; fl_i_ < fl_n_; fl_i_++) {                                                   \
            const ptrdiff_t k = fl_k0_ + fl_i_;                                                               \
            fl_buf_[fl_i_] = (TERM);                                                                          \
        })
#define FL_SUM_TERMS(RESULT, K, TERM) FL_SUM_TERMS_OF(RESULT, K, double, TERM)

/* Two four-lane trees side by side in the halves of an eight-lane vector V: two shuffle-and-OP steps leave
 * (v0 OP v1) OP (v2 OP v3) in lane 0 and (v4 OP v5) OP (v6 OP v7) in lane 4, each operation's operands in that
 * order (so NaN payloads follow it too). One vector operation a step for both halves. */
typedef double fl_v4d __attribute__((vector_size(32)));
typedef double fl_v8d __attribute__((vector_size(64)));
typedef float fl_v8f __attribute__((vector_size(32)));
typedef long long fl_v8l __attribute__((vector_size(64)));
typedef int fl_v8i __attribute__((vector_size(32)));
#define FL_HALF_TREES(V, OP)                                                                                  \
    __extension__({                                                                                           \
        const fl_v8d fl_v_ = (V);                                                                             \
        const fl_v8d fl_pairs_ = fl_v_ OP __builtin_shuffle(fl_v_, (fl_v8l){1, 0, 3, 2, 5, 4, 7, 6});         \
        fl_pairs_ OP __builtin_shuffle(fl_pairs_, (fl_v8l){2, 3, 0, 1, 6, 7, 4, 5});                          \
    })
#if FL_LANES != 8
#error "FL_LANE_SUM and FL_LANE_SUM_OF's half trees spell out eight lanes"
#endif

/* Σ buf[0..n) in FL_SUM_TERMS's order, for any n (FL_CHUNK is a multiple of FL_LANES, so FL_SUM_TERMS's chunks do
 * not regroup its lanes): a row summed here equals the row summed by the per-row functions. A row of 8 to 15 terms
 * takes FL_LANE_SUM's tree within the row: its first eight terms widened into one vector (0 + term, as the lanes start
 * from 0), FL_HALF_TREES for lanes 0-3 and 4-7, then the two halves and the tail in order. The same bits as the
 * scalar lanes; rows of 10 in L1: 0.40-0.45 -> 0.26-0.33 ns per element at every ISA level (GCC leaves the scalar
 * version one add at a time). VBUFT: eight BUFTs as a vector. */
#define FL_LANE_SUM_OF(NAME, BUFT, VBUFT)                                                                     \
    FL_INLINE double NAME(const BUFT* restrict buf, ptrdiff_t n)                                              \
    {                                                                                                         \
        if (n >= FL_LANES && n < 2 * FL_LANES) {                                                              \
            const fl_v8d zero = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};                                     \
            VBUFT lanes;                                                                                      \
            double tail = 0.0;                                                                                \
            __builtin_memcpy(&lanes, buf, sizeof lanes);                                                      \
            const fl_v8d halves = FL_HALF_TREES(zero + __builtin_convertvector(lanes, fl_v8d), +);            \
            for (ptrdiff_t i = FL_LANES; i < n; i++) tail += (double)buf[i];                                  \
            return (halves[0] + halves[4]) + tail;                                                            \
        }                                                                                                     \
        double acc[FL_LANES] = {0.0}, tail = 0.0;                                                             \
        const ptrdiff_t n8 = n - n % FL_LANES;                                                                \
        for (ptrdiff_t i = 0; i < n8; i += FL_LANES)                                                          \
            for (int j = 0; j < FL_LANES; j++) acc[j] += (double)buf[i + j];                                  \
        for (ptrdiff_t i = n8; i < n; i++) tail += (double)buf[i];                                            \
        return FL_LANE_SUM(acc, tail);                                                                        \
    }
FL_LANE_SUM_OF(fl_lane_sum, double, fl_v8d)
FL_LANE_SUM_OF(fl_lane_sum_float, float, fl_v8f)

/* NAME##_eight_rows: out[r] = NAME(buf + r·K, K) for eight rows of 8 <= K < 16 elements, summed side by side, the same
 * bits. Row r's first eight elements fill vector r, and three steps of shuffles across the eight vectors build
 * FL_HALF_TREES's tree of every row at once: lane r ends with ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7)) of
 * row r, each addition's operands in the one-row order. The tail (k >= 8) comes column by column from each row's
 * last eight elements and is added to 0 in k order, as the one-row tail is. The one-row tree starts its lanes from
 * 0 (0 + -0 = +0) and this one from the elements: a partial sum then differs only as -0 against +0, and only where
 * every element below it is -0, so the head plus 0 has the one-row head's bits (x + 0 = x for any x but -0). Rows of
 * 10 in L1 at x86-64-v4: float64 9.3 -> 6.8, float32 14.6 -> 8.1 µs per 10^5 elements. With 256-bit vectors the
 * shuffles across vectors cost more than they save (x86-64-v3: 12 -> 25 µs), so FL_ROW_SUMS takes this at
 * x86-64-v4 only (FL_EIGHT_ROWS_<level>). */
#define FL_LANE_SUMS_OF_EIGHT_ROWS_OF(NAME, BUFT, VBUFT)                                                      \
    FL_INLINE void NAME##_eight_rows(const BUFT* restrict buf, ptrdiff_t K,                                   \
                                     double* restrict out)                                                    \
    {                                                                                                         \
        const fl_v8d zero = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};                                         \
        fl_v8d v[8], pairs[4], quads[2], head, tail = zero;                                                   \
        VBUFT last[8];                                                                                        \
        for (int r = 0; r < 8; r++) {                                                                         \
            VBUFT lanes;                                                                                      \
            __builtin_memcpy(&lanes, buf + r * K, sizeof lanes);                                              \
            v[r] = __builtin_convertvector(lanes, fl_v8d);                                                    \
            __builtin_memcpy(&last[r], buf + r * K + K - FL_LANES, sizeof lanes);                             \
        }                                                                                                     \
        /* pairs[i]: (b0 + b1, b2 + b3, b4 + b5, b6 + b7) of rows 2i and 2i + 1, interleaved */               \
        for (int i = 0; i < 4; i++)                                                                           \
            pairs[i] = __builtin_shuffle(v[2 * i], v[2 * i + 1], (fl_v8l){0, 8, 2, 10, 4, 12, 6, 14})         \
                     + __builtin_shuffle(v[2 * i], v[2 * i + 1], (fl_v8l){1, 9, 3, 11, 5, 13, 7, 15});        \
        /* quads[i]: the first halves' sums of rows 4i..4i+3, then their second halves' */                    \
        for (int i = 0; i < 2; i++)                                                                           \
            quads[i] = __builtin_shuffle(pairs[2 * i], pairs[2 * i + 1], (fl_v8l){0, 1, 8, 9, 4, 5, 12, 13})  \
                     + __builtin_shuffle(pairs[2 * i], pairs[2 * i + 1],                                      \
                                         (fl_v8l){2, 3, 10, 11, 6, 7, 14, 15});                               \
        head = __builtin_shuffle(quads[0], quads[1], (fl_v8l){0, 1, 2, 3, 8, 9, 10, 11})                      \
             + __builtin_shuffle(quads[0], quads[1], (fl_v8l){4, 5, 6, 7, 12, 13, 14, 15});                   \
        for (ptrdiff_t k = FL_LANES; k < K; k++) {                                                            \
            fl_v8d column;                                                                                    \
            for (int r = 0; r < 8; r++) column[r] = (double)last[r][k - (K - FL_LANES)];                      \
            tail = tail + column;                                                                             \
        }                                                                                                     \
        head = (head + zero) + tail;                                                                          \
        __builtin_memcpy(out, &head, sizeof head);                                                            \
    }
FL_LANE_SUMS_OF_EIGHT_ROWS_OF(fl_lane_sum, double, fl_v8d)
FL_LANE_SUMS_OF_EIGHT_ROWS_OF(fl_lane_sum_float, float, fl_v8f)
/* Whether a level sums (and takes the maxima of) rows of 8 to 15 elements eight rows at a time. */
#define FL_EIGHT_ROWS_baseline 0
#define FL_EIGHT_ROWS_x86_64_v3 0
#define FL_EIGHT_ROWS_x86_64_v4 1

/* a > b ? a : b, lane by lane (GCC's C has no vector ?:); VI: the integer lanes of VT's width. */
#define FL_VMAX(A, B, VT, VI) ((VT)((((VI)(A)) & ((A) > (B))) | (((VI)(B)) & ~((A) > (B)))))

/* out[r] = the maximum of row r of eight rows of 8 <= K < 16 elements of type T: each row's first eight elements
 * against its last eight (they overlap), then the three shuffle steps of the eight-row sums with a max for the add.
 * A maximum is one of the row's values whatever the order of comparisons, except where the row holds a NaN or both
 * zeros: FL_ROW_MAXIMA says why no bit after the exps depends on those. One row at a time, a chain of K dependent
 * scalar maxima took ~20% of a log-sum-exp chunk of rows of 10 (float32, one thread). */
#define FL_ROW_MAXIMA_OF_EIGHT_ROWS_OF(T, VT, VI)                                                             \
    FL_INLINE void fl_row_maxima_eight_rows_##T(const T* restrict z, ptrdiff_t K,                             \
                                                double* restrict out)                                         \
    {                                                                                                         \
        VT v[8], pairs[4], quads[2], m;                                                                       \
        for (int r = 0; r < 8; r++) {                                                                         \
            VT head, tail;                                                                                    \
            __builtin_memcpy(&head, z + r * K, sizeof head);                                                  \
            __builtin_memcpy(&tail, z + r * K + K - FL_LANES, sizeof tail);                                   \
            v[r] = FL_VMAX(head, tail, VT, VI);                                                               \
        }                                                                                                     \
        for (int i = 0; i < 4; i++) {                                                                         \
            const VT even = __builtin_shuffle(v[2 * i], v[2 * i + 1], (VI){0, 8, 2, 10, 4, 12, 6, 14});       \
            const VT odd = __builtin_shuffle(v[2 * i], v[2 * i + 1], (VI){1, 9, 3, 11, 5, 13, 7, 15});        \
            pairs[i] = FL_VMAX(even, odd, VT, VI);                                                            \
        }                                                                                                     \
        for (int i = 0; i < 2; i++) {                                                                         \
            const VT low = __builtin_shuffle(pairs[2 * i], pairs[2 * i + 1], (VI){0, 1, 8, 9, 4, 5, 12, 13}); \
            const VT high = __builtin_shuffle(pairs[2 * i], pairs[2 * i + 1],                                 \
                                              (VI){2, 3, 10, 11, 6, 7, 14, 15});                              \
            quads[i] = FL_VMAX(low, high, VT, VI);                                                            \
        }                                                                                                     \
        const VT first = __builtin_shuffle(quads[0], quads[1], (VI){0, 1, 2, 3, 8, 9, 10, 11});               \
        const VT second = __builtin_shuffle(quads[0], quads[1], (VI){4, 5, 6, 7, 12, 13, 14, 15});            \
        m = FL_VMAX(first, second, VT, VI);                                                                   \
        for (int r = 0; r < 8; r++) out[r] = (double)m[r];                                                    \
    }
FL_ROW_MAXIMA_OF_EIGHT_ROWS_OF(double, fl_v8d, fl_v8l)
FL_ROW_MAXIMA_OF_EIGHT_ROWS_OF(float, fl_v8f, fl_v8i)

/* ---------------------------------------------------------------------------------------------------------
 * CCE rows of hard targets on probabilities, from two logs per row. With every y_k 0 or 1 and q the clipped
 * renormalised probabilities, -Σ_k (y_k·keep + offset)·log q_k = -(keep·log Π_{y_k = 1} q_k + offset·log Π_k q_k):
 * two logs a row instead of K. Both products are built from factors in [lo, hi] (no cancellation, ~1 ulp a
 * factor) and both logs are <= 0, so the two parts add without cancelling: a row agrees with an exact reference to
 * ~1e-15 relative (float32 rows, whose per-element logs ran on float lanes, gain digits). The products stay normal
 * doubles while lo^K >= 2^-992: K <= 32 and lo >= 2^-31 (Keras's epsilon is 1e-7). Rows holding another target
 * value keep the per-element sum; the row functions and the chunks choose by the row's own targets, so a row gets
 * the same bits in either.
 * ------------------------------------------------------------------------------------------------------- */
#define FL_CCE_HARD_PRODUCT_MAX_K 32
FL_INLINE int fl_cce_hard_product_row(ptrdiff_t K, double lo)
{
    return (K <= FL_CCE_HARD_PRODUCT_MAX_K) & (lo >= 0x1p-31);
}

/* The factors of a hard row: q clipped, and q where y != 0, else 1 (a select, so the same bits in a SIMD loop). */
FL_INLINE double fl_cce_selected_factor(double y, double q)
{
    return y != 0.0 ? q : 1.0;
}

/* *all = Π_k q[k] and *selected = Π_k s[k] over a row of n <= FL_CCE_HARD_PRODUCT_MAX_K factors: lane j of four
 * multiplies the factors k ≡ j (mod 4) below n - n % 4 in k order, the lanes combine as (l0·l1)·(l2·l3), and the
 * tail's factors follow in k order. The two products run side by side, in the halves of one eight-lane vector. */
/* (GCC cannot see that a row function's q and s, filled for k < K, are read below K only.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
FL_INLINE void fl_cce_hard_products(const double* restrict q, const double* restrict s, ptrdiff_t n,
                                    double* restrict all, double* restrict selected)
{
    fl_v8d acc = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
    double tail_all = 1.0, tail_selected = 1.0;
    const ptrdiff_t n4 = n - n % 4;
    for (ptrdiff_t i = 0; i < n4; i += 4) {
        fl_v4d qv, sv;
        __builtin_memcpy(&qv, q + i, sizeof qv);
        __builtin_memcpy(&sv, s + i, sizeof sv);
        acc *= __builtin_shufflevector(qv, sv, 0, 1, 2, 3, 4, 5, 6, 7);
    }
    for (ptrdiff_t i = n4; i < n; i++) {
        tail_all *= q[i];
        tail_selected *= s[i];
    }
    const fl_v8d halves = FL_HALF_TREES(acc, *);
    *all = halves[0] * tail_all;
    *selected = halves[4] * tail_selected;
}
#pragma GCC diagnostic pop

FL_INLINE double fl_cce_hard_row_value(double selected, double all, double keep, double offset)
{
    return -(keep * fl_log_normal(selected) + offset * fl_log_normal(all));
}

/* The terms exp(z - m) of a log-sum-exp (z a logit, m its row's maximum, so z - m <= 0 and the maximum's term is 1):
 * float64 rows take the double exp; float32 rows take fl_expf_nonpositive on float lanes (twice the lanes of double,
 * a third of the operations). That term has < 1 float ulp of error plus the rounding of z - m (relative 6e-8·|z - m|)
 * and enters a double sum >= 1, so a row's log-sum-exp minus its largest logit, the part of the crossentropy that
 * is not a difference of inputs, keeps a relative error below ~1e-7·(1 + |z - m|) for the terms that matter. */
#define FL_LSE_TERM_f64 double
#define FL_LSE_TERM_f32 float
#define FL_EXP_SHIFTED_f64(Z, M) fl_exp_nonpositive((double)(Z) - (double)(M))
#define FL_EXP_SHIFTED_f32(Z, M) fl_expf_nonpositive((float)(Z) - (float)(M))
#define FL_LANE_SUM_f64 fl_lane_sum
#define FL_LANE_SUM_f32 fl_lane_sum_float

/* Runs the statement(s) with KC a compile-time constant equal to K for rows of 2 to 16 elements (else KC = K). The
 * per-row loops of short rows (maxima, sums, spreads) run row by row; with a constant length GCC unrolls each row,
 * so one row's dependent chain overlaps the next row's instead of waiting on a loop branch per element (rows of 10
 * classes: the row maxima of a chunk 0.26 -> 0.16 ns per element in L1). Same operations in the same order, so
 * the same bits. */
#define FL_FIX_ROW_CASE(K, KC, C, ...) case C: { const ptrdiff_t KC = C; __VA_ARGS__ } break;
#define FL_WITH_ROW_LENGTH(K, KC, ...)                                                                        \
    switch (K) {                                                                                              \
    FL_FIX_ROW_CASE(K, KC, 2, __VA_ARGS__) FL_FIX_ROW_CASE(K, KC, 3, __VA_ARGS__)                             \
    FL_FIX_ROW_CASE(K, KC, 4, __VA_ARGS__) FL_FIX_ROW_CASE(K, KC, 5, __VA_ARGS__)                             \
    FL_FIX_ROW_CASE(K, KC, 6, __VA_ARGS__) FL_FIX_ROW_CASE(K, KC, 7, __VA_ARGS__)                             \
    FL_FIX_ROW_CASE(K, KC, 8, __VA_ARGS__) FL_FIX_ROW_CASE(K, KC, 9, __VA_ARGS__)                             \
    FL_FIX_ROW_CASE(K, KC, 10, __VA_ARGS__) FL_FIX_ROW_CASE(K, KC, 11, __VA_ARGS__)                           \
    FL_FIX_ROW_CASE(K, KC, 12, __VA_ARGS__) FL_FIX_ROW_CASE(K, KC, 13, __VA_ARGS__)                           \
    FL_FIX_ROW_CASE(K, KC, 14, __VA_ARGS__) FL_FIX_ROW_CASE(K, KC, 15, __VA_ARGS__)                           \
    FL_FIX_ROW_CASE(K, KC, 16, __VA_ARGS__)                                                                   \
    default: { const ptrdiff_t KC = (K); __VA_ARGS__ } break;                                                 \
    }

/* ROWS[r] = the maximum of row r (nr rows of K), taken in the input type (exact, so it is fl_row_max's value; a NaN
 * in the row makes what follows NaN either way; of -0 and +0 either gives the same bits after a subtraction and an
 * exp), rows of 8 to 15 eight at a time where the level does (fl_row_maxima_eight_rows_<T>). */
#define FL_ROW_MAXIMA(ISA, T, Z, NR, K, ROWS)                                                                 \
    FL_WITH_ROW_LENGTH(K, fl_kc_, {                                                                           \
        ptrdiff_t fl_r_ = 0;                                                                                  \
        if (FL_EIGHT_ROWS_##ISA && fl_kc_ >= FL_LANES && fl_kc_ < 2 * FL_LANES)                               \
            for (; fl_r_ + 8 <= (NR); fl_r_ += 8)                                                             \
                fl_row_maxima_eight_rows_##T((Z) + fl_r_ * fl_kc_, fl_kc_, (ROWS) + fl_r_);                   \
        for (; fl_r_ < (NR); fl_r_++) {                                                                       \
            const T* const fl_row_ = (Z) + fl_r_ * fl_kc_;                                                    \
            T fl_m_ = fl_row_[0];                                                                             \
            for (ptrdiff_t fl_k_ = 1; fl_k_ < fl_kc_; fl_k_++)                                                \
                fl_m_ = fl_row_[fl_k_] > fl_m_ ? fl_row_[fl_k_] : fl_m_;                                      \
            (ROWS)[fl_r_] = (double)fl_m_;                                                                    \
        }                                                                                                     \
    })

/* ROWS[r] = SUM(BUF + r·K, K) for nr rows (SUM an inline lane sum), each row unrolled for short rows; rows of 8 to 15
 * eight at a time (SUM##_eight_rows, the same bits) at the levels where that pays. Each row (or group of rows)
 * first asks for its lines AHEAD elements on, if AHEAD is not 0. */
#define FL_ROW_SUMS_AHEAD(ISA, SUM, BUF, NR, K, ROWS, AHEAD)                                                  \
    FL_WITH_ROW_LENGTH(K, fl_kc_, {                                                                           \
        ptrdiff_t fl_r_ = 0;                                                                                  \
        if (FL_EIGHT_ROWS_##ISA && fl_kc_ >= FL_LANES && fl_kc_ < 2 * FL_LANES) {                             \
            for (; fl_r_ + 8 <= (NR); fl_r_ += 8) {                                                           \
                if (AHEAD)                                                                                    \
                    for (int fl_j_ = 0; fl_j_ < 8; fl_j_++)                                                   \
                        FL_PREFETCH_ROW((BUF) + (AHEAD) + (fl_r_ + fl_j_) * fl_kc_, fl_kc_);                  \
                FL_EIGHT_ROWS_OF(SUM)((BUF) + fl_r_ * fl_kc_, fl_kc_, (ROWS) + fl_r_);                        \
            }                                                                                                 \
        }                                                                                                     \
        for (; fl_r_ < (NR); fl_r_++) {                                                                       \
            if (AHEAD) FL_PREFETCH_ROW((BUF) + (AHEAD) + fl_r_ * fl_kc_, fl_kc_);                             \
            (ROWS)[fl_r_] = SUM((BUF) + fl_r_ * fl_kc_, fl_kc_);                                              \
        }                                                                                                     \
    })
#define FL_ROW_SUMS(ISA, SUM, BUF, NR, K, ROWS) FL_ROW_SUMS_AHEAD(ISA, SUM, BUF, NR, K, ROWS, 0)
#define FL_EIGHT_ROWS_OF(SUM) SUM##_eight_rows

/* out[r·K + k] = rows[r]: a per-row value next to each element of its row, for a SIMD loop over the chunk. */
FL_INLINE void fl_spread_rows(const double* restrict rows, ptrdiff_t nr, ptrdiff_t K, double* restrict out)
{
    FL_WITH_ROW_LENGTH(K, KC,
        for (ptrdiff_t r = 0; r < nr; r++)
            for (ptrdiff_t k = 0; k < KC; k++) out[r * KC + k] = rows[r];)
}

/* BCE terms on probabilities, dst[i] for i < n. With targets exactly 0 or 1 and no label smoothing,
 * -(y·log p + (1-y)·log(1-p)) is exactly -log(p) or -log(1-p): the other product is 0 times a finite negative log
 * (p is clipped inside (0, 1)), i.e. -0, and x + (-0) = x. So a chunk of hard targets takes one log per element
 * instead of two and gives the same bits. Returns non-zero if a p of the chunk lies outside [0, 1]. Typed by
 * target and prediction (the focal loss on logits passes its sigmoids as doubles) and by the element math MS:
 * f32 for BCE and binary focal on float32 probabilities (fl_bce_hard_f32 on float lanes), f64 for everything
 * else. */
#define FL_BCE_TERMS(ISA, ATTR, TY, TYS, TP, TPS, MS)                                                         \
    ATTR FL_INLINE int fl_bce_terms_##TYS##_##TPS##_##MS##_##ISA(const TY* restrict y, const TP* restrict p,  \
                                                          ptrdiff_t n, const fl_params* prm_in,               \
                                                          double* restrict dst)                               \
    {                                                                                                         \
        const fl_params prm_local = *prm_in;                                                                  \
        const fl_params* const prm = &prm_local;                                                              \
        const double lo = prm_local.lo, hi = prm_local.hi;                                                    \
        int bad = 0, soft = (prm_local.keep != 1.0) | (prm_local.offset != 0.0);                              \
        if (!soft) {                                                                                          \
            _Pragma("omp simd reduction(|:soft)")                                                             \
            for (ptrdiff_t i = 0; i < n; i++) soft |= fl_target_is_soft(y[i]);                                \
        }                                                                                                     \
        if (soft) {                                                                                           \
            _Pragma("omp simd reduction(|:bad)")                                                              \
            for (ptrdiff_t i = 0; i < n; i++) {                                                               \
                double pk = p[i];                                                                             \
                bad |= fl_outside_unit_interval(pk);                                                          \
                dst[i] = fl_bce_probabilities_element_##MS(y[i], p[i], prm);                                  \
            }                                                                                                 \
        } else {                                                                                              \
            _Pragma("omp simd reduction(|:bad)")                                                              \
            for (ptrdiff_t i = 0; i < n; i++) {                                                               \
                double pk = p[i];                                                                             \
                bad |= fl_outside_unit_interval(pk);                                                          \
                dst[i] = fl_bce_hard_##MS(y[i], p[i], lo, hi);                                                \
            }                                                                                                 \
        }                                                                                                     \
        return bad;                                                                                           \
    }

/* The product rows (see FL_BCE_PRODUCT_ROW_FUNCTIONS) vectorised across rows. ROWS(KC) runs the rows one per lane
 * with the row loop unrolled: GCC does so (loading the rows interleaved) for KC = 2, 3, 4 and 8 as constants.
 * Other lengths take COLUMNS(): column k of every row, then column k + 1, the row states in arrays (strided
 * loads, ~0.6-1.2 ns an element in cache against ~2-3 ns for a row loop GCC leaves scalar). The steps of a row
 * run in k order either way, so both give the bits of the scalar row function. */
#define FL_FOR_ROW_LENGTH(K, ROWS, COLUMNS)                                                                   \
    switch (K) {                                                                                              \
    case 2: ROWS(2); break;                                                                                   \
    case 3: ROWS(3); break;                                                                                   \
    case 4: ROWS(4); break;                                                                                   \
    case 8: ROWS(8); break;                                                                                   \
    default: COLUMNS();                                                                                       \
    }

/* One pass over the rows: the products, and whether the chunk holds a soft target or a p outside [0, 1]. */
#define FL_BCE_HARD_CHECKED_STEP(I, P, D)                                                                     \
    do {                                                                                                      \
        const double pk = p[I], yk = y[I];                                                                    \
        bad |= fl_outside_unit_interval(pk);                                                                  \
        soft |= fl_target_is_soft(yk);                                                                        \
        FL_BCE_HARD_STEP(yk, pk, lo, hi, P, D, complement);                                                   \
    } while (0)

#define FL_BCE_HARD_PRODUCT_ROWS(KC)                                                                          \
    _Pragma("omp simd reduction(|:bad, soft)")                                                                \
    for (ptrdiff_t r = 0; r < nr; r++) {                                                                      \
        double P = 1.0, D = 0.0;                                                                              \
        for (ptrdiff_t k = 0; k < (KC); k++) FL_BCE_HARD_CHECKED_STEP(r * (KC) + k, P, D);                    \
        rows[r] = fl_neg_log_of_product_or(complement, P, D) / (double)(KC);                                  \
    }

#define FL_BCE_HARD_PRODUCT_COLUMNS()                                                                         \
    do {                                                                                                      \
        double P[FL_CHUNK / 2], D[FL_CHUNK / 2];   /* K >= 2 */                                               \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++) { P[r] = 1.0; D[r] = 0.0; }                                        \
        for (ptrdiff_t k = 0; k < K; k++) {                                                                   \
            _Pragma("omp simd reduction(|:bad, soft)")                                                        \
            for (ptrdiff_t r = 0; r < nr; r++) FL_BCE_HARD_CHECKED_STEP(r * K + k, P[r], D[r]);               \
        }                                                                                                     \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++)                                                                    \
            rows[r] = fl_neg_log_of_product_or(complement, P[r], D[r]) / (double)K;                           \
    } while (0)

#define FL_BCE_PROBABILITIES_ROWS(ISA, ATTR, T, TS)                                                           \
    ATTR static int fl_rows_bce_probabilities_##TS##_##ISA(const T* restrict y, const T* restrict p,          \
                                                           ptrdiff_t nr, ptrdiff_t K, const fl_params* prm,   \
                                                           double* restrict rows)                             \
    {                                                                                                         \
        double buf[FL_CHUNK];                                                                                 \
        const double lo = prm->lo, hi = prm->hi;                                                              \
        const ptrdiff_t n = nr * K;                                                                           \
        const int smoothing = (prm->keep != 1.0) | (prm->offset != 0.0);                                      \
        const int complement = FL_PRODUCT_COMPLEMENT_##TS;                                                    \
        if (fl_bce_hard_product_row(K, lo) & !smoothing) {                                                    \
            int bad = 0, soft = 0;                                                                            \
            FL_FOR_ROW_LENGTH(K, FL_BCE_HARD_PRODUCT_ROWS, FL_BCE_HARD_PRODUCT_COLUMNS)                       \
            if (soft) {                                                                                       \
                /* Rows that hold a soft target take the element sum (as their row function does). */         \
                for (ptrdiff_t r = 0; r < nr; r++)                                                            \
                    rows[r] = fl_row_bce_probabilities_##TS(y + r * K, p + r * K, K, prm, &bad);              \
            }                                                                                                 \
            return bad;                                                                                       \
        }                                                                                                     \
        double* restrict dst = (K == 1) ? rows : buf;                                                         \
        const int bad = fl_bce_terms_##TS##_##TS##_##TS##_##ISA(y, p, n, prm, dst);                           \
        if (K != 1) fl_row_means_##ISA(buf, nr, K, rows);                                                     \
        return bad;                                                                                           \
    }

/* The element parts come first, on a plain SIMD loop over the chunk (lin: max(z, 0) - z·ys, e: the softplus
 * tail); the rows then add them up in k order, as the scalar row function does. */
#define FL_BCE_LOGITS_PRODUCT_ROWS(KC)                                                                        \
    _Pragma("omp simd")                                                                                       \
    for (ptrdiff_t r = 0; r < nr; r++) {                                                                      \
        double lin_sum = 0.0, Q = 0.0;                                                                        \
        for (ptrdiff_t k = 0; k < (KC); k++) {                                                                \
            lin_sum += lin[r * (KC) + k];                                                                     \
            FL_SOFTPLUS_PRODUCT_STEP(Q, e[r * (KC) + k]);                                                     \
        }                                                                                                     \
        rows[r] = fl_bce_logits_row_value(lin_sum, Q, KC);                                                    \
    }

#define FL_BCE_LOGITS_PRODUCT_COLUMNS()                                                                       \
    do {                                                                                                      \
        double lin_sum[FL_CHUNK / 2], Q[FL_CHUNK / 2];   /* K >= 2 */                                         \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++) { lin_sum[r] = 0.0; Q[r] = 0.0; }                                  \
        for (ptrdiff_t k = 0; k < K; k++) {                                                                   \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t r = 0; r < nr; r++) {                                                              \
                lin_sum[r] += lin[r * K + k];                                                                 \
                FL_SOFTPLUS_PRODUCT_STEP(Q[r], e[r * K + k]);                                                 \
            }                                                                                                 \
        }                                                                                                     \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++) rows[r] = fl_bce_logits_row_value(lin_sum[r], Q[r], K);            \
    } while (0)

#define FL_BCE_LOGITS_ROWS(ISA, ATTR, T, TS)                                                                  \
    ATTR static int fl_rows_bce_logits_##TS##_##ISA(const T* restrict y, const T* restrict z, ptrdiff_t nr,   \
                                                    ptrdiff_t K, const fl_params* prm, double* restrict rows) \
    {                                                                                                         \
        if (fl_bce_logits_product_row(K, sizeof(T))) {                                                        \
            const double keep = prm->keep, offset = prm->offset;                                              \
            double lin[FL_CHUNK], e[FL_CHUNK];                                                                \
            const ptrdiff_t n = nr * K;                                                                       \
            FL_PIECES_AHEAD(T, n, n, y, z, i0, i1,                                                            \
                _Pragma("omp simd")                                                                           \
                for (ptrdiff_t i = i0; i < i1; i++) {                                                         \
                    const double zi = z[i];                                                                   \
                    lin[i] = fl_bce_logits_linear(zi, (double)y[i] * keep + offset);                          \
                    e[i] = FL_EXP_OF_NEG_ABS_f64(zi);                                                         \
                })                                                                                            \
            FL_FOR_ROW_LENGTH(K, FL_BCE_LOGITS_PRODUCT_ROWS, FL_BCE_LOGITS_PRODUCT_COLUMNS)                   \
            return 0;                                                                                         \
        }                                                                                                     \
        return fl_rows_bce_logits_elements_##TS##_##ISA(y, z, nr, K, prm, rows);                              \
    }

/* LOOP(N) for the path N = fl_focal_exponent(γ) as a constant: the loop of each case has no branch left. */
#define FL_FOCAL_PATHS(GAMMA, LOOP)                                                                           \
    switch (fl_focal_exponent(GAMMA)) {                                                                       \
    case 0: LOOP(0); break;                                                                                   \
    case 1: LOOP(1); break;                                                                                   \
    case 2: LOOP(2); break;                                                                                   \
    case 3: LOOP(3); break;                                                                                   \
    case 4: LOOP(4); break;                                                                                   \
    default: LOOP(-1); break;                                                                                 \
    }

/* dst[i] = fl_focal_power(1 - p_t, γ, N)·dst[i]. */
#define FL_BINARY_FOCAL_FACTOR_LOOP(N)                                                                        \
    do {                                                                                                      \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++)                                                                     \
            dst[i] = fl_focal_power(fl_focal_base(y[i], p[i], prm), gamma, N) * dst[i];                       \
    } while (0)

/* Binary focal crossentropy terms of nr rows of K elements: the BCE terms (in the math MS of FL_BCE_TERMS), then
 * the focal factor, then the balancing weight, each a pass over dst (see fl_binary_focal_element and its float32
 * twin). Returns the BCE terms' range check. */
#define FL_BINARY_FOCAL_TERMS(ISA, ATTR, TY, TYS, TP, TPS, MS)                                                \
    ATTR FL_INLINE int fl_binary_focal_terms_##TYS##_##TPS##_##ISA(const TY* restrict y,                      \
                                                                   const TP* restrict p, ptrdiff_t nr,        \
                                                                   ptrdiff_t K, const fl_params* prm_in,      \
                                                                   double* restrict dst)                      \
    {                                                                                                         \
        const fl_params prm_local = *prm_in;                                                                  \
        const fl_params* const prm = &prm_local;                                                              \
        const double gamma = prm_local.gamma;                                                                 \
        const ptrdiff_t n = nr * K;                                                                           \
        const int bad = fl_bce_terms_##TYS##_##TPS##_##MS##_##ISA(y, p, n, prm, dst);                          \
        FL_FOCAL_PATHS(gamma, FL_BINARY_FOCAL_FACTOR_LOOP);                                                   \
        if ((long)prm_local.flags & FL_FOCAL_CLASS_BALANCING) {                                               \
            if (prm_local.columns == NULL || K == 1) {                                                        \
                const double alpha = fl_focal_alpha(prm, 0);                                                  \
                _Pragma("omp simd")                                                                           \
                for (ptrdiff_t i = 0; i < n; i++) dst[i] = fl_focal_balance(y[i], alpha, prm) * dst[i];       \
            } else {                                                                                          \
                for (ptrdiff_t r = 0; r < nr; r++) {                                                          \
                    _Pragma("omp simd")                                                                       \
                    for (ptrdiff_t k = 0; k < K; k++)                                                         \
                        dst[r * K + k] = fl_focal_balance(y[r * K + k], prm_local.columns[k], prm) * dst[r * K + k];\
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        return bad;                                                                                           \
    }

/* Row loops of the binary focal crossentropy: the element loss is fl_binary_focal_element's (of p, or of
 * fl_sigmoid(z) for logits), each row the mean in k order. */
#define FL_BINARY_FOCAL_ROWS(ISA, ATTR, T, TS)                                                                \
    ATTR static int fl_rows_binary_focal_probabilities_##TS##_##ISA(const T* restrict y, const T* restrict p, \
                                                                    ptrdiff_t nr, ptrdiff_t K,                \
                                                                    const fl_params* prm,                     \
                                                                    double* restrict rows)                    \
    {                                                                                                         \
        double buf[FL_CHUNK];                                                                                 \
        double* restrict dst = (K == 1) ? rows : buf;                                                         \
        const int bad = fl_binary_focal_terms_##TS##_##TS##_##ISA(y, p, nr, K, prm, dst);                     \
        if (K != 1) fl_row_means_##ISA(buf, nr, K, rows);                                                     \
        return bad;                                                                                           \
    }                                                                                                         \
                                                                                                              \
    ATTR static int fl_rows_binary_focal_logits_##TS##_##ISA(const T* restrict y, const T* restrict z,        \
                                                             ptrdiff_t nr, ptrdiff_t K, const fl_params* prm, \
                                                             double* restrict rows)                           \
    {                                                                                                         \
        double buf[FL_CHUNK], s[FL_CHUNK];                                                                    \
        double* restrict dst = (K == 1) ? rows : buf;                                                         \
        const ptrdiff_t n = nr * K;                                                                           \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) s[i] = fl_sigmoid((double)z[i]);                                    \
        fl_binary_focal_terms_##TS##_f64_##ISA(y, s, nr, K, prm, dst); /* a sigmoid is in [0, 1] or NaN */    \
        if (K != 1) fl_row_means_##ISA(buf, nr, K, rows);                                                     \
        return 0;                                                                                             \
    }

/* The BCE-from-logits rows summed element by element (all float32 rows; float64 rows longer than the products
 * take). float32: a chunk whose targets are all hard runs fl_bce_logits_hard_f32 on float lanes into a float
 * buffer (1.03 against 1.36 ns per element for the general element, AVX-512, L1-resident; one thread at 1e7,
 * (B, 8): 14.3 -> 12.0 ms); its values are the general element's, so the rows get the same bits either way.
 * FL_ROWS_LOOP_OF's double buffer took 13.8 ms there, and its short rows summed straight from the inputs 112 ms
 * (GCC leaves the softplus scalar in a loop across rows), hence a loop of its own. */
#define FL_BCE_LOGITS_ELEMENTS_f64(ISA, ATTR)                                                                 \
    FL_ROWS_LOOP_OF(ISA, ATTR, double, fl_rows_bce_logits_elements_f64_##ISA, fl_bce_logits_element_f64)
#define FL_BCE_LOGITS_ELEMENTS_f32(ISA, ATTR)                                                                 \
    FL_ROWS_LOOP_OF(ISA, ATTR, float, fl_rows_bce_logits_mixed_f32_##ISA, fl_bce_logits_element_f32)          \
    ATTR static int fl_rows_bce_logits_elements_f32_##ISA(const float* restrict y, const float* restrict z,   \
                                                          ptrdiff_t nr, ptrdiff_t K, const fl_params* prm,    \
                                                          double* restrict rows)                              \
    {                                                                                                         \
        const ptrdiff_t n = nr * K;                                                                           \
        int soft = (prm->keep != 1.0) | (prm->offset != 0.0);                                                 \
        if (!soft) {                                                                                          \
            _Pragma("omp simd reduction(|:soft)")                                                             \
            for (ptrdiff_t i = 0; i < n; i++) soft |= (y[i] != 0.0f) & (y[i] != 1.0f);                        \
        }                                                                                                     \
        if (soft) return fl_rows_bce_logits_mixed_f32_##ISA(y, z, nr, K, prm, rows);                          \
        float buf[FL_CHUNK];                                                                                  \
        FL_PIECES_AHEAD(float, n, n, y, z, i0, i1,                                                            \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t i = i0; i < i1; i++)                                                               \
                buf[i] = fl_bce_logits_hard_f32(y[i], z[i], fl_softplus_neg_absf(z[i]));)                     \
        if (K == 1) {                                                                                         \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t r = 0; r < nr; r++) rows[r] = (double)buf[r];                                      \
        } else {                                                                                              \
            FL_ROW_MEANS_OF_SHORT_ROWS(nr, K, rows, (double)buf[fl_i_],                                      \
                                       FL_ROW_MEANS_OF(nr, K, rows, (double)buf[fl_i_]));                     \
        }                                                                                                     \
        return 0;                                                                                             \
    }

#define FL_ROW_FUNCTIONS(ISA, ATTR, T, TS)                                                                    \
    FL_BCE_PROBABILITIES_ROWS(ISA, ATTR, T, TS)                                                               \
    FL_BCE_LOGITS_ELEMENTS_##TS(ISA, ATTR)                                                                    \
    FL_BCE_LOGITS_ROWS(ISA, ATTR, T, TS)                                                                      \
    FL_ELEMENTWISE_IN_DOUBLE(FL_LOOP_##TS, ISA, ATTR)                                                         \
                                                                                                              \
    ATTR static double fl_row_max_##TS##_##ISA(const T* restrict z, ptrdiff_t K)                              \
    {                                                                                                         \
        /* The maximum is exact, so the lanes may take the elements in any grouping; a NaN (which comparisons \
         * may or may not pass on) makes the log-sum-exp NaN through its own term whatever maximum is taken. */   \
        T m = z[0];                                                                                           \
        _Pragma("omp simd reduction(max:m)")                                                                  \
        for (ptrdiff_t k = 1; k < K; k++) m = z[k] > m ? z[k] : m;                                            \
        return m;                                                                                             \
    }                                                                                                         \
                                                                                                              \
    ATTR static double fl_log_sum_exp_##TS##_##ISA(const T* restrict z, ptrdiff_t K)                          \
    {                                                                                                         \
        /* Shift by the maximum so exp never overflows; the largest term is 1, so the sum is >= 1. */         \
        const double m = fl_row_max_##TS##_##ISA(z, K);                                                       \
        double total;                                                                                         \
        FL_SUM_TERMS_OF(total, K, FL_LSE_TERM_##TS, FL_EXP_SHIFTED_##TS(z[k], m));                            \
        return m + fl_log_normal(total);                                                                       \
    }                                                                                                         \
                                                                                                              \
    /* log-sum-exp of nr rows of K logits (nr·K <= FL_CHUNK): the exps of the whole chunk in one SIMD loop instead  \
     * of one short loop per row. Each row gets the bits of fl_log_sum_exp (same maximum, same terms, same sums). */ \
    ATTR static int fl_rows_log_sum_exp_##TS##_##ISA(const T* restrict z, ptrdiff_t nr, ptrdiff_t K,          \
                                                      double* restrict rows)                                  \
    {                                                                                                         \
        FL_LSE_TERM_##TS terms[FL_CHUNK], shift[FL_CHUNK];                                                    \
        double sums[FL_CHUNK];                                                                                \
        const ptrdiff_t n = nr * K;                                                                           \
        FL_ROW_MAXIMA(ISA, T, z, nr, K, rows);                                                                \
        FL_WITH_ROW_LENGTH(K, KC, for (ptrdiff_t r = 0; r < nr; r++)                                          \
            for (ptrdiff_t k = 0; k < KC; k++) shift[r * KC + k] = (FL_LSE_TERM_##TS)rows[r];)                \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) terms[i] = FL_EXP_SHIFTED_##TS(z[i], shift[i]);                     \
        FL_ROW_SUMS(ISA, FL_LANE_SUM_##TS, terms, nr, K, sums);                                               \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++) rows[r] = rows[r] + fl_log_normal(sums[r]);                       \
        return 0;                                                                                             \
    }                                                                                                         \
                                                                                                              \
    /* Keras's renormaliser of each of nr rows: sums[r] = Σ_k p, in the per-row functions' fl_lane_sum order, \
     * read straight from the inputs. Non-zero if a probability of the chunk lies outside [0, 1]. Shared by   \
     * the CCE, categorical focal and sparse chunks. Each row asks for its lines `ahead` elements on (the next\
     * chunk). */                                                                                             \
    ATTR static int fl_rows_renormalisers_##TS##_##ISA(const T* restrict p, ptrdiff_t nr, ptrdiff_t K,        \
                                                        ptrdiff_t ahead, double* restrict sums)               \
    {                                                                                                         \
        const ptrdiff_t n = nr * K;                                                                           \
        const int bad = FL_OUTSIDE_UNIT_INTERVAL(TS, p, n);                                                   \
        FL_ROW_SUMS_AHEAD(ISA, FL_LANE_SUM_##TS, p, nr, K, sums, ahead);                                      \
        return bad;                                                                                           \
    }                                                                                                         \
                                                                                                              \
    /* Σ_k p of nr rows (nr·K <= FL_CHUNK) for the sparse chunks, summed as _row_scce_probabilities sums a    \
     * row; the caller's rows follow these, n elements on. */                                                 \
    ATTR static int fl_rows_probability_sum_##TS##_##ISA(const T* restrict p, ptrdiff_t nr, ptrdiff_t K,      \
                                                         double* restrict rows)                               \
    {                                                                                                         \
        return fl_rows_renormalisers_##TS##_##ISA(p, nr, K, nr * K, rows);                                    \
    }                                                                                                         \
                                                                                                              \
    ATTR static double fl_row_cce_logits_##TS##_##ISA(const T* restrict y, const T* restrict z, ptrdiff_t K,  \
                                                      const fl_params* prm_in, int* bad)                      \
    {                                                                                                         \
        const fl_params prm = *prm_in;                                                                        \
        const double lse = fl_log_sum_exp_##TS##_##ISA(z, K);                                                 \
        double total;                                                                                         \
        (void)bad;                                                                                            \
        FL_SUM_TERMS(total, K, ((double)y[k] * prm.keep + prm.offset) * (lse - (double)z[k]));                \
        return total;                                                                                         \
    }                                                                                                         \
                                                                                                              \
    ATTR static double fl_row_cce_probabilities_##TS##_##ISA(const T* restrict y, const T* restrict p,        \
                                                             ptrdiff_t K, const fl_params* prm_in, int* bad)  \
    {                                                                                                         \
        /* Keras renormalises the row (p / Σp) before clipping. */                                            \
        const fl_params prm = *prm_in;                                                                        \
        double total, loss;                                                                                   \
        int out_of_range = 0;                                                                                 \
        _Pragma("omp simd reduction(|:out_of_range)")                                                         \
        for (ptrdiff_t k = 0; k < K; k++) out_of_range |= fl_outside_unit_interval((double)p[k]);             \
        *bad = out_of_range;                                                                                  \
        FL_SUM_TERMS(total, K, (double)p[k]);                                                                 \
        const double factor = FL_RENORMALISER_##TS(total);                                                    \
        if (fl_cce_hard_product_row(K, prm.lo)) {                                                             \
            int soft = 0;                                                                                     \
            for (ptrdiff_t k = 0; k < K; k++) soft |= fl_target_is_soft(y[k]);                           \
            if (!soft) {                                                                                      \
                double q[FL_CCE_HARD_PRODUCT_MAX_K], s[FL_CCE_HARD_PRODUCT_MAX_K], all, selected;             \
                for (ptrdiff_t k = 0; k < K; k++) {                                                           \
                    q[k] = fl_clip(FL_RENORMALISED_##TS(p[k], factor), prm.lo, prm.hi);                       \
                    s[k] = fl_cce_selected_factor(y[k], q[k]);                                                \
                }                                                                                             \
                fl_cce_hard_products(q, s, K, &all, &selected);                                               \
                return fl_cce_hard_row_value(selected, all, prm.keep, prm.offset);                            \
            }                                                                                                 \
        }                                                                                                     \
        FL_SUM_TERMS(loss, K, -(((double)y[k] * prm.keep + prm.offset)                                        \
                               * fl_log_clipped_##TS(FL_RENORMALISED_##TS(p[k], factor), prm.lo, prm.hi)));   \
        return loss;                                                                                          \
    }

/* Chunks of short rows for the categorical crossentropies (nr·K <= FL_CHUNK): each loop runs over the whole chunk,
 * and every row gets the bits of the per-row function (same terms, summed by fl_lane_sum in FL_SUM_TERMS order). */
#define FL_CCE_ROWS(ISA, ATTR, T, TS)                                                                         \
    ATTR static int fl_rows_cce_logits_##TS##_##ISA(const T* restrict y, const T* restrict z, ptrdiff_t nr,   \
                                                    ptrdiff_t K, const fl_params* prm_in, double* restrict rows)\
    {                                                                                                         \
        const fl_params prm = *prm_in;                                                                        \
        double terms[FL_CHUNK], lse[FL_CHUNK];                                                                \
        const ptrdiff_t n = nr * K;                                                                           \
        fl_rows_log_sum_exp_##TS##_##ISA(z, nr, K, rows);                                                     \
        fl_spread_rows(rows, nr, K, lse);                                                                     \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) terms[i] = ((double)y[i] * prm.keep + prm.offset) * (lse[i] - (double)z[i]);\
        FL_ROW_SUMS(ISA, fl_lane_sum, terms, nr, K, rows);                                                    \
        return 0;                                                                                             \
    }                                                                                                         \
                                                                                                              \
    ATTR static int fl_cce_probabilities_part_##TS##_##ISA(const T* restrict y, const T* restrict p,          \
                                                           ptrdiff_t nr, ptrdiff_t K, const fl_params* prm_in,\
                                                           ptrdiff_t ahead, double* restrict rows)            \
    {                                                                                                         \
        const fl_params prm = *prm_in;                                                                        \
        double terms[FL_CHUNK], factor[FL_CHUNK], row_all[FL_CHUNK], row_selected[FL_CHUNK];                  \
        const ptrdiff_t n = nr * K;                                                                           \
        const int bad = fl_rows_renormalisers_##TS##_##ISA(p, nr, K, ahead, rows);                            \
        const int products = fl_cce_hard_product_row(K, prm.lo);                                              \
        int soft = 0;                                                                                         \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++) rows[r] = FL_RENORMALISER_##TS(rows[r]);                           \
        fl_spread_rows(rows, nr, K, factor);                                                                  \
        if (products) {                                                                                       \
            /* The hard rows' factors (the selected ones over the spread renormalisers, to keep the chunk's   \
             * buffers in L1), products and values (into rows[] when every row is hard). */                  \
            _Pragma("omp simd reduction(|:soft)")                                                             \
            for (ptrdiff_t i = 0; i < n; i++) {                                                               \
                const double q = fl_clip(FL_RENORMALISED_##TS(p[i], factor[i]), prm.lo, prm.hi);              \
                terms[i] = q;                                                                                 \
                factor[i] = fl_cce_selected_factor(y[i], q);                                                  \
                soft |= fl_target_is_soft(y[i]);                                                          \
            }                                                                                                 \
            /* Each row asks for its targets' lines `ahead` elements on (the renormalisers ask for p's). */    \
            FL_WITH_ROW_LENGTH(K, KC, for (ptrdiff_t r = 0; r < nr; r++) {                                    \
                FL_PREFETCH_ROW(y + ahead + r * KC, KC);                                                      \
                fl_cce_hard_products(terms + r * KC, factor + r * KC, KC, row_all + r, row_selected + r);     \
            })                                                                                                \
            double* const values = soft ? row_all : rows;                                                     \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t r = 0; r < nr; r++)                                                                \
                values[r] = fl_cce_hard_row_value(row_selected[r], row_all[r], prm.keep, prm.offset);         \
            if (!soft) return bad;                                                                            \
            fl_spread_rows(rows, nr, K, factor);                                                              \
        }                                                                                                     \
        /* The per-element sums: of every row without the products, of the rows with a soft target with them \
         * (the other rows keep their products' values). */                                                  \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++)                                                                     \
            terms[i] = -(((double)y[i] * prm.keep + prm.offset)                                               \
                         * fl_log_clipped_##TS(FL_RENORMALISED_##TS(p[i], factor[i]), prm.lo, prm.hi));       \
        FL_WITH_ROW_LENGTH(K, KC, for (ptrdiff_t r = 0; r < nr; r++) {                                        \
            int soft_row = !products;                                                                         \
            for (ptrdiff_t k = 0; k < KC && !soft_row; k++) soft_row = fl_target_is_soft(y[r * KC + k]);  \
            rows[r] = soft_row ? fl_lane_sum(terms + r * KC, KC) : row_all[r];                                \
        })                                                                                                    \
        return bad;                                                                                           \
    }                                                                                                         \
                                                                                                              \
    /* The chunk in parts of FL_PART_ROWS rows: each row's value is its own (no bit depends on the parts). A  \
     * part asks for the lines a chunk on, as a whole chunk would (half as far, and 1e7 float32 rows of 10 on two \
     * threads took ~5% longer). */                                                                           \
    ATTR static int fl_rows_cce_probabilities_##TS##_##ISA(const T* restrict y, const T* restrict p,          \
                                                           ptrdiff_t nr, ptrdiff_t K, const fl_params* prm,   \
                                                           double* restrict rows)                             \
    {                                                                                                         \
        const ptrdiff_t part = FL_PART_ROWS(K);                                                               \
        int bad = 0;                                                                                          \
        for (ptrdiff_t r0 = 0; r0 < nr; r0 += part)                                                           \
            bad |= fl_cce_probabilities_part_##TS##_##ISA(y + r0 * K, p + r0 * K, nr - r0 < part ? nr - r0 : part,\
                                                          K, prm, nr * K, rows + r0);                         \
        return bad;                                                                                           \
    }

/* Categorical focal crossentropy (Keras): l = Σ_k (α_k·(1 - q_k)^γ)·(-y_s,k·log q_k), q the clipped renormalised
 * probabilities (or softmax). Both the per-row functions and the chunks of short rows compute their terms with
 * fl_categorical_focal_terms and sum each row in FL_SUM_TERMS order, so they give the same bits. */

/* a[i] = α of column k0 + i, for n columns. */
FL_INLINE void fl_focal_alphas(const fl_params* prm, ptrdiff_t k0, ptrdiff_t n, double* restrict a)
{
    for (ptrdiff_t i = 0; i < n; i++) a[i] = fl_focal_alpha(prm, k0 + i);
}

/* (a[i]·(1 - q[i])^γ)·(-y_s·log q[i]) for i < n: the log term, then the factor (one pass per γ path). */
#define FL_CATEGORICAL_FOCAL_FACTOR_LOOP(N)                                                                   \
    do {                                                                                                      \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = (a[i] * fl_focal_power(1.0 - q[i], gamma, N)) * dst[i];    \
    } while (0)

#define FL_CATEGORICAL_FOCAL_TERMS(ISA, ATTR, T, TS)                                                          \
    ATTR FL_INLINE void fl_categorical_focal_terms_##TS##_##ISA(const T* restrict y, const double* restrict q, \
                                                                const double* restrict a, ptrdiff_t n,        \
                                                                const fl_params* prm, double* restrict dst)   \
    {                                                                                                         \
        const double keep = prm->keep, offset = prm->offset, gamma = prm->gamma;                              \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = -((double)y[i] * keep + offset) * fl_log_normal(q[i]);       \
        FL_FOCAL_PATHS(gamma, FL_CATEGORICAL_FOCAL_FACTOR_LOOP);                                              \
    }                                                                                                         \
                                                                                                              \
    ATTR static double fl_row_categorical_focal_probabilities_##TS##_##ISA(const T* restrict y,               \
                                                                           const T* restrict p, ptrdiff_t K,  \
                                                                           const fl_params* prm_in, int* bad) \
    {                                                                                                         \
        const fl_params prm = *prm_in;                                                                        \
        double total, loss, q[FL_CHUNK], a[FL_CHUNK];                                                         \
        int out_of_range = 0;                                                                                 \
        _Pragma("omp simd reduction(|:out_of_range)")                                                         \
        for (ptrdiff_t k = 0; k < K; k++) out_of_range |= fl_outside_unit_interval((double)p[k]);             \
        *bad = out_of_range;                                                                                  \
        FL_SUM_TERMS(total, K, (double)p[k]);                                                                 \
        FL_SUM_CHUNKS(loss, K,                                                                                \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t i = 0; i < fl_n_; i++) q[i] = fl_clip((double)p[fl_k0_ + i] / total, prm.lo, prm.hi);\
            fl_focal_alphas(&prm, fl_k0_, fl_n_, a);                                                          \
            fl_categorical_focal_terms_##TS##_##ISA(y + fl_k0_, q, a, fl_n_, &prm, fl_buf_);                  \
        );                                                                                                    \
        return loss;                                                                                          \
    }                                                                                                         \
                                                                                                              \
    ATTR static double fl_row_categorical_focal_logits_##TS##_##ISA(const T* restrict y, const T* restrict z, \
                                                                    ptrdiff_t K, const fl_params* prm_in,     \
                                                                    int* bad)                                 \
    {                                                                                                         \
        /* Keras's softmax, then the probability formula (clip included); shifted by the row maximum. */      \
        const fl_params prm = *prm_in;                                                                        \
        const double m = fl_row_max_##TS##_##ISA(z, K);                                                       \
        double total, loss, q[FL_CHUNK], a[FL_CHUNK];                                                         \
        (void)bad;                                                                                            \
        FL_SUM_TERMS(total, K, fl_exp_nonpositive((double)z[k] - m));                                         \
        FL_SUM_CHUNKS(loss, K,                                                                                \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t i = 0; i < fl_n_; i++)                                                             \
                q[i] = fl_clip(fl_exp_nonpositive((double)z[fl_k0_ + i] - m) / total, prm.lo, prm.hi);        \
            fl_focal_alphas(&prm, fl_k0_, fl_n_, a);                                                          \
            fl_categorical_focal_terms_##TS##_##ISA(y + fl_k0_, q, a, fl_n_, &prm, fl_buf_);                  \
        );                                                                                                    \
        return loss;                                                                                          \
    }                                                                                                         \
                                                                                                              \
    /* Chunks of short rows (nr·K <= FL_CHUNK), like FL_CCE_ROWS. */                                          \
    ATTR static int fl_rows_categorical_focal_probabilities_##TS##_##ISA(const T* restrict y,                 \
                                                                         const T* restrict p, ptrdiff_t nr,   \
                                                                         ptrdiff_t K, const fl_params* prm,   \
                                                                         double* restrict rows)               \
    {                                                                                                         \
        double terms[FL_CHUNK], q[FL_CHUNK], a[FL_CHUNK];                                                     \
        const double lo = prm->lo, hi = prm->hi;                                                              \
        const ptrdiff_t n = nr * K;                                                                           \
        const int bad = fl_rows_renormalisers_##TS##_##ISA(p, nr, K, n, rows);                                \
        fl_spread_rows(rows, nr, K, q);                                                                       \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) q[i] = fl_clip((double)p[i] / q[i], lo, hi);                        \
        for (ptrdiff_t r = 0; r < nr; r++) fl_focal_alphas(prm, 0, K, a + r * K);                             \
        fl_categorical_focal_terms_##TS##_##ISA(y, q, a, n, prm, terms);                                      \
        FL_ROW_SUMS(ISA, fl_lane_sum, terms, nr, K, rows);                                                    \
        return bad;                                                                                           \
    }                                                                                                         \
                                                                                                              \
    ATTR static int fl_rows_categorical_focal_logits_##TS##_##ISA(const T* restrict y, const T* restrict z,   \
                                                                  ptrdiff_t nr, ptrdiff_t K,                  \
                                                                  const fl_params* prm, double* restrict rows)\
    {                                                                                                         \
        double terms[FL_CHUNK], q[FL_CHUNK], a[FL_CHUNK];                                                     \
        const double lo = prm->lo, hi = prm->hi;                                                              \
        const ptrdiff_t n = nr * K;                                                                           \
        FL_ROW_MAXIMA(ISA, T, z, nr, K, rows);                                                                \
        fl_spread_rows(rows, nr, K, q);                                                                       \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) terms[i] = fl_exp_nonpositive((double)z[i] - q[i]);                 \
        FL_ROW_SUMS(ISA, fl_lane_sum, terms, nr, K, rows);                                                    \
        fl_spread_rows(rows, nr, K, q);                                                                       \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) q[i] = fl_clip(terms[i] / q[i], lo, hi);                            \
        for (ptrdiff_t r = 0; r < nr; r++) fl_focal_alphas(prm, 0, K, a + r * K);                             \
        fl_categorical_focal_terms_##TS##_##ISA(y, q, a, n, prm, terms);                                      \
        FL_ROW_SUMS(ISA, fl_lane_sum, terms, nr, K, rows);                                                    \
        return 0;                                                                                             \
    }

/* Totals of nr included rows with per-row weights w (or weight 1 when w is NULL): sums[0] = Σ w·l,
 * sums[1] = Σ w, sums[2] = #(w != 0). The lanes make the order of additions the same at every ISA level. There are
 * four vectors of them (FL_REDUCE_LANES): with one, each sum was a chain of dependent vector adds (3 cycles apiece
 * on Zen 4), ~0.1 ns per row, a fifth of a float32 MAE's time on one thread. */
#define FL_REDUCE_LANES (4 * FL_LANES)
FL_INLINE double fl_reduce_lane_sum(const double* acc, double tail)
{
    double lanes[FL_LANES];
    for (int j = 0; j < FL_LANES; j++)
        lanes[j] = (acc[j] + acc[j + FL_LANES]) + (acc[j + 2 * FL_LANES] + acc[j + 3 * FL_LANES]);
    return FL_LANE_SUM(lanes, tail);
}

/* sums[0] = Σ W·ELEMENT, sums[1] = Σ W, sums[2] = #(W != 0) over i in [0, n) (expressions of i), lane j of
 * FL_REDUCE_LANES adding the i ≡ j in order and the tail apart; `refused` |= REFUSE for every i. The one order of
 * additions of fl_reduce_rows and of the loops that fuse their element into it (FL_HARD_TOTALS), hence their bits.
 * WEIGHTED 0 (a constant): every weight is 1, and the weight lanes go, since Σ 1 and #(1 != 0) are n, exact in a
 * double: the same sums with two vector additions an element fewer (5% of a float64 focal pixel loop, one thread). */
#define FL_LANE_SUMS(ELEMENT, WEIGHT, REFUSE, WEIGHTED)                                                       \
    do {                                                                                                      \
        double s[FL_REDUCE_LANES] = {0.0}, ws[FL_REDUCE_LANES] = {0.0}, nz[FL_REDUCE_LANES] = {0.0};          \
        double s_tail = 0.0, w_tail = 0.0, nz_tail = 0.0;                                                     \
        ptrdiff_t r = 0;                                                                                      \
        for (; r + FL_REDUCE_LANES <= n; r += FL_REDUCE_LANES) {                                              \
            _Pragma("omp simd reduction(|:refused)")                                                          \
            for (int j = 0; j < FL_REDUCE_LANES; j++) {                                                       \
                const ptrdiff_t i = r + j;                                                                    \
                const double weight = (WEIGHT);                                                               \
                refused |= (REFUSE);                                                                          \
                s[j] += weight * (ELEMENT);                                                                   \
                if (WEIGHTED) {                                                                               \
                    ws[j] += weight;                                                                          \
                    nz[j] += (weight != 0.0) ? 1.0 : 0.0;                                                     \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        for (; r < n; r++) {                                                                                  \
            const ptrdiff_t i = r;                                                                            \
            const double weight = (WEIGHT);                                                                   \
            refused |= (REFUSE);                                                                              \
            s_tail += weight * (ELEMENT);                                                                     \
            if (WEIGHTED) {                                                                                   \
                w_tail += weight;                                                                             \
                nz_tail += (weight != 0.0) ? 1.0 : 0.0;                                                       \
            }                                                                                                 \
        }                                                                                                     \
        sums[0] = fl_reduce_lane_sum(s, s_tail);                                                              \
        sums[1] = (WEIGHTED) ? fl_reduce_lane_sum(ws, w_tail) : (double)n;                                    \
        sums[2] = (WEIGHTED) ? fl_reduce_lane_sum(nz, nz_tail) : (double)n;                                   \
    } while (0)
#define FL_WEIGHTED_LANE_SUMS(ELEMENT, WEIGHT, REFUSE) FL_LANE_SUMS(ELEMENT, WEIGHT, REFUSE, 1)
#define FL_UNWEIGHTED_LANE_SUMS(ELEMENT, REFUSE) FL_LANE_SUMS(ELEMENT, 1.0, REFUSE, 0)

#define FL_REDUCE_ROWS_OF(ISA, ATTR, NAME, WT)                                                                \
    ATTR static void NAME##_##ISA(const double* restrict rows, ptrdiff_t nr, const WT* restrict w,            \
                                  double* restrict sums)                                                      \
    {                                                                                                         \
        const ptrdiff_t n = nr;                                                                               \
        int refused = 0;   /* nothing to refuse: rows and weights as given */                                 \
        if (w == NULL)                                                                                        \
            FL_UNWEIGHTED_LANE_SUMS(rows[i], 0);                                                              \
        else                                                                                                  \
            FL_WEIGHTED_LANE_SUMS(rows[i], (double)w[i], 0);                                                  \
        (void)refused;                                                                                        \
    }
/* fl_reduce_rows, and fl_reduce_rows_f32w for float32 per-row weights read as they are (widened exactly, so the
 * same sums): rows of one element with per-element float32 weights (a segmentation map's pixel weights) skip the
 * chunk's widened copy of their weights, 13% of such a float32 call on one thread. */
#define FL_REDUCE_ROWS(ISA, ATTR)                                                                             \
    FL_REDUCE_ROWS_OF(ISA, ATTR, fl_reduce_rows, double)                                                      \
    FL_REDUCE_ROWS_OF(ISA, ATTR, fl_reduce_rows_f32w, float)

/* The totals of a chunk of n rows of one element each (a segmentation map's pixels) with hard targets, of BCE on
 * probabilities or (focal) of the binary focal crossentropy with γ = 2 (Keras's and torchvision's default; another γ
 * is refused), without a row buffer: each element's loss goes straight into the reduction's lanes, weighted by its
 * float32 (w_f32) or float64 (w_f64) sample weight, by its class's weight (cw, a table of n_cw entries; NaN: a class
 * without a weight), or by 1. Against the general passes (fl_rows_bce_probabilities or
 * fl_rows_binary_focal_probabilities, fl_chunk_weights with class weights, then fl_reduce_rows), the same
 * operations on each element and the same additions in the same lanes, so the same bits, with the passes over the
 * chunk that checked its targets, applied the focal factors, filled the weights and reduced the row buffer gone:
 * one thread, 32×512×512 float32, BCE with pixel weights 6.8 -> 4.6-5.0 ms, with class weights 10.2 -> 5.4 ms. BCE
 * pixels without weights of their own take the logs of products instead (FL_PIXEL_PRODUCT_TOTALS, below), the same
 * value but not the same bits.
 * sums[0..2] as fl_reduce_rows gives them and *entries as fl_chunk_weights counts them with class weights (else
 * 0). Returns non-zero, with sums undefined, if a target is soft, a p lies outside [0, 1] or a row has no class
 * weight: the caller then takes the chunk the general way, which decides what to do with it. */
/* A chunk whose element i has a soft target or a p outside [0, 1] goes the general way. */
#define FL_HARD_REFUSED (fl_target_is_soft(y[i]) | fl_outside_unit_interval(p[i]))
#define FL_HARD_TOTALS_LOOP(ELEMENT, WEIGHT, MISSING)                                                         \
    FL_WEIGHTED_LANE_SUMS(ELEMENT, WEIGHT, FL_HARD_REFUSED | (MISSING))

/* The weight of class k (0 or 1) of a hard target, whose class is the target itself (fl_round_label): the table's
 * entry, NaN where it has none (a class missing from a dict). A select, not fl_select_class_weight's chain. */
FL_INLINE double fl_hard_class_weight(const double* cw, ptrdiff_t n_cw, int k)
{
    return n_cw > k ? cw[k] : (double)NAN;
}

/* FL_HARD_TOTALS_LOOP for each weighting. */
#define FL_HARD_TOTALS_WEIGHTINGS(ELEMENT)                                                                    \
    do {                                                                                                      \
        if (cw != NULL) {                                                                                     \
            const double cw0 = fl_hard_class_weight(cw, n_cw, 0), cw1 = fl_hard_class_weight(cw, n_cw, 1);    \
            FL_HARD_TOTALS_LOOP(ELEMENT, y[i] != 0 ? cw1 : cw0, weight != weight);                            \
            *entries = (ptrdiff_t)sums[2];                                                                    \
        } else if (w_f32 != NULL) {                                                                           \
            FL_HARD_TOTALS_LOOP(ELEMENT, (double)w_f32[i], 0);                                                \
        } else if (w_f64 != NULL) {                                                                           \
            FL_HARD_TOTALS_LOOP(ELEMENT, w_f64[i], 0);                                                        \
        } else {                                                                                              \
            FL_UNWEIGHTED_LANE_SUMS(ELEMENT, FL_HARD_REFUSED);                                                \
        }                                                                                                     \
    } while (0)

/* Products across lanes: lane j of FL_REDUCE_LANES multiplies the factors of its elements (i ≡ j, i < n), FACTORS at
 * most, then closes them into its sums; a group of FL_REDUCE_LANES·FACTORS elements at a time, the vector steps and
 * the group's tail in element order. RESET and CLOSE are statements for lane j, STEP(I, J) one for element I in lane
 * J, AHEAD one before each vector step (a prefetch, or (void)0); `refused` (an int in scope) is OR-reduced across the
 * vector steps. */
#define FL_LANE_PRODUCTS(FACTORS, RESET, STEP, CLOSE, AHEAD)                                                  \
    do {                                                                                                      \
        const ptrdiff_t group_ = FL_REDUCE_LANES * (FACTORS);                                                 \
        for (ptrdiff_t g = 0; g < n; g += group_) {                                                           \
            const ptrdiff_t end = n - g < group_ ? n : g + group_;                                            \
            ptrdiff_t r = g;                                                                                  \
            for (int j = 0; j < FL_REDUCE_LANES; j++) { RESET; }                                              \
            for (; r + FL_REDUCE_LANES <= end; r += FL_REDUCE_LANES) {                                        \
                AHEAD;                                                                                        \
                _Pragma("omp simd reduction(|:refused)")                                                      \
                for (int j = 0; j < FL_REDUCE_LANES; j++) STEP(r + j, j);                                     \
            }                                                                                                 \
            for (int j = 0; r + j < end; j++) STEP(r + j, j);                                                 \
            _Pragma("omp simd")                                                                               \
            for (int j = 0; j < FL_REDUCE_LANES; j++) { CLOSE; }                                              \
        }                                                                                                     \
    } while (0)

/* BCE pixels without weights of their own (unweighted, or weighted by their class) take their totals from logs of
 * products, as the BCE and CCE rows above take a row's value: a class's weight multiplies every loss of its class,
 * so Σ_i w(y_i)·(-log q_i) = Σ_c w(c)·(-log Π_{y_i = c} q_i). Lane j of FL_REDUCE_LANES multiplies the factors q of
 * its pixels (i ≡ j) of each class, FL_PIXEL_PRODUCT_FACTORS at most (factors >= 2^-31, so a product >= 2^-992 stays
 * a normal double: lo and 1 - hi bound them, and scikit-learn's float64 eps takes the element loop), then adds
 * -log of each product to its class's lane sum: one double log per 32 pixels and class instead of a log a pixel.
 * float64 pixels carry each product's complement (FL_PRODUCT_COMPLEMENT_f64), float32 pixels go without it (32
 * factors near 1 keep ~1e-10). The class weights' sum and count follow from the class counts. These are not the
 * element loop's bits but its value to ~1e-10 or better; a chunk takes this loop whole or refuses whole, so the bits
 * still depend on the blocks alone. One thread, 32×512×512 with class weights: float32 4.9 -> 2.1-2.3 ms, float64
 * 7.4 -> 3.8-3.9 ms; two threads 2.6 -> 1.2 ms and 3.9 -> 2.6-2.8 ms. */
#define FL_PIXEL_PRODUCT_FACTORS 32
FL_INLINE int fl_pixel_products(double lo, double hi)
{
    return (lo >= 0x1p-31) & (1.0 - hi >= 0x1p-31);
}

/* Pixel I into lane J: q, the clipped probability of its class, joins its class's product and 1 the other's, as
 * max(1, q) = 1 (q <= hi < 1; a NaN q passes through). Written with a comparison and products by 0 or 1: with
 * "y ? 1 : q" GCC makes the multiplication conditional and leaves the loop scalar. */
#define FL_PIXEL_PRODUCT_STEP(I, J)                                                                           \
    do {                                                                                                      \
        const double pc = fl_clip((double)p[I], lo, hi);                                                      \
        const double one = y[I] != 0 ? 1.0 : 0.0, other = 1.0 - one;                                          \
        const double q = FL_BCE_HARD_FACTOR(y[I] != 0, pc), d = FL_BCE_HARD_COFACTOR(y[I] != 0, pc);          \
        refused |= fl_target_is_soft(y[I]) | fl_outside_unit_interval(p[I]);                                  \
        P0[J] *= one > q ? one : q;                                                                           \
        P1[J] *= other > q ? other : q;                                                                       \
        if (complement) {                                                                                     \
            FL_COMPLEMENT_STEP(D0[J], other * d);                                                             \
            FL_COMPLEMENT_STEP(D1[J], one * d);                                                               \
        }                                                                                                     \
        N1[J] += one;                                                                                         \
    } while (0)

#define FL_PIXEL_PRODUCT_TOTALS(TS)                                                                           \
    do {                                                                                                      \
        const int complement = FL_PRODUCT_COMPLEMENT_##TS;                                                    \
        const double cw0 = cw == NULL ? 1.0 : fl_hard_class_weight(cw, n_cw, 0);                              \
        const double cw1 = cw == NULL ? 1.0 : fl_hard_class_weight(cw, n_cw, 1);                              \
        double L0[FL_REDUCE_LANES] = {0.0}, L1[FL_REDUCE_LANES] = {0.0}, N1[FL_REDUCE_LANES] = {0.0};         \
        double P0[FL_REDUCE_LANES], D0[FL_REDUCE_LANES], P1[FL_REDUCE_LANES], D1[FL_REDUCE_LANES];            \
        FL_LANE_PRODUCTS(FL_PIXEL_PRODUCT_FACTORS, P0[j] = P1[j] = 1.0; D0[j] = D1[j] = 0.0,                  \
                         FL_PIXEL_PRODUCT_STEP,                                                               \
                         L0[j] += fl_neg_log_of_product_or(complement, P0[j], D0[j]);                         \
                         L1[j] += fl_neg_log_of_product_or(complement, P1[j], D1[j]), (void)0);               \
        const double n1 = fl_reduce_lane_sum(N1, 0.0), n0 = (double)n - n1;                                   \
        refused |= ((n0 > 0) & (cw0 != cw0)) | ((n1 > 0) & (cw1 != cw1));                                     \
        sums[0] = (n0 > 0 ? cw0 * fl_reduce_lane_sum(L0, 0.0) : 0.0)                                          \
                  + (n1 > 0 ? cw1 * fl_reduce_lane_sum(L1, 0.0) : 0.0);                                       \
        sums[1] = (n0 > 0 ? cw0 * n0 : 0.0) + (n1 > 0 ? cw1 * n1 : 0.0);                                      \
        sums[2] = (cw0 != 0 ? n0 : 0.0) + (cw1 != 0 ? n1 : 0.0);                                              \
        if (cw != NULL) *entries = (ptrdiff_t)sums[2];                                                        \
    } while (0)

/* The focal element as FL_BINARY_FOCAL_TERMS makes it: the BCE term, times the focal factor, times the balancing
 * weight where asked (balancing; x·1 would be x too, but a select keeps the general passes' operations). Written
 * out rather than through fl_binary_focal_of_bce, which reads the flag per element: that made this loop, and the
 * BCE class-weight loop beside it, ~3% slower (32×512×512, two threads, alternated). */
#define FL_FOCAL2_HARD_ELEMENT(TS)                                                                            \
    fl_focal_balanced(balancing, fl_focal_balance(y[i], alpha, prm),                                          \
                      fl_focal_power(fl_focal_hard_base(y[i], p[i]), 2.0, 2) * fl_bce_hard_##TS(y[i], p[i], lo, hi))
FL_INLINE double fl_focal_balanced(int balancing, double balance, double focal)
{
    return balancing ? balance * focal : focal;
}

#define FL_HARD_TOTALS(ISA, ATTR, T, TS)                                                                      \
    ATTR static int fl_hard_totals_##TS##_##ISA(const T* restrict y, const T* restrict p, ptrdiff_t n,        \
                                                const fl_params* prm, int focal, const float* restrict w_f32, \
                                                const double* restrict w_f64, const double* cw,               \
                                                ptrdiff_t n_cw, double* restrict sums, ptrdiff_t* entries)    \
    {                                                                                                         \
        const double lo = prm->lo, hi = prm->hi;                                                              \
        int refused = (prm->keep != 1.0) | (prm->offset != 0.0) | (focal && fl_focal_exponent(prm->gamma) != 2); \
        *entries = 0;                                                                                         \
        if (refused) return refused;                                                                          \
        if (!focal) {                                                                                         \
            if (w_f32 == NULL && w_f64 == NULL && fl_pixel_products(lo, hi))                                  \
                FL_PIXEL_PRODUCT_TOTALS(TS);                                                                  \
            else                                                                                              \
                FL_HARD_TOTALS_WEIGHTINGS(fl_bce_hard_##TS(y[i], p[i], lo, hi));                              \
        } else {                                                                                              \
            const int balancing = ((long)prm->flags & FL_FOCAL_CLASS_BALANCING) != 0;                         \
            const double alpha = fl_focal_alpha(prm, 0);                                                      \
            FL_HARD_TOTALS_WEIGHTINGS(FL_FOCAL2_HARD_ELEMENT(TS));                                            \
        }                                                                                                     \
        return refused;                                                                                       \
    }

/* Unweighted BCE-from-logits rows (every row included, weight 1), of any length: their total does not depend on where
 * the rows end, Σ_r (Σ_k l_rk) / K = (Σ_i lin_i + Σ_i log1p(e_i)) / K, and the softplus tails' sum is log1p of
 * per-lane products (FL_SOFTPLUS_PRODUCT_STEP, as a row's product takes it; 32 factors in [1, 2]: < 2^32). One
 * log1p per 32 elements instead of one a row (float64) or an element (float32, whose float-lane log1p was ~20% of
 * its loop), and no row pass: the lanes read consecutive elements. e is the exp of the input type (float lanes for
 * float32: fl_expf_nonpositive), the linear part and the products are double. Each step asks for the next chunk's
 * lines, as FL_PIECES_AHEAD does: the hardware prefetcher falls behind an exp-bound loop (float32 at 1e7, one thread,
 * in a C loop: 0.61 -> 0.47 ns an element). Rows of 8, alternated with the rows' loops: one thread at 1e5, float64
 * 1.07 -> 0.77-0.79 ns an element, float32 0.67-0.68 -> 0.50; two threads at 1e7, float64 5.6-5.7 -> 4.0-4.2 ms,
 * float32 3.45-3.53 -> 2.54-2.59 ms. Not the rows' bits but their value to ~1e-14 (float32: the float exps' ~1e-7);
 * every chunk takes it, so the bits depend on the blocks alone. */
#define FL_BCE_LOGITS_TOTAL_FACTORS 32
#define FL_BCE_LOGITS_TOTAL_STEP(EXP_OF_NEG_ABS, I, J)                                                        \
    do {                                                                                                      \
        linear[J] += fl_bce_logits_linear((double)z[I], (double)y[I] * keep + offset);                        \
        FL_SOFTPLUS_PRODUCT_STEP(Q[J], (double)EXP_OF_NEG_ABS(z[I]));                                         \
    } while (0)
#define FL_BCE_LOGITS_TOTAL_STEP_f32(I, J) FL_BCE_LOGITS_TOTAL_STEP(FL_EXP_OF_NEG_ABS_f32, I, J)
#define FL_BCE_LOGITS_TOTAL_STEP_f64(I, J) FL_BCE_LOGITS_TOTAL_STEP(FL_EXP_OF_NEG_ABS_f64, I, J)

#define FL_BCE_LOGITS_TOTALS(ISA, ATTR, T, TS)                                                                \
    ATTR static void fl_bce_logits_totals_##TS##_##ISA(const T* restrict y, const T* restrict z,              \
                                                       ptrdiff_t nr, ptrdiff_t K, const fl_params* prm,       \
                                                       double* restrict sums)                                 \
    {                                                                                                         \
        const double keep = prm->keep, offset = prm->offset;                                                  \
        const ptrdiff_t n = nr * K;                                                                           \
        double linear[FL_REDUCE_LANES] = {0.0}, tails[FL_REDUCE_LANES] = {0.0}, Q[FL_REDUCE_LANES];           \
        int refused = 0;   /* nothing to refuse: every logit and target has a loss */                         \
        FL_LANE_PRODUCTS(FL_BCE_LOGITS_TOTAL_FACTORS, Q[j] = 0.0, FL_BCE_LOGITS_TOTAL_STEP_##TS,              \
                         tails[j] += fl_log1p_small(Q[j]),                                                    \
                         FL_PREFETCH_LINES(T, y + n + r, z + n + r, FL_REDUCE_LANES));                        \
        (void)refused;                                                                                        \
        sums[0] = (fl_reduce_lane_sum(linear, 0.0) + fl_reduce_lane_sum(tails, 0.0)) / (double)K;             \
        sums[1] = sums[2] = (double)nr;                                                                       \
    }

/* The benchmarks' probes: Σ TERM(x) over x[0..n) in 16 double lanes, in each level's vectors so that no conversion
 * or add limits them. fl_stream_sum: TERM the value itself, what reading the bytes costs (_kernels.stream_sum, the
 * roofline). fl_exp_sum: exp(-|x|) with the exp of the losses' inputs of type T (float lanes for float32, as the
 * log-sum-exp terms and softplus tails take it), what the exps of an exp-bound loss cost with nothing else
 * (_kernels.exp_sum, the exp floor). */
#define FL_PROBE_SUM(ISA, ATTR, T, NAME, TERM)                                                                \
    ATTR static double NAME##_##ISA(const T* restrict x, ptrdiff_t n)                                         \
    {                                                                                                         \
        double lane[16] = {0.0}, total = 0.0;                                                                 \
        ptrdiff_t i = 0;                                                                                      \
        for (; i + 16 <= n; i += 16)                                                                          \
            for (int j = 0; j < 16; j++) lane[j] += (double)TERM(x[i + j]);                                   \
        for (; i < n; i++) total += (double)TERM(x[i]);                                                       \
        for (int j = 0; j < 16; j++) total += lane[j];                                                        \
        return total;                                                                                         \
    }
#define FL_VALUE(V) (V)
#define FL_PROBE_SUMS(ISA, ATTR, T, TS)                                                                       \
    FL_PROBE_SUM(ISA, ATTR, T, fl_stream_sum_##TS, FL_VALUE)                                                  \
    FL_PROBE_SUM(ISA, ATTR, T, fl_exp_sum_##TS, FL_EXP_OF_NEG_ABS_##TS)

#include "fl_weights.h"
#include "fl_overlap.h"
#include "fl_sparse.h"


#define FL_LEVEL(ISA, ATTR)                                                                                   \
    FL_ROW_MEANS_FUNCTION(ISA, ATTR)                                                                          \
    FL_BCE_TERMS(ISA, ATTR, float, f32, float, f32, f32)                                                      \
    FL_BCE_TERMS(ISA, ATTR, float, f32, float, f32, f64)                                                      \
    FL_BCE_TERMS(ISA, ATTR, double, f64, double, f64, f64)                                                    \
    FL_BCE_TERMS(ISA, ATTR, float, f32, double, f64, f64)                                                     \
    FL_BINARY_FOCAL_TERMS(ISA, ATTR, float, f32, float, f32, f32)                                             \
    FL_BINARY_FOCAL_TERMS(ISA, ATTR, double, f64, double, f64, f64)                                           \
    FL_BINARY_FOCAL_TERMS(ISA, ATTR, float, f32, double, f64, f64)                                            \
    FL_BINARY_FOCAL_ROWS(ISA, ATTR, float, f32)                                                               \
    FL_BINARY_FOCAL_ROWS(ISA, ATTR, double, f64)                                                              \
    FL_ROW_FUNCTIONS(ISA, ATTR, float, f32)                                                                   \
    FL_ROW_FUNCTIONS(ISA, ATTR, double, f64)                                                                  \
    FL_CCE_ROWS(ISA, ATTR, float, f32)                                                                        \
    FL_CCE_ROWS(ISA, ATTR, double, f64)                                                                       \
    FL_CATEGORICAL_FOCAL_TERMS(ISA, ATTR, float, f32)                                                         \
    FL_CATEGORICAL_FOCAL_TERMS(ISA, ATTR, double, f64)                                                        \
    FL_REDUCE_ROWS(ISA, ATTR)                                                                                 \
    FL_HARD_TOTALS(ISA, ATTR, float, f32)                                                                     \
    FL_HARD_TOTALS(ISA, ATTR, double, f64)                                                                    \
    FL_BCE_LOGITS_TOTALS(ISA, ATTR, float, f32)                                                               \
    FL_BCE_LOGITS_TOTALS(ISA, ATTR, double, f64)                                                              \
    FL_PROBE_SUMS(ISA, ATTR, float, f32)                                                                      \
    FL_PROBE_SUMS(ISA, ATTR, double, f64)                                                                     \
    FL_CHUNK_WEIGHTS(ISA, ATTR, float, f32)                                                                   \
    FL_CHUNK_WEIGHTS(ISA, ATTR, double, f64)                                                                  \
    FL_COUNT_NONZERO(ISA, ATTR, float, f32)                                                                   \
    FL_COUNT_NONZERO(ISA, ATTR, double, f64)                                                                  \
    FL_OVERLAP_LEVEL(ISA, ATTR)                                                                               \
    FL_SPARSE_CHUNKS(ISA, ATTR)                                                                               \
    static const fl_vtable fl_vtable_##ISA = {                                                                \
        .bce_probabilities_f32 = fl_rows_bce_probabilities_f32_##ISA,                                         \
        .bce_probabilities_f64 = fl_rows_bce_probabilities_f64_##ISA,                                         \
        FL_ELEMENTWISE(FL_TABLE_ENTRIES, ISA, _)                                                              \
        .binary_focal_probabilities_f32 = fl_rows_binary_focal_probabilities_f32_##ISA,                       \
        .binary_focal_probabilities_f64 = fl_rows_binary_focal_probabilities_f64_##ISA,                       \
        .binary_focal_logits_f32 = fl_rows_binary_focal_logits_f32_##ISA,                                     \
        .binary_focal_logits_f64 = fl_rows_binary_focal_logits_f64_##ISA,                                     \
        .log_sum_exp_f32 = fl_log_sum_exp_f32_##ISA,                                                          \
        .log_sum_exp_f64 = fl_log_sum_exp_f64_##ISA,                                                          \
        .rows_log_sum_exp_f32 = fl_rows_log_sum_exp_f32_##ISA,                                                \
        .rows_log_sum_exp_f64 = fl_rows_log_sum_exp_f64_##ISA,                                                \
        .rows_probability_sum_f32 = fl_rows_probability_sum_f32_##ISA,                                        \
        .rows_probability_sum_f64 = fl_rows_probability_sum_f64_##ISA,                                        \
        .rows_cce_logits_f32 = fl_rows_cce_logits_f32_##ISA,                                                  \
        .rows_cce_logits_f64 = fl_rows_cce_logits_f64_##ISA,                                                  \
        .rows_cce_probabilities_f32 = fl_rows_cce_probabilities_f32_##ISA,                                    \
        .rows_cce_probabilities_f64 = fl_rows_cce_probabilities_f64_##ISA,                                    \
        .cce_logits_f32 = fl_row_cce_logits_f32_##ISA,                                                        \
        .cce_probabilities_f32 = fl_row_cce_probabilities_f32_##ISA,                                          \
        .cce_logits_f64 = fl_row_cce_logits_f64_##ISA,                                                        \
        .cce_probabilities_f64 = fl_row_cce_probabilities_f64_##ISA,                                          \
        .rows_categorical_focal_probabilities_f32 = fl_rows_categorical_focal_probabilities_f32_##ISA,        \
        .rows_categorical_focal_probabilities_f64 = fl_rows_categorical_focal_probabilities_f64_##ISA,        \
        .rows_categorical_focal_logits_f32 = fl_rows_categorical_focal_logits_f32_##ISA,                      \
        .rows_categorical_focal_logits_f64 = fl_rows_categorical_focal_logits_f64_##ISA,                      \
        .categorical_focal_probabilities_f32 = fl_row_categorical_focal_probabilities_f32_##ISA,              \
        .categorical_focal_probabilities_f64 = fl_row_categorical_focal_probabilities_f64_##ISA,              \
        .categorical_focal_logits_f32 = fl_row_categorical_focal_logits_f32_##ISA,                            \
        .categorical_focal_logits_f64 = fl_row_categorical_focal_logits_f64_##ISA,                            \
        .reduce_rows = fl_reduce_rows_##ISA,                                                                  \
        .reduce_rows_f32w = fl_reduce_rows_f32w_##ISA,                                                        \
        .hard_totals_f32 = fl_hard_totals_f32_##ISA,                                                          \
        .hard_totals_f64 = fl_hard_totals_f64_##ISA,                                                          \
        .bce_logits_totals_f32 = fl_bce_logits_totals_f32_##ISA,                                              \
        .bce_logits_totals_f64 = fl_bce_logits_totals_f64_##ISA,                                              \
        .stream_sum_f32 = fl_stream_sum_f32_##ISA,                                                            \
        .stream_sum_f64 = fl_stream_sum_f64_##ISA,                                                            \
        .exp_sum_f32 = fl_exp_sum_f32_##ISA,                                                                  \
        .exp_sum_f64 = fl_exp_sum_f64_##ISA,                                                                  \
        .chunk_weights_f32 = fl_chunk_weights_f32_##ISA,                                                      \
        .chunk_weights_f64 = fl_chunk_weights_f64_##ISA,                                                      \
        .count_nonzero_f32 = fl_count_nonzero_f32_##ISA,                                                      \
        .count_nonzero_f64 = fl_count_nonzero_f64_##ISA,                                                      \
        FL_OVERLAP_ENTRIES(ISA)                                                                               \
        FL_SPARSE_TABLE_ENTRIES(ISA)                                                                          \
    };

FL_LEVEL(baseline, )

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FL_MULTI_ISA 1
FL_LEVEL(x86_64_v3, __attribute__((target("arch=x86-64-v3"))))
FL_LEVEL(x86_64_v4, __attribute__((target("arch=x86-64-v4"))))
#else
#define FL_MULTI_ISA 0
#endif

/* ---------------------------------------------------------------------------------------------------------
 * Dispatch: chosen once at import (fl_select_isa), read by every call.
 * ------------------------------------------------------------------------------------------------------- */

static fl_vtable fl_vt = {0};
static const char* fl_isa_name = "unset";

/* requested: NULL or "" = the best this CPU supports; "baseline", "x86-64-v3", "x86-64-v4" = that level,
 * if the CPU supports it. Returns the name of the level in use, or NULL if the request cannot be honoured. */
static const char* fl_select_isa(const char* requested)
{
    int want_auto = requested == NULL || requested[0] == '\0';
#if FL_MULTI_ISA
    __builtin_cpu_init();
    int has_v4 = __builtin_cpu_supports("x86-64-v4");
    int has_v3 = __builtin_cpu_supports("x86-64-v3");
    if ((want_auto && has_v4) || (!want_auto && strcmp(requested, "x86-64-v4") == 0)) {
        if (!has_v4) return NULL;
        fl_vt = fl_vtable_x86_64_v4;
        return fl_isa_name = "x86-64-v4";
    }
    if ((want_auto && has_v3) || (!want_auto && strcmp(requested, "x86-64-v3") == 0)) {
        if (!has_v3) return NULL;
        fl_vt = fl_vtable_x86_64_v3;
        return fl_isa_name = "x86-64-v3";
    }
#endif
    if (!want_auto && strcmp(requested, "baseline") != 0) return NULL;
    fl_vt = fl_vtable_baseline;
    return fl_isa_name = "baseline";
}

#endif

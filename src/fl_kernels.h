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

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fl_vmath.h"

/* Elements per vector chunk: the per-element buffer (16 KiB of doubles) stays in L1. */
#define FL_CHUNK 2048
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

/* The losses whose row value is the mean over the row of an element loss fl_<name>_element(y, p, prm).
 * X(ISA, ATTR, NAME) is expanded for each name: table fields, loop bodies, table entries. _kernels.pyx.tp lists
 * the same names (its KERNELS table). */
#define FL_ELEMENTWISE(X, ISA, ATTR)                                                                           \
    X(ISA, ATTR, bce_logits) X(ISA, ATTR, squared_error) X(ISA, ATTR, absolute_error)                         \
    X(ISA, ATTR, absolute_percentage_error) X(ISA, ATTR, squared_logarithmic_error) X(ISA, ATTR, huber)       \
    X(ISA, ATTR, log_cosh) X(ISA, ATTR, poisson) X(ISA, ATTR, hinge) X(ISA, ATTR, squared_hinge)

#define FL_TABLE_FIELDS(ISA, ATTR, NAME) fl_rows_f32_fn NAME##_f32; fl_rows_f64_fn NAME##_f64;
#define FL_TABLE_ENTRIES(ISA, ATTR, NAME) .NAME##_f32 = fl_rows_##NAME##_f32_##ISA, .NAME##_f64 = fl_rows_##NAME##_f64_##ISA,

struct fl_sparse_rows;  /* the sparse section below */

typedef struct {
    fl_rows_f32_fn bce_probabilities_f32;
    fl_rows_f64_fn bce_probabilities_f64;
    FL_ELEMENTWISE(FL_TABLE_FIELDS, _, _)
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
    void (*reduce_rows)(const double*, ptrdiff_t, const double*, double*);
    /* Sparse crossentropy chunks (the sparse section below). */
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

FL_INLINE double fl_bce_probabilities_element(double y, double p, const fl_params* prm)
{
    double ys = y * prm->keep + prm->offset;
    double pc = fl_clip(p, prm->lo, prm->hi);
    return -(ys * fl_log(pc) + (1.0 - ys) * fl_log(1.0 - pc));
}

FL_INLINE double fl_bce_logits_element(double y, double z, const fl_params* prm)
{
    /* -[y log σ(z) + (1-y) log(1-σ(z))] = max(z, 0) - z·y + log1p(exp(-|z|)): exp never overflows, and the
     * log1p form keeps full precision when exp(-|z|) is tiny. */
    double ys = y * prm->keep + prm->offset;
    return (z > 0.0 ? z : 0.0) - z * ys + fl_softplus_neg_abs(z);
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

/* ---------------------------------------------------------------------------------------------------------
 * The bodies, instantiated per ISA level and input type.
 * ------------------------------------------------------------------------------------------------------- */

/* rows[r] = mean of the K element losses of row r: vectorised across rows, each row summed in k order, so the
 * additions are those of the scalar row loop. */
#define FL_ROW_MEANS(BUF, NR, K, ROWS)                                                                         \
    do {                                                                                                      \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t fl_r_ = 0; fl_r_ < (NR); fl_r_++) {                                                    \
            double fl_s_ = 0.0;                                                                               \
            for (ptrdiff_t fl_k_ = 0; fl_k_ < (K); fl_k_++) fl_s_ += (BUF)[fl_r_ * (K) + fl_k_];              \
            (ROWS)[fl_r_] = fl_s_ / (double)(K);                                                              \
        }                                                                                                     \
    } while (0)

#define FL_ROWS_LOOP(ISA, ATTR, T, TS, NAME)                                                   \
    ATTR static int fl_rows_##NAME##_##TS##_##ISA(const T* restrict y, const T* restrict p, ptrdiff_t nr,     \
                                                  ptrdiff_t K, const fl_params* prm_in, double* restrict rows)\
    {                                                                                                         \
        const fl_params prm_local = *prm_in; /* a local copy: stores to rows cannot alias it */               \
        const fl_params* const prm = &prm_local;                                                              \
        double buf[FL_CHUNK];                                                                                 \
        const ptrdiff_t n = nr * K;                                                                           \
        double* restrict dst = (K == 1) ? rows : buf;                                                        \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = fl_##NAME##_element(y[i], p[i], prm);                      \
        if (K != 1) FL_ROW_MEANS(buf, nr, K, rows);                                                           \
        return 0;                                                                                             \
    }

#define FL_LOOP_f32(ISA, ATTR, NAME) FL_ROWS_LOOP(ISA, ATTR, float, f32, NAME)
#define FL_LOOP_f64(ISA, ATTR, NAME) FL_ROWS_LOOP(ISA, ATTR, double, f64, NAME)

#define FL_LANE_SUM(ACC, TAIL)                                                                                \
    (((ACC[0] + ACC[1]) + (ACC[2] + ACC[3])) + ((ACC[4] + ACC[5]) + (ACC[6] + ACC[7]))) + TAIL

/* RESULT = Σ_k TERM over k in [0, K), in the fixed lane order: TERM (an expression of k) is evaluated by a plain
 * SIMD loop into an L1 buffer, chunk by chunk, and lane j adds the terms with k ≡ j (mod FL_LANES) in order.
 * FL_CHUNK is a multiple of FL_LANES, so the grouping does not depend on the chunking either. */
#define FL_SUM_TERMS(RESULT, K, TERM)                                                                          \
    do {                                                                                                      \
        double fl_buf_[FL_CHUNK], fl_acc_[FL_LANES] = {0.0}, fl_tail_ = 0.0;                                  \
        for (ptrdiff_t fl_k0_ = 0; fl_k0_ < (K); fl_k0_ += FL_CHUNK) {                                        \
            const ptrdiff_t fl_n_ = ((K) - fl_k0_ < FL_CHUNK) ? (K) - fl_k0_ : FL_CHUNK;                      \
            const ptrdiff_t fl_n8_ = fl_n_ - fl_n_ % FL_LANES;                                                \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t fl_i_ = 0; fl_i_ < fl_n_; fl_i_++) {                                               \
                const ptrdiff_t k = fl_k0_ + fl_i_;                                                           \
                fl_buf_[fl_i_] = (TERM);                                                                      \
            }                                                                                                 \
            for (ptrdiff_t fl_i_ = 0; fl_i_ < fl_n8_; fl_i_ += FL_LANES)                                     \
                for (int fl_j_ = 0; fl_j_ < FL_LANES; fl_j_++) fl_acc_[fl_j_] += fl_buf_[fl_i_ + fl_j_];      \
            for (ptrdiff_t fl_i_ = fl_n8_; fl_i_ < fl_n_; fl_i_++) fl_tail_ += fl_buf_[fl_i_];                \
        }                                                                                                     \
        RESULT = FL_LANE_SUM(fl_acc_, fl_tail_);                                                              \
    } while (0)

/* Σ buf[0..n) in FL_SUM_TERMS's order for n <= FL_CHUNK (one chunk): the same bits as FL_SUM_TERMS over those
 * terms, so a row summed here equals the row summed by the per-row functions. */
FL_INLINE double fl_lane_sum(const double* restrict buf, ptrdiff_t n)
{
    double acc[FL_LANES] = {0.0}, tail = 0.0;
    const ptrdiff_t n8 = n - n % FL_LANES;
    for (ptrdiff_t i = 0; i < n8; i += FL_LANES)
        for (int j = 0; j < FL_LANES; j++) acc[j] += buf[i + j];
    for (ptrdiff_t i = n8; i < n; i++) tail += buf[i];
    return FL_LANE_SUM(acc, tail);
}

/* BCE on probabilities. With targets exactly 0 or 1 and no label smoothing, -(y·log p + (1-y)·log(1-p)) is
 * exactly -log(p) or -log(1-p): the other product is 0 times a finite negative log (p is clipped inside
 * (0, 1)), i.e. -0, and x + (-0) = x. So a chunk of hard targets takes one log per element instead of two and
 * gives the same bits. */
#define FL_BCE_PROBABILITIES_ROWS(ISA, ATTR, T, TS)                                                            \
    ATTR static int fl_rows_bce_probabilities_##TS##_##ISA(const T* restrict y, const T* restrict p,          \
                                                           ptrdiff_t nr, ptrdiff_t K, const fl_params* prm_in,\
                                                           double* restrict rows)                             \
    {                                                                                                         \
        const fl_params prm_local = *prm_in;                                                                  \
        const fl_params* const prm = &prm_local;                                                              \
        const double lo = prm_local.lo, hi = prm_local.hi;                                                    \
        double buf[FL_CHUNK];                                                                                 \
        const ptrdiff_t n = nr * K;                                                                           \
        double* restrict dst = (K == 1) ? rows : buf;                                                        \
        int bad = 0, soft = (prm_local.keep != 1.0) | (prm_local.offset != 0.0);                              \
        if (!soft) {                                                                                          \
            _Pragma("omp simd reduction(|:soft)")                                                             \
            for (ptrdiff_t i = 0; i < n; i++) soft |= ((double)y[i] != 0.0) & ((double)y[i] != 1.0);          \
        }                                                                                                     \
        if (soft) {                                                                                           \
            _Pragma("omp simd reduction(|:bad)")                                                              \
            for (ptrdiff_t i = 0; i < n; i++) {                                                               \
                double pk = p[i];                                                                             \
                bad |= (pk < 0.0) | (pk > 1.0);                                                               \
                dst[i] = fl_bce_probabilities_element(y[i], pk, prm);                                           \
            }                                                                                                 \
        } else {                                                                                              \
            _Pragma("omp simd reduction(|:bad)")                                                              \
            for (ptrdiff_t i = 0; i < n; i++) {                                                               \
                double pk = p[i];                                                                             \
                bad |= (pk < 0.0) | (pk > 1.0);                                                               \
                double pc = fl_clip(pk, lo, hi);                                                              \
                dst[i] = -fl_log((double)y[i] != 0.0 ? pc : 1.0 - pc);                                        \
            }                                                                                                 \
        }                                                                                                     \
        if (K != 1) FL_ROW_MEANS(buf, nr, K, rows);                                                           \
        return bad;                                                                                           \
    }

#define FL_ROW_FUNCTIONS(ISA, ATTR, T, TS)                                                                     \
    FL_BCE_PROBABILITIES_ROWS(ISA, ATTR, T, TS)                                                               \
    FL_ELEMENTWISE(FL_LOOP_##TS, ISA, ATTR)                                                                   \
                                                                                                              \
    ATTR static double fl_row_max_##TS##_##ISA(const T* restrict z, ptrdiff_t K)                              \
    {                                                                                                         \
        /* The maximum is exact, so the lanes may take the elements in any grouping. */                       \
        double mx[FL_LANES];                                                                                  \
        double m = z[0];                                                                                      \
        ptrdiff_t k = 0;                                                                                      \
        for (int j = 0; j < FL_LANES; j++) mx[j] = m;                                                         \
        for (; k + FL_LANES <= K; k += FL_LANES) {                                                            \
            for (int j = 0; j < FL_LANES; j++) {                                                              \
                double v = z[k + j];                                                                          \
                mx[j] = v > mx[j] ? v : mx[j];                                                                \
            }                                                                                                 \
        }                                                                                                     \
        for (; k < K; k++) m = (double)z[k] > m ? (double)z[k] : m;                                           \
        for (int j = 0; j < FL_LANES; j++) m = mx[j] > m ? mx[j] : m;                                         \
        return m;                                                                                             \
    }                                                                                                         \
                                                                                                              \
    ATTR static double fl_log_sum_exp_##TS##_##ISA(const T* restrict z, ptrdiff_t K)                          \
    {                                                                                                         \
        /* Shift by the maximum so exp never overflows; the largest term is 1, so the sum is >= 1. */         \
        const double m = fl_row_max_##TS##_##ISA(z, K);                                                       \
        double total;                                                                                         \
        FL_SUM_TERMS(total, K, fl_exp((double)z[k] - m));                                                     \
        return m + fl_log(total);                                                                             \
    }                                                                                                         \
                                                                                                              \
    /* log-sum-exp of nr rows of K logits (nr·K <= FL_CHUNK): the exps of the whole chunk in one SIMD loop instead  \
     * of one short loop per row. Each row gets the bits of fl_log_sum_exp (same maximum, same terms, same sums). */ \
    ATTR static int fl_rows_log_sum_exp_##TS##_##ISA(const T* restrict z, ptrdiff_t nr, ptrdiff_t K,           \
                                                      double* restrict rows)                                 \
    {                                                                                                         \
        double terms[FL_CHUNK], shift[FL_CHUNK];                                                              \
        const ptrdiff_t n = nr * K;                                                                           \
        /* Row maxima, vectorised across rows. The maximum is exact, so it is fl_row_max's value (a NaN in the    \
         * row makes the log-sum-exp NaN either way; of -0 and +0 either gives the same bits below). */          \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++) {                                                                  \
            double m = z[r * K];                                                                              \
            for (ptrdiff_t k = 1; k < K; k++) {                                                               \
                const double v = z[r * K + k];                                                                \
                m = v > m ? v : m;                                                                            \
            }                                                                                                 \
            rows[r] = m;                                                                                      \
        }                                                                                                     \
        for (ptrdiff_t r = 0; r < nr; r++)                                                                    \
            for (ptrdiff_t k = 0; k < K; k++) shift[r * K + k] = rows[r];                                     \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) terms[i] = fl_exp((double)z[i] - shift[i]);                         \
        for (ptrdiff_t r = 0; r < nr; r++) shift[r] = fl_lane_sum(terms + r * K, K);                          \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++) rows[r] = rows[r] + fl_log(shift[r]);                              \
        return 0;                                                                                             \
    }                                                                                                         \
                                                                                                              \
    /* Σ_k p of nr rows (nr·K <= FL_CHUNK), each summed in k order like _row_scce_probabilities, vectorised     \
     * across rows; non-zero if a probability of the chunk lies outside [0, 1]. Float rows are widened into an   \
     * L1 buffer first: strided loads of doubles from there cost less than converting strided floats. */        \
    ATTR static int fl_rows_probability_sum_##TS##_##ISA(const T* restrict p, ptrdiff_t nr, ptrdiff_t K,       \
                                                         double* restrict rows)                               \
    {                                                                                                         \
        const ptrdiff_t n = nr * K;                                                                           \
        const int widen = sizeof(T) < sizeof(double);                                                         \
        double wide[FL_CHUNK];                                                                                \
        int bad = 0;                                                                                          \
        _Pragma("omp simd reduction(|:bad)")                                                                  \
        for (ptrdiff_t i = 0; i < n; i++) {                                                                   \
            const double v = p[i];                                                                            \
            bad |= (v < 0.0) | (v > 1.0);                                                                     \
            if (widen) wide[i] = v;                                                                           \
        }                                                                                                     \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t r = 0; r < nr; r++) {                                                                  \
            double total = 0.0;                                                                               \
            for (ptrdiff_t k = 0; k < K; k++) total += widen ? wide[r * K + k] : (double)p[r * K + k];        \
            rows[r] = total;                                                                                  \
        }                                                                                                     \
        return bad;                                                                                           \
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
        for (ptrdiff_t k = 0; k < K; k++) out_of_range |= ((double)p[k] < 0.0) | ((double)p[k] > 1.0);        \
        *bad = out_of_range;                                                                                  \
        FL_SUM_TERMS(total, K, (double)p[k]);                                                                 \
        FL_SUM_TERMS(loss, K, -(((double)y[k] * prm.keep + prm.offset)                                        \
                               * fl_log(fl_clip((double)p[k] / total, prm.lo, prm.hi))));                     \
        return loss;                                                                                          \
    }

/* Chunks of short rows for the categorical crossentropies (nr·K <= FL_CHUNK): each loop runs over the whole chunk,
 * and every row gets the bits of the per-row function (same terms, summed by fl_lane_sum in FL_SUM_TERMS order). */
#define FL_CCE_ROWS(ISA, ATTR, T, TS)                                                                          \
    ATTR static int fl_rows_cce_logits_##TS##_##ISA(const T* restrict y, const T* restrict z, ptrdiff_t nr,  \
                                                    ptrdiff_t K, const fl_params* prm_in, double* restrict rows)\
    {                                                                                                         \
        const fl_params prm = *prm_in;                                                                        \
        double terms[FL_CHUNK], lse[FL_CHUNK];                                                                \
        const ptrdiff_t n = nr * K;                                                                           \
        fl_rows_log_sum_exp_##TS##_##ISA(z, nr, K, rows);                                                     \
        for (ptrdiff_t r = 0; r < nr; r++)                                                                    \
            for (ptrdiff_t k = 0; k < K; k++) lse[r * K + k] = rows[r];                                       \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) terms[i] = ((double)y[i] * prm.keep + prm.offset) * (lse[i] - (double)z[i]);\
        for (ptrdiff_t r = 0; r < nr; r++) rows[r] = fl_lane_sum(terms + r * K, K);                           \
        return 0;                                                                                             \
    }                                                                                                         \
                                                                                                              \
    ATTR static int fl_rows_cce_probabilities_##TS##_##ISA(const T* restrict y, const T* restrict p,         \
                                                           ptrdiff_t nr, ptrdiff_t K, const fl_params* prm_in,\
                                                           double* restrict rows)                             \
    {                                                                                                         \
        const fl_params prm = *prm_in;                                                                        \
        double terms[FL_CHUNK], total[FL_CHUNK];                                                              \
        const ptrdiff_t n = nr * K;                                                                           \
        int bad = 0;                                                                                          \
        _Pragma("omp simd reduction(|:bad)")                                                                  \
        for (ptrdiff_t i = 0; i < n; i++) {                                                                   \
            terms[i] = (double)p[i];                                                                          \
            bad |= (terms[i] < 0.0) | (terms[i] > 1.0);                                                       \
        }                                                                                                     \
        for (ptrdiff_t r = 0; r < nr; r++) {                                                                  \
            const double t = fl_lane_sum(terms + r * K, K);                                                   \
            for (ptrdiff_t k = 0; k < K; k++) total[r * K + k] = t;                                           \
        }                                                                                                     \
        _Pragma("omp simd")                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++)                                                                     \
            terms[i] = -(((double)y[i] * prm.keep + prm.offset)                                               \
                         * fl_log(fl_clip((double)p[i] / total[i], prm.lo, prm.hi)));                         \
        for (ptrdiff_t r = 0; r < nr; r++) rows[r] = fl_lane_sum(terms + r * K, K);                           \
        return bad;                                                                                           \
    }

/* Totals of nr included rows with per-row weights w (or weight 1 when w is NULL): sums[0] = Σ w·l,
 * sums[1] = Σ w, sums[2] = #(w != 0). The lanes make the order of additions the same at every ISA level. */
#define FL_REDUCE_ROWS(ISA, ATTR)                                                                              \
    ATTR static void fl_reduce_rows_##ISA(const double* restrict rows, ptrdiff_t nr, const double* restrict w, \
                                          double* restrict sums)                                              \
    {                                                                                                         \
        double s[FL_LANES] = {0.0}, ws[FL_LANES] = {0.0}, nz[FL_LANES] = {0.0};                               \
        double s_tail = 0.0, w_tail = 0.0, nz_tail = 0.0;                                                     \
        ptrdiff_t r = 0;                                                                                      \
        if (w == NULL) {                                                                                      \
            for (; r + FL_LANES <= nr; r += FL_LANES) {                                                       \
                _Pragma("omp simd")                                                                           \
                for (int j = 0; j < FL_LANES; j++) s[j] += rows[r + j];                                       \
            }                                                                                                 \
            for (; r < nr; r++) s_tail += rows[r];                                                            \
            sums[0] = FL_LANE_SUM(s, s_tail);                                                                 \
            sums[1] = sums[2] = (double)nr;                                                                   \
            return;                                                                                           \
        }                                                                                                     \
        for (; r + FL_LANES <= nr; r += FL_LANES) {                                                           \
            _Pragma("omp simd")                                                                               \
            for (int j = 0; j < FL_LANES; j++) {                                                              \
                double wj = w[r + j];                                                                         \
                s[j] += wj * rows[r + j];                                                                     \
                ws[j] += wj;                                                                                  \
                nz[j] += (wj != 0.0) ? 1.0 : 0.0;                                                             \
            }                                                                                                 \
        }                                                                                                     \
        for (; r < nr; r++) {                                                                                 \
            s_tail += w[r] * rows[r];                                                                         \
            w_tail += w[r];                                                                                   \
            nz_tail += (w[r] != 0.0) ? 1.0 : 0.0;                                                             \
        }                                                                                                     \
        sums[0] = FL_LANE_SUM(s, s_tail);                                                                     \
        sums[1] = FL_LANE_SUM(ws, w_tail);                                                                    \
        sums[2] = FL_LANE_SUM(nz, nz_tail);                                                                   \
    }

/* =========================================================================================================
 * Sparse categorical crossentropy: whole chunks of short rows (the sparse block loop of _kernels.pyx.tp).
 *
 * One call finishes rows [r0, r0 + nr) (nr <= FL_SPARSE_ROWS, nr·K <= FL_CHUNK): the label-free part of each row
 * (log-sum-exp or Σp, by the rows_* loop above), then the labels, the weights and the row losses, and the chunk's
 * totals by fl_reduce_rows. An excluded row (mask 0 or label == ignore_class) gets loss 0 and weight 0, so that
 * nothing read from it can reach the sums; its label still counts towards E0 when readable (Keras 2.2 counts the
 * effective weights before masking: _nonzero_entry in _kernels.pyx.tp). The call returns non-zero when the chunk
 * may hold something to report (an included row whose label is unreadable or has no class weight, or a
 * probability outside [0, 1] in any row): the caller then walks the chunk row by row to find the first such
 * included row, and keeps these totals when there is none. Either way the totals come from here, so garbage in
 * an excluded row changes no bit of them.
 *
 * Each step is its own loop over the chunk, with per-row values in double (flags as 0.0 / 1.0) and int32
 * offsets: GCC 12 leaves a loop scalar when it mixes byte and double lanes, gathers floats through 64-bit
 * indices, reduces an int beside doubles, or turns an int -> float round trip into control flow.
 * ========================================================================================================= */

/* Rows per call at most: the per-row buffers of a call (16 KiB) stay in L1. */
#define FL_SPARSE_ROWS 256

enum { FL_LABEL_I32 = 0, FL_LABEL_I64 = 1, FL_LABEL_F32 = 2, FL_LABEL_F64 = 3 };

struct fl_sparse_rows {
    const void* labels;              /* one label per row, of type label_type (FL_LABEL_*) */
    int label_type;
    int has_ignore;                  /* rows whose label equals `ignore` (compared as C compares the types) */
    int64_t ignore;
    const double* sample_weight;     /* NULL: weight 1; row r reads entry r / sw_inner */
    ptrdiff_t sw_inner;
    const double* class_weight;      /* NULL: none; a NaN entry marks a class missing from a dict */
    ptrdiff_t n_class_weights;
    const unsigned char* mask;       /* NULL: every row included; row r reads entry r / mask_inner */
    ptrdiff_t mask_inner;
    double lo, hi;                   /* probability clip bounds (probabilities only) */
};

/* The row losses given the label-free part of the row; _kernels.pyx.tp's scalar rows call the same functions. */
FL_INLINE double fl_scce_logits_loss(double lse, double z_label, double lo, double hi)
{
    (void)lo, (void)hi;
    return lse - z_label;
}

FL_INLINE double fl_scce_probabilities_loss(double total, double p_label, double lo, double hi)
{
    return -fl_log(fl_clip(p_label / total, lo, hi));
}

/* dst[i] = VALUE(src[(r0 + i) / inner]) for i < nr: runs of equal entries, no division per row. */
#define FL_BROADCAST_ROWS(NAME, T, VALUE)                                                                     \
    FL_INLINE void NAME(const T* restrict src, ptrdiff_t inner, ptrdiff_t r0, ptrdiff_t nr, double* restrict dst)\
    {                                                                                                         \
        if (inner == 1) {                                                                                     \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t i = 0; i < nr; i++) dst[i] = VALUE(src[r0 + i]);                                   \
            return;                                                                                           \
        }                                                                                                     \
        ptrdiff_t entry = r0 / inner, run = inner - r0 % inner;                                               \
        for (ptrdiff_t i = 0; i < nr; entry++, run = inner) {                                                 \
            const double v = VALUE(src[entry]);                                                               \
            const ptrdiff_t end = (i + run < nr) ? i + run : nr;                                              \
            for (; i < end; i++) dst[i] = v;                                                                  \
        }                                                                                                     \
    }
#define FL_AS_WEIGHT(x) (x)
#define FL_AS_INCLUDED(x) ((x) != 0 ? 1.0 : 0.0)
FL_BROADCAST_ROWS(fl_sparse_weights_of_rows, double, FL_AS_WEIGHT)
FL_BROADCAST_ROWS(fl_sparse_mask_of_rows, unsigned char, FL_AS_INCLUDED)

/* The labels of the chunk: cls[i] = row i's class (0 when unreadable, so that it still indexes safely),
 * at[i] = i·K + cls[i] (its element in the chunk), readable[i] = 1.0 when the label is a class of y_pred (in
 * [0, K) and integral: _sparse_label's rule), and included[i] (the mask on entry) = 0.0 where the label equals
 * ignore_class. CMP_T is the type C compares `label == ignore` in (_kernels.pyx.tp compares them as C does: in
 * the float type for float labels, in int64 for integers); TRUNC rounds towards zero (the identity for integers).
 * A label out of range becomes 0 before the conversion to int (undefined for NaN or a huge value). */
#define FL_READ_LABELS(LT, CMP_T, TRUNC)                                                                      \
    do {                                                                                                      \
        const LT* restrict lab_ = (const LT*)c->labels + r0;                                                  \
        const LT k_ = (LT)K;                                                                                  \
        const CMP_T ignore_ = (CMP_T)c->ignore;                                                               \
        const int has_ignore_ = c->has_ignore != 0;                                                           \
        _Pragma("omp simd")                                                                                   \
        for (int32_t i = 0; i < n; i++) {                                                                     \
            const LT v = lab_[i];                                                                             \
            const int in_range = (v >= 0) & (v < k_); /* false for NaN */                                     \
            const LT v_safe = in_range ? v : 0;                                                               \
            const LT whole = TRUNC(v_safe);                                                                   \
            const int ok = in_range & (whole == v_safe);                                                      \
            const int32_t class_ = ok ? (int32_t)whole : 0;                                                   \
            cls[i] = class_;                                                                                  \
            at[i] = i * k + class_;                                                                           \
            readable[i] = ok ? 1.0 : 0.0;                                                                     \
            included[i] = (has_ignore_ & ((CMP_T)v == ignore_)) ? 0.0 : included[i];                         \
        }                                                                                                     \
    } while (0)
#define FL_TRUNC_INTEGER(v) (v)

/* sums: [Σ w·l, Σ w, #(w != 0), #included, E0 (with class weights)] of the chunk; out (or NULL): w·l per row. */
#define FL_SPARSE_CHUNK(ISA, ATTR, T, TS, PART, LOSS)                                                         \
    ATTR static int fl_sparse_##PART##_##TS##_##ISA(const struct fl_sparse_rows* restrict c,                  \
                                                    const T* restrict y, ptrdiff_t r0, ptrdiff_t nr,           \
                                                    ptrdiff_t K, T* restrict out, double* restrict sums)       \
    {                                                                                                         \
        double rows[FL_SPARSE_ROWS], picked[FL_SPARSE_ROWS], loss[FL_SPARSE_ROWS], weight[FL_SPARSE_ROWS];     \
        double included[FL_SPARSE_ROWS], readable[FL_SPARSE_ROWS], reduced[3];                                \
        int32_t cls[FL_SPARSE_ROWS], at[FL_SPARSE_ROWS];                                                      \
        const T* restrict yc = y + r0 * K;                                                                    \
        const int32_t n = (int32_t)nr, k = (int32_t)K;                                                        \
        const double lo = c->lo, hi = c->hi;                                                                  \
        double count = 0.0, entries = 0.0, problems = 0.0;                                                    \
        int report = fl_rows_##PART##_##TS##_##ISA(yc, nr, K, rows);                                          \
        if (c->mask != NULL) {                                                                                \
            fl_sparse_mask_of_rows(c->mask, c->mask_inner, r0, nr, included);                                 \
        } else {                                                                                              \
            for (int32_t i = 0; i < n; i++) included[i] = 1.0;                                                \
        }                                                                                                     \
        if (c->sample_weight != NULL) {                                                                       \
            fl_sparse_weights_of_rows(c->sample_weight, c->sw_inner, r0, nr, weight);                         \
        } else {                                                                                              \
            for (int32_t i = 0; i < n; i++) weight[i] = 1.0;                                                  \
        }                                                                                                     \
        switch (c->label_type) {                                                                              \
        case FL_LABEL_I32: FL_READ_LABELS(int32_t, int64_t, FL_TRUNC_INTEGER); break;                         \
        case FL_LABEL_I64: FL_READ_LABELS(int64_t, int64_t, FL_TRUNC_INTEGER); break;                         \
        case FL_LABEL_F32: FL_READ_LABELS(float, float, __builtin_truncf); break;                             \
        default: FL_READ_LABELS(double, double, __builtin_trunc); break;                                      \
        }                                                                                                     \
        _Pragma("omp simd")                                                                                   \
        for (int32_t i = 0; i < n; i++) picked[i] = (double)yc[at[i]];                                        \
        if (c->class_weight != NULL) {                                                                        \
            /* weight = sample weight × class weight; readable becomes "has a weight" (a class in the table,  \
             * not NaN there), the rows E0 counts when the weight is non-zero. */                             \
            const double* restrict cw = c->class_weight;                                                      \
            const int32_t n_cw = c->n_class_weights < K ? (int32_t)c->n_class_weights : k;                    \
            _Pragma("omp simd reduction(+:entries)")                                                          \
            for (int32_t i = 0; i < n; i++) {                                                                 \
                const int in_table = cls[i] < n_cw;                                                           \
                const double cwv = cw[cls[i] & -in_table]; /* a select here becomes a masked load, scalar */   \
                const double weighted = (in_table & (cwv == cwv)) ? readable[i] : 0.0;                        \
                const double w = weight[i] * cwv;                                                             \
                entries += (w != 0.0) ? weighted : 0.0;                                                       \
                readable[i] = weighted;                                                                       \
                weight[i] = w;                                                                                \
            }                                                                                                 \
        }                                                                                                     \
        _Pragma("omp simd reduction(+:count, problems)")                                                      \
        for (int32_t i = 0; i < n; i++) {                                                                     \
            const double inc = included[i];                                                                   \
            const double l = LOSS(rows[i], picked[i], lo, hi);                                                \
            problems += (readable[i] == 0.0) ? inc : 0.0;                                                     \
            count += inc;                                                                                     \
            loss[i] = (inc != 0.0) ? l : 0.0;                                                                 \
            weight[i] = (inc != 0.0) ? weight[i] : 0.0;                                                       \
        }                                                                                                     \
        if (out != NULL) {                                                                                    \
            T* restrict o = out + r0;                                                                         \
            _Pragma("omp simd")                                                                               \
            for (int32_t i = 0; i < n; i++) o[i] = (T)(weight[i] * loss[i]);                                  \
        }                                                                                                     \
        fl_reduce_rows_##ISA(loss, nr, weight, reduced);                                                      \
        sums[0] = reduced[0];                                                                                 \
        sums[1] = reduced[1];                                                                                 \
        sums[2] = reduced[2];                                                                                 \
        sums[3] = count;                                                                                      \
        sums[4] = entries;                                                                                    \
        return report | (problems != 0.0);                                                                    \
    }

#define FL_SPARSE_CHUNKS(ISA, ATTR)                                                                           \
    FL_SPARSE_CHUNK(ISA, ATTR, float, f32, log_sum_exp, fl_scce_logits_loss)                                  \
    FL_SPARSE_CHUNK(ISA, ATTR, double, f64, log_sum_exp, fl_scce_logits_loss)                                 \
    FL_SPARSE_CHUNK(ISA, ATTR, float, f32, probability_sum, fl_scce_probabilities_loss)                       \
    FL_SPARSE_CHUNK(ISA, ATTR, double, f64, probability_sum, fl_scce_probabilities_loss)

#define FL_SPARSE_TABLE_ENTRIES(ISA)                                                                          \
    .sparse_log_sum_exp_f32 = fl_sparse_log_sum_exp_f32_##ISA,                                                \
    .sparse_log_sum_exp_f64 = fl_sparse_log_sum_exp_f64_##ISA,                                                \
    .sparse_probability_sum_f32 = fl_sparse_probability_sum_f32_##ISA,                                        \
    .sparse_probability_sum_f64 = fl_sparse_probability_sum_f64_##ISA,

/* ======================================= end of the sparse section ======================================= */

#define FL_LEVEL(ISA, ATTR)                                                                                    \
    FL_ROW_FUNCTIONS(ISA, ATTR, float, f32)                                                                   \
    FL_ROW_FUNCTIONS(ISA, ATTR, double, f64)                                                                  \
    FL_CCE_ROWS(ISA, ATTR, float, f32)                                                                        \
    FL_CCE_ROWS(ISA, ATTR, double, f64)                                                                       \
    FL_REDUCE_ROWS(ISA, ATTR)                                                                                 \
    FL_SPARSE_CHUNKS(ISA, ATTR)                                                                               \
    static const fl_vtable fl_vtable_##ISA = {                                                                \
        .bce_probabilities_f32 = fl_rows_bce_probabilities_f32_##ISA,                                         \
        .bce_probabilities_f64 = fl_rows_bce_probabilities_f64_##ISA,                                         \
        FL_ELEMENTWISE(FL_TABLE_ENTRIES, ISA, _)                                                              \
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
        .reduce_rows = fl_reduce_rows_##ISA,                                                                  \
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

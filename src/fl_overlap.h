/* fl_overlap.h -- the overlap sums of dice, tversky, iou, dice_coefficient and overlap_sum.
 *
 * Part of fl_kernels.h, which includes it just before FL_LEVEL: it uses that file's types, lanes and macros and
 * adds its loops to every ISA level through FL_LEVEL (not a standalone header). */
#ifndef FL_OVERLAP_H
#define FL_OVERLAP_H

/* =========================================================================================================
 * Overlap sums (dice, tversky, iou, dice_coefficient, overlap_sum): the sums of one row, in one pass.
 *
 * The rows are long (a sample's positions: 262144 for a 512x512 image), so the row itself is the SIMD loop, in
 * FL_SUM_TERMS's order without its buffer (three sums would triple its traffic): lane j adds the terms with
 * k ≡ j (mod FL_LANES) in k order, the last K mod FL_LANES terms are added in order to a tail that starts at 0,
 * and FL_LANE_SUM combines them. The lanes are GCC generic vectors of the level's native width (FL_LANES doubles
 * in 4 SSE2, 2 AVX2 or 1 AVX-512 vector per sum) rather than arrays under `omp simd`, which GCC kept in memory or
 * left scalar for some modes and levels; lane-wise operations give the same bits at every width. The tails and
 * the search for a bad element run the same element function on scalars.
 *
 * GCC lowers a function's vector operations for its own target before inlining it, so every function that
 * computes with these vectors carries the level's target attribute.
 * ======================================================================================================= */

#define FL_VECTOR_BYTES_baseline 16
#define FL_VECTOR_BYTES_x86_64_v3 32
#define FL_VECTOR_BYTES_x86_64_v4 64

/* mode bits of fl_overlap_sums. FL_OVERLAP_THRESHOLDED is also the `flags` bit the Python side sets. */
#define FL_OVERLAP_THRESHOLDED 1  /* p̃ = [p >= threshold], y in {0, 1}; else p̃ = p, p >= 0, y in [0, 1] */
#define FL_OVERLAP_TVERSKY 2      /* sums Σ y·p, Σ y·(1 - p), Σ (1 - y)·p instead of Σ y·p̃, Σ y, Σ p̃ */
#define FL_OVERLAP_LINEAR 4       /* one sum, Σ α·y + β·p̃ + γ·y·p̃ (prm's alpha, beta, gamma), element by element */

/* What fl_overlap_sums reports for the first element that cannot enter the sums (0: none). NaN is never outside
 * a range: it propagates. */
#define FL_OVERLAP_BAD_TARGET 1
#define FL_OVERLAP_BAD_PREDICTION 2

typedef float fl_lanes_f __attribute__((vector_size(FL_LANES * sizeof(float))));
typedef double fl_lanes_d __attribute__((vector_size(FL_LANES * sizeof(double))));

/* fl_overlap_add for elements of type VD: adds the terms (y·p̃, y, p̃), Tversky's (y·p, y·(1 - p), (1 - y)·p)
 * or FL_OVERLAP_LINEAR's α·y + β·p̃ + γ·y·p̃ (coef: α, β, γ) to acc[0..3), and marks (1.0) the lanes of *target
 * whose target is outside its domain and of *prediction whose prediction is negative. y·(y - 1) > 0 exactly when
 * y < 0 or y > 1, and y·(y - 1) != 0 exactly when y is neither 0 nor 1 (NaN: not > 0, but != 0), for every
 * double (no product that matters underflows to 0): one comparison per check, because GCC scalarises two
 * comparisons or-ed together at some levels. The one place of the overlap element rules, for vectors (MARK: a
 * comparison's lanes as 1.0 or 0.0, MERGE: or of marks) and for scalars (tails, the search for a bad element). */
#define FL_OVERLAP_ELEMENT(NAME, ATTR, VD, VI, MARK, MERGE)                                                    \
    ATTR FL_INLINE void NAME(int mode, const VD* y, const VD* p, double threshold, const double* coef, VD* acc,\
                             VD* target, VD* prediction)                                                      \
    {                                                                                                         \
        const VD zero = {0.0}, one = zero + 1.0;                                                              \
        const VD outside = *y * (*y - one);                                                                   \
        VD pt = *p;                                                                                           \
        if (mode & FL_OVERLAP_THRESHOLDED) {                                                                  \
            *target = MERGE(VD, VI, *target, MARK(VD, VI, outside != zero));                                  \
            pt = MARK(VD, VI, *p >= zero + threshold);                                                        \
        } else {                                                                                              \
            *target = MERGE(VD, VI, *target, MARK(VD, VI, outside > zero));                                   \
            *prediction = MERGE(VD, VI, *prediction, MARK(VD, VI, *p < zero));                                \
        }                                                                                                     \
        if (mode & FL_OVERLAP_LINEAR) {                                                                       \
            acc[0] += (zero + coef[0]) * *y + (zero + coef[1]) * pt + (zero + coef[2]) * *y * pt;             \
        } else if (mode & FL_OVERLAP_TVERSKY) {                                                               \
            acc[0] += *y * pt;                                                                                \
            acc[1] += *y * (one - pt);                                                                        \
            acc[2] += (one - *y) * pt;                                                                        \
        } else {                                                                                              \
            acc[0] += *y * pt;                                                                                \
            acc[1] += *y;                                                                                     \
            acc[2] += pt;                                                                                     \
        }                                                                                                     \
    }
/* Vector marks are the bits of 1.0 and-ed with the comparison's mask, or-ed as integers: GCC scalarises or-ing
 * the masks themselves into an accumulator at some levels. */
#define FL_MARK_VECTOR(VD, VI, CMP) ((VD)((VI)one & (CMP)))
#define FL_MERGE_VECTOR(VD, VI, A, B) ((VD)((VI)(A) | (VI)(B)))
#define FL_MARK_SCALAR(VD, VI, CMP) ((CMP) ? 1.0 : 0.0)
#define FL_MERGE_SCALAR(VD, VI, A, B) ((A) + (B))

/* A level's vector types (FL_LANES doubles as FL_NV_##ISA vectors of FL_W_##ISA), loads and element functions. */
#define FL_OVERLAP_TYPES(ISA, ATTR)                                                                            \
    typedef double fl_vd_##ISA __attribute__((vector_size(FL_VECTOR_BYTES_##ISA)));                           \
    typedef long long fl_vi_##ISA __attribute__((vector_size(FL_VECTOR_BYTES_##ISA)));                        \
    enum { FL_W_##ISA = FL_VECTOR_BYTES_##ISA / (int)sizeof(double), FL_NV_##ISA = FL_LANES / FL_W_##ISA };    \
                                                                                                              \
    /* FL_LANES consecutive elements, widened to double. Floats are widened by one conversion of all the       \
     * lanes: GCC splits it well, and scalarises conversions of 8-byte vectors. */                            \
    ATTR FL_INLINE void fl_lanes_load_f32_##ISA(fl_vd_##ISA* dst, const float* x)                             \
    {                                                                                                         \
        fl_lanes_f v;                                                                                         \
        fl_lanes_d d;                                                                                         \
        memcpy(&v, x, sizeof v);                                                                              \
        d = __builtin_convertvector(v, fl_lanes_d);                                                           \
        memcpy(dst, &d, sizeof d);                                                                            \
    }                                                                                                         \
    ATTR FL_INLINE void fl_lanes_load_f64_##ISA(fl_vd_##ISA* dst, const double* x)                            \
    {                                                                                                         \
        for (int v = 0; v < FL_NV_##ISA; v++) memcpy(&dst[v], x + v * FL_W_##ISA, sizeof dst[v]);             \
    }                                                                                                         \
                                                                                                              \
    FL_OVERLAP_ELEMENT(fl_overlap_add_##ISA, ATTR, fl_vd_##ISA, fl_vi_##ISA, FL_MARK_VECTOR, FL_MERGE_VECTOR)  \
    FL_OVERLAP_ELEMENT(fl_overlap_add1_##ISA, ATTR, double, long long, FL_MARK_SCALAR, FL_MERGE_SCALAR)

#define FL_OVERLAP_PASS(ISA, ATTR, T, TS)                                                                      \
    /* Element k alone: 0 or its FL_OVERLAP_BAD_* reason (the target's first), its terms added to acc. */     \
    ATTR FL_INLINE int fl_overlap_one_##TS##_##ISA(const T* y, const T* p, ptrdiff_t k, int mode,             \
                                                   const fl_params* prm, double* acc)                         \
    {                                                                                                         \
        const double yk = y[k], pk = p[k], coef[3] = {prm->alpha, prm->beta, prm->gamma};                     \
        double target = 0.0, prediction = 0.0;                                                                \
        fl_overlap_add1_##ISA(mode, &yk, &pk, prm->threshold, coef, acc, &target, &prediction);               \
        return target != 0.0 ? FL_OVERLAP_BAD_TARGET : prediction != 0.0 ? FL_OVERLAP_BAD_PREDICTION : 0;     \
    }                                                                                                         \
                                                                                                              \
    /* sums[0..3) of the row, and non-zero if an element fails the checks. Inlined with a constant mode, so    \
     * that each mode gets its own loop. */                                                                   \
    ATTR FL_INLINE int fl_overlap_pass_##TS##_##ISA(const T* restrict y, const T* restrict p, ptrdiff_t K,    \
                                                    const int mode, const fl_params* prm,                     \
                                                    double* restrict sums)                                    \
    {                                                                                                         \
        enum { NV = FL_NV_##ISA, W = FL_W_##ISA };                                                            \
        const fl_vd_##ISA zero = {0.0};                                                                       \
        const double coef[3] = {prm->alpha, prm->beta, prm->gamma};                                           \
        const double threshold = prm->threshold;                                                              \
        const ptrdiff_t K8 = K - K % FL_LANES;                                                                \
        fl_vd_##ISA acc[NV][3], yv[NV], pv[NV], bad = zero;                                                   \
        double tail[3] = {0.0, 0.0, 0.0};                                                                     \
        double lanes[FL_LANES];                                                                               \
        int any = 0;                                                                                          \
        for (int v = 0; v < NV; v++) acc[v][0] = acc[v][1] = acc[v][2] = zero;                                \
        for (ptrdiff_t k = 0; k < K8; k += FL_LANES) {                                                        \
            fl_lanes_load_##TS##_##ISA(yv, y + k);                                                            \
            fl_lanes_load_##TS##_##ISA(pv, p + k);                                                            \
            for (int v = 0; v < NV; v++)                                                                      \
                fl_overlap_add_##ISA(mode, &yv[v], &pv[v], threshold, coef, acc[v], &bad, &bad);              \
        }                                                                                                     \
        for (ptrdiff_t k = K8; k < K; k++) any |= fl_overlap_one_##TS##_##ISA(y, p, k, mode, prm, tail);      \
        for (int j = 0; j < W; j++) any |= bad[j] != 0.0;                                                     \
        for (int s = 0; s < 3; s++) {                                                                         \
            for (int v = 0; v < NV; v++)                                                                      \
                for (int j = 0; j < W; j++) lanes[v * W + j] = acc[v][s][j];                                  \
            sums[s] = FL_LANE_SUM(lanes, tail[s]);                                                            \
        }                                                                                                     \
        return any;                                                                                           \
    }                                                                                                         \
                                                                                                              \
    /* The first bad element's FL_OVERLAP_BAD_* reason, in k order (0: none). */                              \
    ATTR static int fl_overlap_search_##TS##_##ISA(const T* y, const T* p, ptrdiff_t K, int mode,             \
                                                   const fl_params* prm)                                      \
    {                                                                                                         \
        double ignored[3] = {0.0, 0.0, 0.0};                                                                  \
        for (ptrdiff_t k = 0; k < K; k++) {                                                                   \
            const int why = fl_overlap_one_##TS##_##ISA(y, p, k, mode, prm, ignored);                         \
            if (why) return why;                                                                              \
        }                                                                                                     \
        return 0;                                                                                             \
    }                                                                                                         \
                                                                                                              \
    /* The row's sums; returns 0, or the FL_OVERLAP_BAD_* reason of its first bad element (sums undefined). */ \
    ATTR static int fl_overlap_sums_##TS##_##ISA(const T* restrict y, const T* restrict p, ptrdiff_t K,       \
                                                 int mode, const fl_params* prm, double* restrict sums)       \
    {                                                                                                         \
        int bad = 0;                                                                                          \
        if (K < FL_LANES) {                                                                                   \
            /* No lanes: FL_LANE_SUM would add 0 to the tails, which are never -0 (they start at +0). */      \
            sums[0] = sums[1] = sums[2] = 0.0;                                                                \
            for (ptrdiff_t k = 0; k < K; k++) bad |= fl_overlap_one_##TS##_##ISA(y, p, k, mode, prm, sums);   \
            return bad ? fl_overlap_search_##TS##_##ISA(y, p, K, mode, prm) : 0;                              \
        }                                                                                                     \
        switch (mode) {                                                                                       \
        case 0: bad = fl_overlap_pass_##TS##_##ISA(y, p, K, 0, prm, sums); break;                             \
        case FL_OVERLAP_THRESHOLDED:                                                                          \
            bad = fl_overlap_pass_##TS##_##ISA(y, p, K, FL_OVERLAP_THRESHOLDED, prm, sums);                   \
            break;                                                                                            \
        case FL_OVERLAP_TVERSKY:                                                                              \
            bad = fl_overlap_pass_##TS##_##ISA(y, p, K, FL_OVERLAP_TVERSKY, prm, sums);                       \
            break;                                                                                            \
        case FL_OVERLAP_LINEAR:                                                                               \
            bad = fl_overlap_pass_##TS##_##ISA(y, p, K, FL_OVERLAP_LINEAR, prm, sums);                        \
            break;                                                                                            \
        case FL_OVERLAP_LINEAR | FL_OVERLAP_THRESHOLDED:                                                      \
            bad = fl_overlap_pass_##TS##_##ISA(y, p, K, FL_OVERLAP_LINEAR | FL_OVERLAP_THRESHOLDED, prm,      \
                                               sums);                                                         \
            break;                                                                                            \
        default: bad = fl_overlap_pass_##TS##_##ISA(y, p, K, mode, prm, sums);                                \
        }                                                                                                     \
        return bad ? fl_overlap_search_##TS##_##ISA(y, p, K, mode, prm) : 0;                                  \
    }                                                                                                         \
                                                                                                              \
    /* overlap_sum's rows loop: rows[r] = the FL_OVERLAP_LINEAR sum of each of nr rows of K (nr·K <= FL_CHUNK),  \
     * the bits of fl_overlap_sums (the same terms, summed by fl_lane_sum in its order); the terms of the whole \
     * chunk come from one vector loop, so that short rows (K = 1 for a whole-batch sum over (N, H, W, 1))     \
     * cost no call each. Non-zero if an element of the chunk fails the checks. */                            \
    ATTR FL_INLINE int fl_rows_overlap_sum_body_##TS##_##ISA(const T* restrict y, const T* restrict p,        \
                                                             ptrdiff_t nr, ptrdiff_t K, const int mode,       \
                                                             const fl_params* prm, double* restrict rows)     \
    {                                                                                                         \
        enum { NV = FL_NV_##ISA, W = FL_W_##ISA };                                                            \
        const fl_vd_##ISA zero = {0.0};                                                                       \
        const double coef[3] = {prm->alpha, prm->beta, prm->gamma};                                           \
        const ptrdiff_t n = nr * K, n8 = n - n % FL_LANES;                                                    \
        fl_vd_##ISA yv[NV], pv[NV], terms[3], bad = zero;                                                     \
        double buf[FL_CHUNK];                                                                                 \
        /* The terms are 0 + term (never -0), so a row of one is its term: fl_lane_sum would add only zeros. */ \
        double* restrict dst = K == 1 ? rows : buf;                                                           \
        int any = 0;                                                                                          \
        for (ptrdiff_t i = 0; i < n8; i += FL_LANES) {                                                        \
            fl_lanes_load_##TS##_##ISA(yv, y + i);                                                            \
            fl_lanes_load_##TS##_##ISA(pv, p + i);                                                            \
            for (int v = 0; v < NV; v++) {                                                                    \
                terms[0] = zero;                                                                              \
                fl_overlap_add_##ISA(mode, &yv[v], &pv[v], prm->threshold, coef, terms, &bad, &bad);          \
                memcpy(dst + i + v * W, &terms[0], sizeof terms[0]);                                          \
            }                                                                                                 \
        }                                                                                                     \
        for (ptrdiff_t i = n8; i < n; i++) {                                                                  \
            double t[3] = {0.0, 0.0, 0.0};                                                                    \
            any |= fl_overlap_one_##TS##_##ISA(y, p, i, mode, prm, t);                                        \
            dst[i] = t[0];                                                                                    \
        }                                                                                                     \
        for (int j = 0; j < W; j++) any |= bad[j] != 0.0;                                                     \
        if (K >= FL_LANES) {                                                                                  \
            for (ptrdiff_t r = 0; r < nr; r++) rows[r] = fl_lane_sum(buf + r * K, K);                         \
        } else if (K > 1) {                                                                                   \
            /* fl_lane_sum without lanes: 0 + the terms in order (never -0, so adding the lanes' 0 is exact) */ \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t r = 0; r < nr; r++) {                                                              \
                double total = 0.0;                                                                           \
                for (ptrdiff_t k = 0; k < K; k++) total += buf[r * K + k];                                    \
                rows[r] = total;                                                                              \
            }                                                                                                 \
        }                                                                                                     \
        return any;                                                                                           \
    }                                                                                                         \
    ATTR static int fl_rows_overlap_sum_##TS##_##ISA(const T* restrict y, const T* restrict p, ptrdiff_t nr,  \
                                                     ptrdiff_t K, const fl_params* prm, double* restrict rows)\
    {                                                                                                         \
        if ((long)prm->flags & FL_OVERLAP_THRESHOLDED)                                                        \
            return fl_rows_overlap_sum_body_##TS##_##ISA(y, p, nr, K, FL_OVERLAP_LINEAR | FL_OVERLAP_THRESHOLDED, \
                                                         prm, rows);                                          \
        return fl_rows_overlap_sum_body_##TS##_##ISA(y, p, nr, K, FL_OVERLAP_LINEAR, prm, rows);              \
    }

#define FL_OVERLAP_LEVEL(ISA, ATTR)                                                                            \
    FL_OVERLAP_TYPES(ISA, ATTR) FL_OVERLAP_PASS(ISA, ATTR, float, f32) FL_OVERLAP_PASS(ISA, ATTR, double, f64)
#define FL_OVERLAP_ENTRIES(ISA)                                                                                \
    .overlap_sums_f32 = fl_overlap_sums_f32_##ISA, .overlap_sums_f64 = fl_overlap_sums_f64_##ISA,             \
    .overlap_sum_f32 = fl_rows_overlap_sum_f32_##ISA, .overlap_sum_f64 = fl_rows_overlap_sum_f64_##ISA,

#endif

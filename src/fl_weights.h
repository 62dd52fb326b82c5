/* fl_weights.h -- per-row weights of a chunk of dense rows (mask, broadcast sample weights, class weights).
 *
 * Part of fl_kernels.h, which includes it just before FL_LEVEL: it uses that file's types, lanes and macros and
 * adds its loops to every ISA level through FL_LEVEL (not a standalone header). */
#ifndef FL_WEIGHTS_H
#define FL_WEIGHTS_H

/* ---------------------------------------------------------------------------------------------------------
 * Per-row weights of a chunk of dense rows (the vector blocks of _kernels.pyx.tp): mask, broadcast sample
 * weights and class weights, a chunk at a time in loops that vectorise, instead of row by row.
 * ------------------------------------------------------------------------------------------------------- */

/* The class of a K == 1 target is its value rounded half to even (np.round; nearbyint in the default rounding
 * mode). Adding and subtracting 1.5·2^52 rounds exactly that way for |v| < 2^51, branch-free at every ISA level
 * (SSE2 has no rounding instruction, and libm's nearbyint does not vectorise). A larger |v| may round to a
 * neighbouring value, but one still beyond 2^50 in magnitude, i.e. outside any class table; NaN stays NaN. */
FL_INLINE double fl_round_label(double v)
{
    return (v + 0x1.8p52) - 0x1.8p52;
}

/* Non-zero entries of x[0..n) (NaN included, -0.0 not: np.count_nonzero's rule), for the Keras 2.2 E0 count of a
 * sample-weight array. An integer count, so the blocks it is split into do not change it. Per ISA level (FL_LEVEL):
 * the baseline build leaves this loop scalar, 4.4 µs per 10^4 doubles against 0.8 µs on AVX-512. */
#define FL_COUNT_NONZERO(ISA, ATTR, T, TS)                                                                    \
    ATTR static ptrdiff_t fl_count_nonzero_##TS##_##ISA(const T* restrict x, ptrdiff_t n)                     \
    {                                                                                                         \
        ptrdiff_t count = 0;                                                                                  \
        _Pragma("omp simd reduction(+:count)")                                                                \
        for (ptrdiff_t i = 0; i < n; i++) count += x[i] != 0;                                                 \
        return count;                                                                                         \
    }

/* The class of a K > 1 target row: its first maximum (Keras's argmax). A NaN compares false, so it never wins. */
#define FL_FIRST_ARGMAX(T, TS)                                                                                 \
    FL_INLINE ptrdiff_t fl_first_argmax_##TS(const T* y, ptrdiff_t K)                                         \
    {                                                                                                         \
        ptrdiff_t best = 0;                                                                                   \
        for (ptrdiff_t k = 1; k < K; k++)                                                                     \
            if (y[k] > y[best]) best = k;                                                                     \
        return best;                                                                                          \
    }
FL_FIRST_ARGMAX(float, f32)
FL_FIRST_ARGMAX(double, f64)

/* dst[i] = VALUE(src[(r0 + i) / inner]) for i in [0, nr): an array broadcast over runs of `inner` rows, written
 * run by run (one division per chunk instead of one per row). The dense chunk weights and the sparse chunks
 * (fl_sparse.h) both expand their sample weights and masks with it. */
#define FL_EXPAND_RUNS(NAME, T, OUT_T, VALUE)                                                                  \
    FL_INLINE void NAME(const T* restrict src, ptrdiff_t inner, ptrdiff_t r0, ptrdiff_t nr,                   \
                        OUT_T* restrict dst)                                                                  \
    {                                                                                                         \
        if (inner == 1) {                                                                                     \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t i = 0; i < nr; i++) dst[i] = VALUE(src[r0 + i]);                                   \
            return;                                                                                           \
        }                                                                                                     \
        ptrdiff_t entry = r0 / inner, run = inner - r0 % inner;                                               \
        for (ptrdiff_t i = 0; i < nr; entry++, run = inner) {                                                 \
            const OUT_T v = VALUE(src[entry]);                                                                \
            const ptrdiff_t end = (i + run < nr) ? i + run : nr;                                              \
            for (; i < end; i++) dst[i] = v;                                                                  \
        }                                                                                                     \
    }
#define FL_AS_IS(x) (x)
#define FL_AS_INCLUDED(x) ((x) != 0 ? 1.0 : 0.0)
FL_EXPAND_RUNS(fl_expand_runs_f64, double, double, FL_AS_IS)
FL_EXPAND_RUNS(fl_expand_runs_f32, float, double, FL_AS_IS)   /* float32 sample weights, widened exactly */
FL_EXPAND_RUNS(fl_expand_runs_u8, unsigned char, unsigned char, FL_AS_IS)
FL_EXPAND_RUNS(fl_expand_runs_included, unsigned char, double, FL_AS_INCLUDED)   /* mask -> 1.0 / 0.0 */

/* Class weights of K == 1 rows from a table of at most this many entries come from a chain of selects (the binary
 * case: nothing to gather, no index to convert); a longer table, or K > 1, is read by a gather. */
#define FL_SELECT_CLASSES 4

/* The class weight of a K == 1 target y from table[FL_SELECT_CLASSES], whose entries past the class_weight table are
 * NaN: a rounded value outside [0, n_classes) (NaN included) matches no entry with a weight. */
FL_INLINE double fl_select_class_weight(const double* table, double y)
{
    const double v = fl_round_label(y);
    double c = (double)NAN;
    for (int j = 0; j < FL_SELECT_CLASSES; j++) c = v == (double)j ? table[j] : c;
    return c;
}

/* One row's class weight: c is its class, or -1 if it has none in the table (NaN then, like a class missing
 * from a dict). The table is read at a valid index whatever c is, and the value always used (x·1 is x, x·NaN is
 * NaN): GCC turns a select of the loaded value into a masked gather, which it does not emulate. */
FL_INLINE double fl_class_weight(const double* cw, int c)
{
    const int at = c & ~(c >> 31); /* max(c, 0) */
    return cw[at] * (c >= 0 ? 1.0 : (double)NAN);
}

/* Loops over the rows of a chunk, for FL_CHUNK_WEIGHTS (expressions of i).
 * FL_CLASS_WEIGHT_ROWS(C, W): c = C is the row's class weight (NaN: none), W its effective weight; `nonzero` counts
 * the rows whose weight is non-zero, `missing` those without c, included or not. A row without c has weight NaN,
 * which counts as non-zero, so E0 (rows with c and a non-zero weight) is nonzero - missing.
 * FL_MASK_ROWS(W): weights[i] = W for an included row, and 0 (loss 0 too) for an excluded one. */
#define FL_CLASS_WEIGHT_ROWS(C, W)                                                                             \
    do {                                                                                                      \
        _Pragma("omp simd reduction(+:nonzero, missing)")                                                     \
        for (ptrdiff_t i = 0; i < nr; i++) {                                                                  \
            const double c = (C), w = (W);                                                                    \
            nonzero += w != 0.0;                                                                              \
            missing += c != c;                                                                                \
            weights[i] = w;                                                                                   \
        }                                                                                                     \
    } while (0)
#define FL_MASK_ROWS(W)                                                                                        \
    do {                                                                                                      \
        included = 0;                                                                                         \
        _Pragma("omp simd reduction(+:included)")                                                             \
        for (ptrdiff_t i = 0; i < nr; i++) {                                                                  \
            const int k = keep[i] != 0;                                                                       \
            weights[i] = k ? (W) : 0.0;                                                                       \
            rows[i] = k ? rows[i] : 0.0;                                                                      \
            included += k;                                                                                    \
        }                                                                                                     \
    } while (0)

/* The rows [r0, r0 + nr) of a chunk whose losses are rows[] (nr <= FL_CHUNK), with the rules of the scalar block
 * loop: weights[i] = sample weight × class weight of row r0 + i, or 0 for an excluded row, whose loss becomes 0
 * too (a NaN there cannot reach the sums); out[i] (if out) = weights[i]·rows[i] in the input dtype. With class
 * weights, *entries = the chunk's Keras 2.2 non-zero entries (E0): rows whose class has a weight and whose
 * sample weight × class weight is non-zero, excluded rows too (_nonzero_entry in _kernels.pyx.tp). Returns
 * the number of included rows, or -1 (out untouched) if an included row may lack a class weight: the caller then
 * redoes the chunk row by row, which reports the first failing row (or finds none). y (the chunk's targets,
 * nr·K values) is read only with class weights. */
#define FL_CHUNK_WEIGHTS(ISA, ATTR, T, TS)                                                                     \
    ATTR static ptrdiff_t fl_chunk_weights_##TS##_##ISA(                                                      \
        const T* restrict y, T* restrict out, ptrdiff_t r0, ptrdiff_t nr, ptrdiff_t K,                        \
        const double* restrict sw, const float* restrict sw_f32, ptrdiff_t sw_inner,                          \
        const double* restrict cw, ptrdiff_t n_cw,                                                            \
        const unsigned char* restrict mask, ptrdiff_t mask_inner, double* restrict rows,                      \
        double* restrict weights, ptrdiff_t* entries)                                                         \
    {                                                                                                         \
        double sw_runs[FL_CHUNK];                                                                             \
        unsigned char keep_runs[FL_CHUNK];                                                                    \
        const double* restrict s = NULL;           /* each row's sample weight; NULL: 1 */                    \
        const unsigned char* restrict keep = NULL; /* whether each row is included; NULL: every row */        \
        ptrdiff_t included = nr;                                                                              \
        if (sw != NULL && sw_inner == 1) {                                                                    \
            s = sw + r0;                                                                                      \
        } else if (sw != NULL) {                                                                              \
            fl_expand_runs_f64(sw, sw_inner, r0, nr, sw_runs);                                                \
            s = sw_runs;                                                                                      \
        } else if (sw_f32 != NULL) {                                                                          \
            fl_expand_runs_f32(sw_f32, sw_inner, r0, nr, sw_runs);                                            \
            s = sw_runs;                                                                                      \
        }                                                                                                     \
        if (mask != NULL && mask_inner == 1) {                                                                \
            keep = mask + r0;                                                                                 \
        } else if (mask != NULL) {                                                                            \
            fl_expand_runs_u8(mask, mask_inner, r0, nr, keep_runs);                                           \
            keep = keep_runs;                                                                                 \
        }                                                                                                     \
        if (cw != NULL) {                                                                                     \
            ptrdiff_t nonzero = 0, missing = 0;                                                               \
            if (n_cw > 0x7fffffff) return -1; /* classes beyond an int: left to the row-by-row loop */        \
            if (K == 1 && n_cw <= FL_SELECT_CLASSES) {                                                        \
                double table[FL_SELECT_CLASSES];                                                              \
                for (int j = 0; j < FL_SELECT_CLASSES; j++) table[j] = j < n_cw ? cw[j] : (double)NAN;       \
                if (s != NULL) FL_CLASS_WEIGHT_ROWS(fl_select_class_weight(table, (double)y[i]), s[i] * c);   \
                else FL_CLASS_WEIGHT_ROWS(fl_select_class_weight(table, (double)y[i]), c);                    \
            } else {                                                                                          \
                /* The class of each row (fl_round_label(y) of a K == 1 row, the first argmax of a longer one, \
                 * as _dense_label reads it), -1 where it has no entry in the table; then its weight. */       \
                int cls[FL_CHUNK];                                                                            \
                if (K == 1) {                                                                                 \
                    const double n = (double)n_cw;                                                            \
                    _Pragma("omp simd")                                                                       \
                    for (ptrdiff_t i = 0; i < nr; i++) {                                                      \
                        const double v = fl_round_label((double)y[i]);                                        \
                        cls[i] = (int)((v >= 0.0) & (v < n) ? v : -1.0);                                      \
                    }                                                                                         \
                } else {                                                                                      \
                    for (ptrdiff_t i = 0; i < nr; i++) {                                                      \
                        const ptrdiff_t c = fl_first_argmax_##TS(y + i * K, K);                               \
                        cls[i] = c < n_cw ? (int)c : -1;                                                      \
                    }                                                                                         \
                }                                                                                             \
                if (s != NULL) FL_CLASS_WEIGHT_ROWS(fl_class_weight(cw, cls[i]), s[i] * c);                   \
                else FL_CLASS_WEIGHT_ROWS(fl_class_weight(cw, cls[i]), c);                                    \
            }                                                                                                 \
            if (missing) {                                                                                    \
                /* Only an included row without a class weight is an error. Its weight is NaN (so is that of \
                 * a NaN sample weight, which the row-by-row loop then clears). */                            \
                if (keep == NULL) return -1;                                                                  \
                int error = 0;                                                                                \
                _Pragma("omp simd reduction(|:error)")                                                        \
                for (ptrdiff_t i = 0; i < nr; i++) error |= (keep[i] != 0) & (weights[i] != weights[i]);      \
                if (error) return -1;                                                                         \
            }                                                                                                 \
            *entries = nonzero - missing;                                                                     \
            if (keep != NULL) FL_MASK_ROWS(weights[i]);                                                       \
        } else if (keep != NULL) {                                                                            \
            if (s != NULL) FL_MASK_ROWS(s[i]);                                                                \
            else FL_MASK_ROWS(1.0);                                                                           \
        } else if (s != NULL) {                                                                               \
            memcpy(weights, s, (size_t)nr * sizeof(double));                                                  \
        } else {                                                                                              \
            for (ptrdiff_t i = 0; i < nr; i++) weights[i] = 1.0;                                              \
        }                                                                                                     \
        if (out != NULL) {                                                                                    \
            _Pragma("omp simd")                                                                               \
            for (ptrdiff_t i = 0; i < nr; i++) out[i] = (T)(weights[i] * rows[i]);                            \
        }                                                                                                     \
        return included;                                                                                      \
    }

#endif

/* fl_sparse.h -- whole chunks of short rows of the sparse categorical crossentropies.
 *
 * Part of fl_kernels.h, which includes it just before FL_LEVEL: it uses that file's types, lanes and macros and
 * adds its loops to every ISA level through FL_LEVEL (not a standalone header). */
#ifndef FL_SPARSE_H
#define FL_SPARSE_H

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
    const double* sample_weight;     /* NULL (and sample_weight_f32 NULL): weight 1; row r reads entry r / sw_inner */
    const float* sample_weight_f32;  /* float32 weights, read as they are (at most one of the two is set) */
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
    return -fl_log_normal(fl_clip(p_label / total, lo, hi));
}

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

/* Asks for the next chunk's labels, sample weights and mask (rows [r0 + nr, r0 + 2·nr)). Each is read in a burst at
 * the start of its chunk, which the hardware prefetcher follows too late; the rows of y_pred ask for theirs in the
 * rows_* loop. */
FL_INLINE void fl_sparse_prefetch_next(const struct fl_sparse_rows* c, ptrdiff_t r0, ptrdiff_t nr)
{
    const ptrdiff_t label_size = (c->label_type == FL_LABEL_I32) | (c->label_type == FL_LABEL_F32) ? 4 : 8;
    const ptrdiff_t next = r0 + nr;
    fl_prefetch_bytes((const char*)c->labels + next * label_size, nr * label_size);
    if (c->sample_weight != NULL)
        fl_prefetch_bytes(c->sample_weight + next / c->sw_inner, (nr / c->sw_inner + 1) * (ptrdiff_t)sizeof(double));
    if (c->sample_weight_f32 != NULL)
        fl_prefetch_bytes(c->sample_weight_f32 + next / c->sw_inner, (nr / c->sw_inner + 1) * (ptrdiff_t)sizeof(float));
    if (c->mask != NULL)
        fl_prefetch_bytes(c->mask + next / c->mask_inner, nr / c->mask_inner + 1);
}

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
        fl_sparse_prefetch_next(c, r0, nr);                                                                   \
        int report = fl_rows_##PART##_##TS##_##ISA(yc, nr, K, rows);                                          \
        if (c->mask != NULL) {                                                                                \
            fl_expand_runs_included(c->mask, c->mask_inner, r0, nr, included);                            \
        } else {                                                                                              \
            for (int32_t i = 0; i < n; i++) included[i] = 1.0;                                                \
        }                                                                                                     \
        if (c->sample_weight != NULL) {                                                                       \
            fl_expand_runs_f64(c->sample_weight, c->sw_inner, r0, nr, weight);                                \
        } else if (c->sample_weight_f32 != NULL) {                                                            \
            fl_expand_runs_f32(c->sample_weight_f32, c->sw_inner, r0, nr, weight);                            \
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

#endif

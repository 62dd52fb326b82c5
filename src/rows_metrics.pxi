# Row functions of the "metrics" part (kernels listed in kernels_metrics.py); included by _kernels.pyx.tp.
#
# Overlap rows read three sums in one pass: I = Σ y·p, Σ y, Σ p (p̃ = [p >= threshold] for thresholded metrics).
# Soft rows reject p < 0 (E_NEGATIVE_PREDICTION) and targets outside [0, 1] (E_INVALID_TARGET); thresholded rows
# need targets in {0, 1}. NaN is never "outside": it propagates.

# The sums of an overlap row come from fl_kernels.h (one SIMD pass, the same bits at every ISA level and thread
# count). Their vtable entries have a signature of their own, so this part names them, not the template.
cdef extern from "fl_kernels.h" nogil:
    enum:
        FL_OVERLAP_THRESHOLDED      # the `flags` bit: predictions are thresholded (p̃ = p >= threshold)
        FL_OVERLAP_TVERSKY          # sums I, Σ y·(1 - p), Σ (1 - y)·p instead of I, Σ y, Σ p̃
        FL_OVERLAP_LINEAR           # one sum, Σ α·y + β·p̃ + γ·y·p̃
        FL_OVERLAP_BAD_TARGET
        FL_OVERLAP_BAD_PREDICTION
    int fl_overlap_sums_f32 "fl_vt.overlap_sums_f32" (const float* y, const float* p, Py_ssize_t K, int mode,
                                                      const RowParams* prm, double* sums)
    int fl_overlap_sums_f64 "fl_vt.overlap_sums_f64" (const double* y, const double* p, Py_ssize_t K, int mode,
                                                      const RowParams* prm, double* sums)


cdef inline void _overlap_sums(const floating_t* y, const floating_t* p, Py_ssize_t K, int mode,
                               const RowParams* prm, double* sums, int* error) noexcept nogil:
    # sums[0] = Σ y·p̃, sums[1] = Σ y, sums[2] = Σ p̃; FL_OVERLAP_TVERSKY: I, missed, spurious; FL_OVERLAP_LINEAR:
    # sums[0] only. A value outside its domain sets the error of the row's first such element.
    cdef int why
    if floating_t is float:
        why = fl_overlap_sums_f32(y, p, K, mode, prm, sums)
    else:
        why = fl_overlap_sums_f64(y, p, K, mode, prm, sums)
    if why == FL_OVERLAP_BAD_TARGET:
        error[0] = E_INVALID_TARGET
    elif why == FL_OVERLAP_BAD_PREDICTION:
        error[0] = E_NEGATIVE_PREDICTION


cdef inline int _overlap_mode(const RowParams* prm) noexcept nogil:
    return (<long>prm.flags) & FL_OVERLAP_THRESHOLDED


cdef inline double _overlap_guard(const RowParams* prm) noexcept nogil:
    # Keras adds ε = 1e-7 to the denominator; a positive `smooth` replaces it (and is added to the numerator), so
    # that an empty target with an empty prediction scores exactly 1 (loss 0).
    return prm.smooth if prm.smooth > 0.0 else prm.lo


cdef inline double _row_dice(const floating_t* y, const floating_t* p, Py_ssize_t K,
                             const RowParams* prm, int* error) noexcept nogil:
    # Keras: 1 - 2·Σyp / (Σy + Σp + ε)
    cdef double sums[3]
    _overlap_sums(y, p, K, _overlap_mode(prm), prm, sums, error)
    return 1.0 - (2.0 * sums[0] + prm.smooth) / (sums[1] + sums[2] + _overlap_guard(prm))


cdef inline double _row_tversky(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                const RowParams* prm, int* error) noexcept nogil:
    # Keras 3.15.1: 1 - I / (I + α·Σy(1-p) + β·Σ(1-y)p + ε): α weighs the missed positives (false negatives).
    cdef double sums[3]
    _overlap_sums(y, p, K, FL_OVERLAP_TVERSKY, prm, sums, error)
    return 1.0 - (sums[0] + prm.smooth) / (sums[0] + prm.alpha * sums[1] + prm.beta * sums[2] + _overlap_guard(prm))


cdef inline double _row_overlap_sum(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                    const RowParams* prm, int* error) noexcept nogil:
    # Σ_k (α·y + β·p̃ + γ·y·p̃): one of the whole-batch sums (I, Σy + Σp, α·missed + β·spurious, FP + FN),
    # element by element so that y - y·p is Keras's y·(1 - p) to the last bit that matters.
    cdef double sums[3]
    _overlap_sums(y, p, K, _overlap_mode(prm) | FL_OVERLAP_LINEAR, prm, sums, error)
    return sums[0]


cdef inline double _row_overlap_constant(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                         const RowParams* prm, int* error) noexcept nogil:
    # The batch value (passed as `delta`) that every weight entry carries; reads nothing.
    return prm.delta


cdef inline double _row_iou(const floating_t* y, const floating_t* p, Py_ssize_t K,
                            const RowParams* prm, int* error) noexcept nogil:
    # TP / (TP + FP + FN) = I / (Σy + Σp - I); `delta` when the row has neither targets nor predictions.
    cdef double sums[3], union_
    _overlap_sums(y, p, K, _overlap_mode(prm), prm, sums, error)
    union_ = sums[1] + sums[2] - sums[0]
    if union_ == 0.0:
        return prm.delta
    return sums[0] / union_


cdef inline double _row_dice_coefficient(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                         const RowParams* prm, int* error) noexcept nogil:
    # 2·TP / (2·TP + FP + FN) = 2I / (Σy + Σp); `delta` when the row has neither targets nor predictions.
    cdef double sums[3], total
    _overlap_sums(y, p, K, _overlap_mode(prm), prm, sums, error)
    total = sums[1] + sums[2]
    if total == 0.0:
        return prm.delta
    return 2.0 * sums[0] / total


# ---------------------------------------------------------------------------------------------------------
# Accuracies (Keras 3 metric functions)
# ---------------------------------------------------------------------------------------------------------

cdef inline double _row_binary_accuracy(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                        const RowParams* prm, int* error) noexcept nogil:
    # Keras: mean_k [y == (p > threshold)]; a target other than 0 or 1 never matches.
    cdef Py_ssize_t k
    cdef double hits = 0.0, predicted
    for k in range(K):
        predicted = 1.0 if p[k] > prm.threshold else 0.0
        if <double>y[k] == predicted:
            hits += 1.0
    return hits / K


cdef inline Py_ssize_t _argmax_first(const floating_t* x, Py_ssize_t K) noexcept nogil:
    # np.argmax: the first maximum, and a NaN counts as the maximum (the first NaN wins).
    cdef Py_ssize_t k, best = 0
    if isnan(x[0]):
        return 0
    for k in range(1, K):
        if isnan(x[k]):
            return k
        if x[k] > x[best]:
            best = k
    return best


cdef inline double _in_top_k(Py_ssize_t label, const floating_t* p, Py_ssize_t K, Py_ssize_t k) noexcept nogil:
    # Keras's in_top_k on the numpy backend: p[label] >= the k-th largest score, i.e. fewer than k scores rank
    # above it, so a score tied with the k-th counts as a hit. NaN sorts above every number (np.argsort), and a
    # NaN target score is never a hit (NaN >= x is False).
    cdef Py_ssize_t j, above = 0
    cdef double target = p[label], v
    if isnan(target):
        return 0.0
    for j in range(K):
        v = p[j]
        if v > target or isnan(v):
            above += 1
    return 1.0 if above < k else 0.0


cdef inline double _row_categorical_accuracy(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                             const RowParams* prm, int* error) noexcept nogil:
    return 1.0 if _argmax_first(y, K) == _argmax_first(p, K) else 0.0


cdef inline double _row_sparse_categorical_accuracy(Py_ssize_t label, const floating_t* p, Py_ssize_t K,
                                                    const RowParams* prm, int* error) noexcept nogil:
    return 1.0 if _argmax_first(p, K) == label else 0.0


cdef inline double _row_top_k_categorical_accuracy(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                                   const RowParams* prm, int* error) noexcept nogil:
    return _in_top_k(_argmax_first(y, K), p, K, <Py_ssize_t>prm.k)


cdef inline double _row_sparse_top_k_categorical_accuracy(Py_ssize_t label, const floating_t* p, Py_ssize_t K,
                                                          const RowParams* prm, int* error) noexcept nogil:
    return _in_top_k(label, p, K, <Py_ssize_t>prm.k)

# Row functions of the "metrics" part (kernels listed in kernels_metrics.py); included by _kernels.pyx.tp.
#
# Overlap rows read three sums in one pass: I = Σ y·p, Σ y, Σ p (p̃ = [p >= threshold] for thresholded metrics).
# Soft rows reject p < 0 (E_NEGATIVE_PREDICTION) and targets outside [0, 1] (E_INVALID_TARGET); thresholded rows
# need targets in {0, 1}. NaN is never "outside": it propagates.

# flags bit of the overlap rows: predictions are thresholded (p̃ = p >= threshold) instead of used as they are
cdef enum:
    OVERLAP_THRESHOLDED = 1


cdef inline bint _overlap_values_ok(double y, double p, bint thresholded, int* error) noexcept nogil:
    if thresholded:
        if not (y == 0.0 or y == 1.0):
            error[0] = E_INVALID_TARGET
            return False
        return True
    if y < 0.0 or y > 1.0:
        error[0] = E_INVALID_TARGET
        return False
    if p < 0.0:
        error[0] = E_NEGATIVE_PREDICTION
        return False
    return True


cdef inline void _overlap_sums(const floating_t* y, const floating_t* p, Py_ssize_t K, const RowParams* prm,
                               double* sums, int* error) noexcept nogil:
    # sums[0] = Σ y·p̃, sums[1] = Σ y, sums[2] = Σ p̃
    cdef Py_ssize_t k
    cdef double yk, pk, intersection = 0.0, total_y = 0.0, total_p = 0.0
    cdef bint thresholded = (<long>prm.flags) & OVERLAP_THRESHOLDED
    sums[0] = sums[1] = sums[2] = 0.0
    for k in range(K):
        yk = y[k]
        pk = p[k]
        if not _overlap_values_ok(yk, pk, thresholded, error):
            return
        if thresholded:
            pk = 1.0 if pk >= prm.threshold else 0.0
        intersection += yk * pk
        total_y += yk
        total_p += pk
    sums[0] = intersection
    sums[1] = total_y
    sums[2] = total_p


cdef inline double _overlap_guard(const RowParams* prm) noexcept nogil:
    # Keras adds ε = 1e-7 to the denominator; a positive `smooth` replaces it (and is added to the numerator), so
    # that an empty target with an empty prediction scores exactly 1 (loss 0).
    return prm.smooth if prm.smooth > 0.0 else prm.lo


cdef inline double _row_dice(const floating_t* y, const floating_t* p, Py_ssize_t K,
                             const RowParams* prm, int* error) noexcept nogil:
    # Keras: 1 - 2·Σyp / (Σy + Σp + ε)
    cdef double sums[3]
    _overlap_sums(y, p, K, prm, sums, error)
    return 1.0 - (2.0 * sums[0] + prm.smooth) / (sums[1] + sums[2] + _overlap_guard(prm))


cdef inline double _row_tversky(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                const RowParams* prm, int* error) noexcept nogil:
    # Keras 3.15.1: 1 - I / (I + α·Σy(1-p) + β·Σ(1-y)p + ε): α weighs the missed positives (false negatives).
    cdef Py_ssize_t k
    cdef double yk, pk, intersection = 0.0, missed = 0.0, spurious = 0.0
    for k in range(K):
        yk = y[k]
        pk = p[k]
        if not _overlap_values_ok(yk, pk, False, error):
            return 0.0
        intersection += yk * pk
        missed += yk * (1.0 - pk)
        spurious += (1.0 - yk) * pk
    return 1.0 - (intersection + prm.smooth) / (
        intersection + prm.alpha * missed + prm.beta * spurious + _overlap_guard(prm))


cdef inline double _row_overlap_sum(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                    const RowParams* prm, int* error) noexcept nogil:
    # Σ_k (α·y + β·p̃ + γ·y·p̃): one of the whole-batch sums (I, Σy + Σp, α·missed + β·spurious, FP + FN),
    # element by element so that y - y·p is Keras's y·(1 - p) to the last bit that matters.
    cdef Py_ssize_t k
    cdef double yk, pk, total = 0.0
    cdef bint thresholded = (<long>prm.flags) & OVERLAP_THRESHOLDED
    for k in range(K):
        yk = y[k]
        pk = p[k]
        if not _overlap_values_ok(yk, pk, thresholded, error):
            return 0.0
        if thresholded:
            pk = 1.0 if pk >= prm.threshold else 0.0
        total += prm.alpha * yk + prm.beta * pk + prm.gamma * yk * pk
    return total


cdef inline double _row_overlap_constant(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                         const RowParams* prm, int* error) noexcept nogil:
    # The batch value (passed as `delta`) that every weight entry carries; reads nothing.
    return prm.delta


cdef inline double _row_iou(const floating_t* y, const floating_t* p, Py_ssize_t K,
                            const RowParams* prm, int* error) noexcept nogil:
    # TP / (TP + FP + FN) = I / (Σy + Σp - I); `delta` when the row has neither targets nor predictions.
    cdef double sums[3], union_
    _overlap_sums(y, p, K, prm, sums, error)
    union_ = sums[1] + sums[2] - sums[0]
    if union_ == 0.0:
        return prm.delta
    return sums[0] / union_


cdef inline double _row_dice_coefficient(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                         const RowParams* prm, int* error) noexcept nogil:
    # 2·TP / (2·TP + FP + FN) = 2I / (Σy + Σp); `delta` when the row has neither targets nor predictions.
    cdef double sums[3], total
    _overlap_sums(y, p, K, prm, sums, error)
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

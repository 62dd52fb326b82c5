# Row functions of the "sklearn" part (kernels listed in kernels_sklearn.py); included by _kernels.pyx.tp.
#
# scikit-learn validates whole arrays before computing (check_array rejects NaN and inf, probabilities must lie
# in [0, 1], labels must be classes); here every row checks the values it reads, which is every value, so the
# checks cost no extra pass. A bad y_pred value sets E_PROBABILITY and a bad y_true value E_INVALID_TARGET;
# fastloss/sklearn.py finds the offending value again (slow path) and words the message as scikit-learn does.
#
# Clip bounds: prm.lo = eps and prm.hi = 1 - eps of the input dtype (np.finfo(dtype).eps), set by the façade.
# Rows are not renormalised (scikit-learn only warns when a row does not sum to 1).

from libc.math cimport INFINITY, isfinite


cdef inline bint _sk_is_probability(double v) noexcept nogil:
    return v >= 0.0 and v <= 1.0   # False for NaN


cdef inline double _sk_neg_log(double p, const RowParams* prm) noexcept nogil:
    return -log(fl_clip(p, prm.lo, prm.hi))


cdef inline double _row_sklearn_log_loss_labels(Py_ssize_t label, const floating_t* p, Py_ssize_t K,
                                                const RowParams* prm, int* error) noexcept nogil:
    # -log clip(p[label]): the one non-zero term of -Σ_c Y_c·log P_c for a one-hot Y.
    cdef Py_ssize_t k
    for k in range(K):
        if not _sk_is_probability(p[k]):
            error[0] = E_PROBABILITY
    return _sk_neg_log(p[label], prm)


cdef inline double _row_sklearn_log_loss_rows(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                              const RowParams* prm, int* error) noexcept nogil:
    # -Σ_c Y_c·log clip(P_c) over an indicator row; xlogy's rule 0·log(anything) = 0. K == 1: P = [1 - p, p]
    # with 1 - p rounded in the input dtype, Y = [1 - y, y].
    cdef Py_ssize_t k
    cdef floating_t complement
    cdef double total = 0.0
    for k in range(K):
        if not _sk_is_probability(p[k]):
            error[0] = E_PROBABILITY
        if not (y[k] == 0.0 or y[k] == 1.0):
            error[0] = E_INVALID_TARGET
    if K == 1:
        complement = 1 - p[0]
        return _sk_neg_log(p[0], prm) if y[0] == 1.0 else _sk_neg_log(complement, prm)
    for k in range(K):
        if y[k] != 0.0:
            total += _sk_neg_log(p[k], prm)
    return total


cdef inline double _row_sklearn_brier_labels(Py_ssize_t label, const floating_t* p, Py_ssize_t K,
                                             const RowParams* prm, int* error) noexcept nogil:
    # Σ_c (P_c - Y_c)² for a one-hot Y.
    cdef Py_ssize_t k
    cdef double total = 0.0, d
    for k in range(K):
        if not _sk_is_probability(p[k]):
            error[0] = E_PROBABILITY
        d = <double>p[k] - (1.0 if k == label else 0.0)
        total += d * d
    return total


cdef inline double _row_sklearn_brier_rows(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                           const RowParams* prm, int* error) noexcept nogil:
    # Σ_c (P_c - Y_c)² over an indicator row. K == 1: P = [1 - p, p] (1 - p rounded in the input dtype) and
    # Y = [1 - y, y], as scikit-learn stacks them; the ½ of the binary score is applied by the caller.
    cdef Py_ssize_t k
    cdef floating_t complement
    cdef double total = 0.0, d
    for k in range(K):
        if not _sk_is_probability(p[k]):
            error[0] = E_PROBABILITY
        if not (y[k] == 0.0 or y[k] == 1.0):
            error[0] = E_INVALID_TARGET
    if K == 1:
        complement = 1 - p[0]
        d = (1.0 - <double>y[0]) - <double>complement
        total = d * d
        d = <double>y[0] - <double>p[0]
        return total + d * d
    for k in range(K):
        d = <double>y[k] - <double>p[k]
        total += d * d
    return total


cdef inline double _row_sklearn_binary_hinge(const floating_t* y, const floating_t* d, Py_ssize_t K,
                                             const RowParams* prm, int* error) noexcept nogil:
    # y in {-1, +1} (the façade's LabelBinarizer(neg_label=-1)), one decision value: max(0, 1 - y·d).
    cdef double loss
    if not isfinite(d[0]):
        error[0] = E_PROBABILITY
    loss = 1.0 - <double>y[0] * d[0]
    return loss if loss > 0.0 else 0.0


cdef inline double _row_sklearn_multiclass_hinge(Py_ssize_t label, const floating_t* d, Py_ssize_t K,
                                                 const RowParams* prm, int* error) noexcept nogil:
    # Crammer–Singer: margin = d[label] - max_{j != label} d[j]; loss max(0, 1 - margin). K >= 2.
    cdef Py_ssize_t k
    cdef double best = -INFINITY, loss
    for k in range(K):
        if not isfinite(d[k]):
            error[0] = E_PROBABILITY
        if k != label and d[k] > best:
            best = d[k]
    loss = 1.0 - (<double>d[label] - best)
    return loss if loss > 0.0 else 0.0


cdef inline double _row_sklearn_squared_error(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                              const RowParams* prm, int* error) noexcept nogil:
    # Σ_k c_k·(y_k - p_k)² with the output weights c = prm.columns (normalised by the caller), or the row mean.
    cdef Py_ssize_t k
    cdef double total = 0.0, e
    for k in range(K):
        if not isfinite(y[k]):
            error[0] = E_INVALID_TARGET
        if not isfinite(p[k]):
            error[0] = E_PROBABILITY
        e = <double>y[k] - <double>p[k]
        total += e * e * (prm.columns[k] if prm.columns != NULL else 1.0)
    return total if prm.columns != NULL else total / K


cdef inline double _row_sklearn_absolute_error(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                               const RowParams* prm, int* error) noexcept nogil:
    # Σ_k c_k·|y_k - p_k| with the output weights c = prm.columns (normalised by the caller), or the row mean.
    cdef Py_ssize_t k
    cdef double total = 0.0, e
    for k in range(K):
        if not isfinite(y[k]):
            error[0] = E_INVALID_TARGET
        if not isfinite(p[k]):
            error[0] = E_PROBABILITY
        e = <double>y[k] - <double>p[k]
        total += (e if e >= 0.0 else -e) * (prm.columns[k] if prm.columns != NULL else 1.0)
    return total if prm.columns != NULL else total / K


cdef inline bint _sk_is_class(double v, Py_ssize_t K) noexcept nogil:
    # A label vector (K == 1) holds integral classes (scikit-learn: "continuous is not supported"); an indicator
    # matrix holds 0 and 1 only.
    if K == 1:
        return isfinite(v) and v == floor(v)
    return v == 0.0 or v == 1.0


cdef inline double _row_sklearn_exact_match(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                            const RowParams* prm, int* error) noexcept nogil:
    # 1 when the row of labels (one label, or a row of a multilabel indicator matrix) matches exactly, else 0.
    cdef Py_ssize_t k
    cdef bint same = True
    for k in range(K):
        if not _sk_is_class(y[k], K):
            error[0] = E_INVALID_TARGET
        if not _sk_is_class(p[k], K):
            error[0] = E_PROBABILITY
        same = same and y[k] == p[k]
    return 1.0 if same else 0.0

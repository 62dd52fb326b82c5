# Row functions of the "catalog" part (kernels listed in kernels_catalog.py); included by _kernels.pyx.tp.
#
# Parameters read here (fastloss/losses.py fills them): gamma, alpha, q, flags and the per-column table:
#   focal losses: columns = per-column alpha (length K) or NULL for the scalar prm.alpha;
#                 flags bit 0 (binary focal only) = apply_class_balancing (FL_FOCAL_CLASS_BALANCING in
#                 fl_kernels.h, which reads it).
#   multi-label BCE: columns = (K, 3) row-major: (negative weight, positive weight, pos_weight) per column.
from libc.math cimport exp, log1p, pow, fabs

cdef extern from "fl_kernels.h" nogil:
    # The binary focal element math is fl_kernels.h's, shared with its vector row loops (same bits).
    int fl_focal_exponent(double gamma)
    double fl_binary_focal_element(double y, double p, double alpha, const fl_params* prm, int n)
    double fl_binary_focal_element_f32(float y, float p, double alpha, const fl_params* prm, int n)
    double fl_sigmoid(double z)


cdef inline double _column_alpha(const RowParams* prm, Py_ssize_t k) noexcept nogil:
    return prm.columns[k] if prm.columns != NULL else prm.alpha


cdef inline double _row_binary_focal_probabilities(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                                   const RowParams* prm, int* error) noexcept nogil:
    # Keras's binary_focal_crossentropy: the crossentropy clips p, the focal factor uses p as it is.
    cdef Py_ssize_t k
    cdef int n = fl_focal_exponent(prm.gamma)
    cdef double acc = 0.0, pk
    for k in range(K):
        pk = p[k]
        if fl_outside_unit_interval(pk):
            error[0] = E_PROBABILITY
        if floating_t is float:
            acc += fl_binary_focal_element_f32(y[k], p[k], _column_alpha(prm, k), prm, n)
        else:
            acc += fl_binary_focal_element(y[k], pk, _column_alpha(prm, k), prm, n)
    return acc / K


cdef inline double _row_binary_focal_logits(const floating_t* y, const floating_t* z, Py_ssize_t K,
                                            const RowParams* prm, int* error) noexcept nogil:
    # Keras applies the sigmoid and then the probability formula (clip included): a saturated logit costs
    # -log(eps), not its exact log-sigmoid.
    cdef Py_ssize_t k
    cdef int n = fl_focal_exponent(prm.gamma)
    cdef double acc = 0.0
    for k in range(K):
        acc += fl_binary_focal_element(y[k], fl_sigmoid(z[k]), _column_alpha(prm, k), prm, n)
    return acc / K


cdef inline double _row_categorical_focal_probabilities(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                                        const RowParams* prm, int* error) noexcept nogil:
    # fl_kernels.h's, vectorised along the row; its chunks of short rows give the same bits.
    cdef int bad = 0
    cdef double loss
    if floating_t is float:
        loss = fl_vt.categorical_focal_probabilities_f32(y, p, K, prm, &bad)
    else:
        loss = fl_vt.categorical_focal_probabilities_f64(y, p, K, prm, &bad)
    if bad:
        error[0] = E_PROBABILITY
    return loss


cdef inline double _row_categorical_focal_logits(const floating_t* y, const floating_t* z, Py_ssize_t K,
                                                 const RowParams* prm, int* error) noexcept nogil:
    # Keras takes the softmax and then the probability formula (clip included); fl_kernels.h shifts by the row
    # maximum, so exp never overflows, and a NaN anywhere in the row makes the row NaN.
    if floating_t is float:
        return fl_vt.categorical_focal_logits_f32(y, z, K, prm, error)
    else:
        return fl_vt.categorical_focal_logits_f64(y, z, K, prm, error)


cdef inline double _row_generalized_cross_entropy(Py_ssize_t label, const floating_t* p, Py_ssize_t K,
                                                  const RowParams* prm, int* error) noexcept nogil:
    # Keras's CategoricalGeneralizedCrossEntropy: (1 - p_y^q)/q, no clipping, no renormalisation. Keras reads p_y
    # as Σ_k p_k·onehot_k, so a NaN anywhere in the row makes the row NaN; so it does here.
    cdef Py_ssize_t k
    cdef double pk
    cdef bint nan = False
    for k in range(K):
        pk = p[k]
        if fl_outside_unit_interval(pk):
            error[0] = E_PROBABILITY
        nan = nan or pk != pk
    if nan:
        return NAN
    return (1.0 - pow(<double>p[label], prm.q)) / prm.q


cdef inline double _multilabel_weight(double y, Py_ssize_t k, const RowParams* prm) noexcept nogil:
    # Linear in the target as given (before smoothing): (1 - y)·w_neg + y·w_pos, so soft targets interpolate.
    return (1.0 - y) * prm.columns[3 * k] + y * prm.columns[3 * k + 1]


cdef inline double _row_bce_multilabel_probabilities(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                                     const RowParams* prm, int* error) noexcept nogil:
    # Per column k: w_k(y)·-(pw_k·y_s·log p_c + (1 - y_s)·log(1 - p_c)), then the mean over the row.
    cdef Py_ssize_t k
    cdef double acc = 0.0, pk, yk, ys, pc
    for k in range(K):
        pk = p[k]
        if fl_outside_unit_interval(pk):
            error[0] = E_PROBABILITY
        yk = y[k]
        ys = yk * prm.keep + prm.offset
        pc = fl_clip(pk, prm.lo, prm.hi)
        acc += _multilabel_weight(yk, k, prm) * -(prm.columns[3 * k + 2] * ys * fl_log(pc)
                                                  + (1.0 - ys) * fl_log(1.0 - pc))
    return acc / K


cdef inline double _row_bce_multilabel_logits(const floating_t* y, const floating_t* z, Py_ssize_t K,
                                              const RowParams* prm, int* error) noexcept nogil:
    # -(pw·y·log σ(z) + (1 - y)·log(1 - σ(z))) = pw·y·softplus(-z) + (1 - y)·softplus(z), with
    # softplus(±z) = max(±z, 0) + log1p(exp(-|z|)): no overflow, and no cancellation between the two terms.
    cdef Py_ssize_t k
    cdef double acc = 0.0, zk, yk, ys, tail
    for k in range(K):
        zk = z[k]
        yk = y[k]
        ys = yk * prm.keep + prm.offset
        tail = log1p(exp(-fabs(zk)))
        acc += _multilabel_weight(yk, k, prm) * (prm.columns[3 * k + 2] * ys * ((-zk if zk < 0.0 else 0.0) + tail)
                                                 + (1.0 - ys) * ((zk if zk > 0.0 else 0.0) + tail))
    return acc / K

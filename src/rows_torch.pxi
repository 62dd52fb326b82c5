# Row functions of the "torch" part (kernels listed in kernels_torch.py); included by _kernels.pyx.tp.
#
# torch.nn.functional's per-element formulas (SEMANTICS.md §5, torch 2.13), computed in double. fastloss/torch.py
# lays the data out so that each of these sees what it needs:
#   * elementwise losses are called with rows of K = 1 (one element per row), so that torch's element-shaped
#     `weight=` is a per-row sample weight and reduction='none' has one value per element. The row value is the
#     mean over the row (the value itself for K = 1), as for the Keras elementwise kernels.
#   * kl_div sums over its row, so that 'batchmean' can read the input as N rows of numel/N elements.
#   * per-class tables (cross_entropy's and multilabel_soft_margin's weight) arrive in prm.columns, indexed by
#     the column k of the row (NULL: every entry 1).
# Flags (prm.flags, a bit set stored in a double) are named below.

from libc.math cimport exp, fabs, log1p, pow

cdef enum:
    TORCH_LOG_TARGET = 1    # kl_div(log_target=True)
    TORCH_LOG_INPUT = 1     # poisson_nll_loss(log_input=True)
    TORCH_FULL = 2          # poisson_nll_loss(full=True): add the Stirling term


cdef inline double _torch_column(const RowParams* prm, Py_ssize_t k) noexcept nogil:
    return prm.columns[k] if prm.columns != NULL else 1.0


cdef inline bint _torch_flag(const RowParams* prm, int bit) noexcept nogil:
    return (<long>prm.flags & bit) != 0


cdef inline double _torch_softplus(double t) noexcept nogil:
    # log(1 + e^t) without overflow: max(t, 0) + log1p(e^-|t|).
    return (t if t > 0.0 else 0.0) + log1p(exp(-fabs(t)))


# ---------------------------------------------------------------------------------------------------------
# Class-index targets
# ---------------------------------------------------------------------------------------------------------

cdef inline double _row_torch_nll(Py_ssize_t label, const floating_t* logp, Py_ssize_t K,
                                  const RowParams* prm, int* error) noexcept nogil:
    # nll_loss: the input already holds log-probabilities (torch does not check them); the class weight is the
    # engine's effective weight.
    return -(<double>logp[label])


cdef inline double _row_torch_ce_smoothed(Py_ssize_t label, const floating_t* z, Py_ssize_t K,
                                          const RowParams* prm, int* error) noexcept nogil:
    # cross_entropy with label smoothing s and class weights w (prm.columns, NULL = all 1), torch's per-position
    # value: (1 - s)·w_y·(-log p_y) + (s/K)·Σ_c w_c·(-log p_c), with -log p_c = logsumexp(z) - z_c. The class
    # weights are applied here, not by the engine, because the smoothing term weights every class by its own
    # weight; torch's 'mean' divisor Σ w_y comes from a second, label-only pass (torch_label_weight).
    cdef Py_ssize_t k
    cdef double lse = _log_sum_exp(z, K), s = prm.smooth, smooth_total = 0.0
    for k in range(K):
        smooth_total += _torch_column(prm, k) * (lse - <double>z[k])
    return (1.0 - s) * (_torch_column(prm, label) * (lse - <double>z[label])) + (s / K) * smooth_total


cdef inline double _row_torch_label_weight(Py_ssize_t label, const floating_t* z, Py_ssize_t K,
                                           const RowParams* prm, int* error) noexcept nogil:
    # Loses nothing: run with class_weight, its totals carry W = Σ w_label over the included rows, the divisor
    # of torch's class-weighted 'mean' (the labels are range-checked by the engine as usual).
    return 0.0


# ---------------------------------------------------------------------------------------------------------
# Dense rows
# ---------------------------------------------------------------------------------------------------------

cdef inline double _row_torch_ce_soft_weighted(const floating_t* t, const floating_t* z, Py_ssize_t K,
                                               const RowParams* prm, int* error) noexcept nogil:
    # cross_entropy with probability targets and class weights: -Σ_c w_c·t̃_c·log_softmax(z)_c, with the
    # engine's smoothing t̃ = t·keep + offset (keep = 1 - s, offset = s/K).
    cdef Py_ssize_t k
    cdef double lse = _log_sum_exp(z, K), total = 0.0
    for k in range(K):
        total += _torch_column(prm, k) * ((<double>t[k] * prm.keep + prm.offset) * (lse - <double>z[k]))
    return total


cdef inline double _row_torch_bce(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                  const RowParams* prm, int* error) noexcept nogil:
    # binary_cross_entropy: (y - 1)·max(log1p(-p), -100) - y·max(log p, -100), torch's CPU expression; the -100
    # floor makes p = 0 or 1 cost exactly 100. Like torch, p and y outside [0, 1] (NaN included) are errors.
    cdef Py_ssize_t k
    cdef double acc = 0.0, pk, yk, log_p, log_q
    for k in range(K):
        pk = p[k]
        yk = y[k]
        if not (pk >= 0.0 and pk <= 1.0):
            error[0] = E_PROBABILITY
            return 0.0
        if not (yk >= 0.0 and yk <= 1.0):
            error[0] = E_INVALID_TARGET
            return 0.0
        log_p = fl_log(pk)
        log_q = log1p(-pk)
        log_p = log_p if log_p > -100.0 else -100.0
        log_q = log_q if log_q > -100.0 else -100.0
        acc += (yk - 1.0) * log_q - yk * log_p
    return acc / K


cdef inline double _row_torch_bce_logits(const floating_t* y, const floating_t* z, Py_ssize_t K,
                                         const RowParams* prm, int* error) noexcept nogil:
    # binary_cross_entropy_with_logits: (1 - y)·z + softplus(-z), torch's overflow-free form of
    # -[y·log σ(z) + (1 - y)·log(1 - σ(z))].
    cdef Py_ssize_t k
    cdef double acc = 0.0
    for k in range(K):
        acc += (1.0 - <double>y[k]) * <double>z[k] + _torch_softplus(-(<double>z[k]))
    return acc / K


cdef inline double _row_torch_bce_logits_pos_weight(const floating_t* y, const floating_t* z, Py_ssize_t K,
                                                    const RowParams* prm, int* error) noexcept nogil:
    # binary_cross_entropy_with_logits with pos_weight, one element per row of K = 2: the target row holds
    # (y, pw), the prediction row (z, z) (fastloss/torch.py pairs them, so that pw may vary along any axis):
    # (1 - y)·z + (1 + (pw - 1)·y)·softplus(-z) = -[pw·y·log σ(z) + (1 - y)·log(1 - σ(z))], torch's form.
    cdef double target = y[0], pos_weight = y[1], logit = z[0]
    return (1.0 - target) * logit + (1.0 + (pos_weight - 1.0) * target) * _torch_softplus(-logit)


cdef inline double _row_torch_smooth_l1(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                        const RowParams* prm, int* error) noexcept nogil:
    # smooth_l1_loss: with a = |p - y|, ½a²/β if a < β, else a - ½β. β = 0 never takes the first branch: L1.
    cdef Py_ssize_t k
    cdef double acc = 0.0, a, beta = prm.beta
    for k in range(K):
        a = fabs(<double>p[k] - <double>y[k])
        acc += 0.5 * a * a / beta if a < beta else a - 0.5 * beta
    return acc / K


cdef inline double _row_torch_huber(const floating_t* y, const floating_t* p, Py_ssize_t K,
                                    const RowParams* prm, int* error) noexcept nogil:
    # huber_loss: with a = |p - y|, ½a² if a < δ, else δ·(a - ½δ) (torch's expression; Keras writes δa - ½δ²).
    cdef Py_ssize_t k
    cdef double acc = 0.0, a, delta = prm.delta
    for k in range(K):
        a = fabs(<double>p[k] - <double>y[k])
        acc += 0.5 * a * a if a < delta else delta * (a - 0.5 * delta)
    return acc / K


cdef inline double _row_torch_kl_div(const floating_t* t, const floating_t* x, Py_ssize_t K,
                                     const RowParams* prm, int* error) noexcept nogil:
    # kl_div on a log-input x, summed over the row: xlogy(t, t) - t·x (xlogy(0, ·) = 0, so t = 0 adds -0·x; a
    # negative t gives NaN, as in torch), or with log_target: e^t·(t - x).
    cdef Py_ssize_t k
    cdef double acc = 0.0, tk, xk, xlogy
    cdef bint log_target = _torch_flag(prm, TORCH_LOG_TARGET)
    for k in range(K):
        tk = t[k]
        xk = x[k]
        if log_target:
            acc += exp(tk) * (tk - xk)
        else:
            xlogy = 0.0 if tk == 0.0 else tk * fl_log(tk)
            acc += xlogy - tk * xk
    return acc


cdef inline double _row_torch_poisson_nll(const floating_t* t, const floating_t* x, Py_ssize_t K,
                                          const RowParams* prm, int* error) noexcept nogil:
    # poisson_nll_loss: e^x - t·x (log_input) or x - t·log(x + eps); full adds Stirling's t·log t - t + ½log(2πt)
    # where t > 1.
    cdef Py_ssize_t k
    cdef double acc = 0.0, tk, xk, loss
    cdef bint log_input = _torch_flag(prm, TORCH_LOG_INPUT), full = _torch_flag(prm, TORCH_FULL)
    for k in range(K):
        tk = t[k]
        xk = x[k]
        if log_input:
            loss = exp(xk) - tk * xk
        else:
            loss = xk - tk * fl_log(xk + prm.eps)
        if full and not (tk <= 1.0):
            loss += tk * fl_log(tk) - tk + 0.5 * fl_log(6.283185307179586 * tk)
        acc += loss
    return acc / K


cdef inline double _row_torch_hinge_embedding(const floating_t* y, const floating_t* x, Py_ssize_t K,
                                              const RowParams* prm, int* error) noexcept nogil:
    # hinge_embedding_loss: x where y = 1, max(0, margin - x) where y = -1, and both terms for any other y.
    cdef Py_ssize_t k
    cdef double acc = 0.0, yk, xk, hinge
    for k in range(K):
        yk = y[k]
        xk = x[k]
        hinge = prm.margin - xk
        if yk != 1.0:
            acc += hinge if hinge > 0.0 else (hinge if hinge != hinge else 0.0)
        if yk != -1.0:
            acc += xk
    return acc / K


cdef inline double _row_torch_soft_margin(const floating_t* y, const floating_t* x, Py_ssize_t K,
                                          const RowParams* prm, int* error) noexcept nogil:
    # soft_margin_loss: log(1 + e^(-y·x)), as a softplus that does not overflow (torch's log1p(exp(.)) does).
    cdef Py_ssize_t k
    cdef double acc = 0.0
    for k in range(K):
        acc += _torch_softplus(-(<double>y[k] * <double>x[k]))
    return acc / K


cdef inline double _row_torch_multilabel_soft_margin(const floating_t* y, const floating_t* x, Py_ssize_t K,
                                                     const RowParams* prm, int* error) noexcept nogil:
    # multilabel_soft_margin_loss, one row of K classes: (1/K)·Σ_c w_c·(y·softplus(-x) + (1 - y)·softplus(x)),
    # i.e. -(y·logsigmoid(x) + (1 - y)·logsigmoid(-x)) weighted per class (prm.columns).
    cdef Py_ssize_t k
    cdef double acc = 0.0, yk, xk
    for k in range(K):
        yk = y[k]
        xk = x[k]
        acc += _torch_column(prm, k) * (yk * _torch_softplus(-xk) + (1.0 - yk) * _torch_softplus(xk))
    return acc / K


cdef inline double _row_torch_sigmoid_focal(const floating_t* y, const floating_t* x, Py_ssize_t K,
                                            const RowParams* prm, int* error) noexcept nogil:
    # torchvision.ops.sigmoid_focal_loss: ce·(1 - p_t)^γ with p = σ(x), p_t = p·y + (1 - p)(1 - y), ce the logits
    # BCE; if α >= 0, times α·y + (1 - α)(1 - y).
    cdef Py_ssize_t k
    cdef double acc = 0.0, yk, xk, p, p_t, ce, loss
    for k in range(K):
        yk = y[k]
        xk = x[k]
        p = 1.0 / (1.0 + exp(-xk))
        ce = (1.0 - yk) * xk + _torch_softplus(-xk)
        p_t = p * yk + (1.0 - p) * (1.0 - yk)
        loss = ce * pow(1.0 - p_t, prm.gamma)
        if prm.alpha >= 0.0:
            loss = loss * (prm.alpha * yk + (1.0 - prm.alpha) * (1.0 - yk))
        acc += loss
    return acc / K

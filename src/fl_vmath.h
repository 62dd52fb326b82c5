/* fl_vmath.h -- branch-free, auto-vectorisable log / log1p / exp in plain C99 (double and float).
 *
 * Written so that GCC's vectoriser turns a loop of calls into straight SIMD code (no libm calls, no
 * libmvec) under `#pragma omp simd` (-fopenmp-simd or -fopenmp) at -O3, for whatever ISA the enclosing
 * function is compiled for: plain x86-64 (SSE2), or AVX2/AVX-512 clones made with
 * __attribute__((target_clones(...))).  No -ffast-math needed; IEEE specials are handled explicitly:
 *
 *   fl_log(x):  x NaN -> NaN, x < 0 -> NaN, x = +-0 -> -inf, x = +inf -> +inf, subnormals handled.
 *               fl_log_normal(x): the same for positive normal x (or NaN), without the special cases.
 *               fdlibm e_log.c algorithm (< 1 ulp).
 *   fl_exp(x):  NaN -> NaN, overflow -> +inf, underflow -> subnormal/0; degree-11 polynomial on
 *               |r| <= ln2/2 after Cody-Waite reduction, evaluated by Estrin's scheme (< 1.06 ulp measured).
 *               fl_exp_nonpositive(x): the same for x <= 0, with cheaper scaling.
 *   fl_log1p_small(t): log1p(t) for t > -1 via u = 1+t and the standard correction (t - (u-1))/u (no
 *               special-case handling beyond what fl_log does).
 *   fl_log1p_unit(t): log1p(t) for t in [0, 1] (e.g. t = exp(-|z|)), no reduction or special cases (< 1.3 ulp).
 *   fl_softplus_neg_abs(z) = log1p(exp(-|z|)) (BCE-from-logits tail), NaN-propagating.
 *   float: fl_expf_nonpositive(x) (x <= 0), fl_log1pf_unit(e) (e in [0, 1]), fl_softplus_neg_absf(z) and
 *               fl_logf_plus(u, c) (normal u > 0), < 1-2 float ulps: the float-lane math of float32
 *               inputs (log-sum-exp terms, softplus tails, hard-label BCE).
 *
 * Everything is `static inline` so each target clone inlines its own copy compiled for its ISA.
 * Results depend on whether FMA contraction happens: compile with -ffp-contract=off to get bit-identical
 * results from the SSE2, AVX2 and AVX-512 clones (cost: a few % on AVX2/AVX-512).
 */
#ifndef FL_VMATH_H
#define FL_VMATH_H

#include <stdint.h>
#include <string.h>

#define FL_INLINE static inline __attribute__((always_inline))

FL_INLINE uint64_t fl__d2u(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
FL_INLINE double fl__u2d(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }
FL_INLINE uint32_t fl__f2u(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
FL_INLINE float fl__u2f(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }

/* ---------------------------------------------------------------------------------------------------- */
/* log, double                                                                                          */
/* ---------------------------------------------------------------------------------------------------- */
/* log(xs) + c for a positive normal xs = x·2^(kbias - 1023) (kbias = 1023 for a normal x), c small
 * (|c| < ~ulp(x)/x): c is folded into the low-order terms (fdlibm s_log1p.c). */
FL_INLINE double fl__log_core(double xs, double kbias, double c)
{
    const double ln2_hi = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
    const double ln2_lo = 1.90821492927058770002e-10; /* 0x3dea39ef35793c76 */
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    uint64_t ix = fl__d2u(xs);
    /* Reduce to m in [sqrt(2)/2, sqrt(2)): shift so the exponent field rolls over at sqrt(2). */
    ix += (uint64_t)(0x3ff00000 - 0x3fe6a09e) << 32;
    uint64_t e = ix >> 52;                                  /* biased exponent (0..2047) */
    ix = (ix & 0x000fffffffffffffULL) + ((uint64_t)0x3fe6a09e << 32);
    double m = fl__u2d(ix);
    /* int -> double without cvtqq2pd (not in SSE2/AVX2): put e in the mantissa of 2^52. */
    double k = fl__u2d(e | 0x4330000000000000ULL) - 0x1p52 - kbias;
    double f = m - 1.0;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    double R = t2 + t1;
    return k * ln2_hi - ((hfsq - (s * (hfsq + R) + (k * ln2_lo + c))) - f);
}

/* log(x) + c for any x. */
FL_INLINE double fl__log_plus(double x, double c)
{
    /* Subnormals: scale by 2^54 and correct the exponent later (select, no branch). */
    int sub = x < 0x1p-1022;
    double r = fl__log_core(sub ? x * 0x1p54 : x, sub ? 1023.0 + 54.0 : 1023.0, c);
    /* Specials: NaN -> NaN (x itself), x < 0 -> NaN, +-0 -> -inf, +inf -> +inf. */
    double special = (x < 0.0) ? __builtin_nan("") : x;
    special = (x == 0.0) ? -__builtin_inf() : special;
    int finite_pos = (x > 0.0) & (x < __builtin_inf());
    return finite_pos ? r : special;
}

/* fl_log(x) for a positive normal finite x, or NaN (-> NaN), with fl_log's bits and without its subnormal and
 * special-value selects: the logs of clipped probabilities (>= 2.2e-16, sklearn's eps) and of a log-sum-exp's sum
 * (>= 1). */
FL_INLINE double fl_log_normal(double x)
{
    double r = fl__log_core(x, 1023.0, 0.0);
    return (x != x) ? x : r;
}

FL_INLINE double fl_log(double x) { return fl__log_plus(x, 0.0); }

/* ---------------------------------------------------------------------------------------------------- */
/* exp, double                                                                                          */
/* ---------------------------------------------------------------------------------------------------- */
/* exp(r) for the reduced argument of x (|r| <= ~0.347), and k = round(x / ln2) in *kd, for an x already clamped
 * to [-746, 710]: exp(x) = exp(r)·2^k. */
FL_INLINE double fl__exp_reduced(double xc, double* kd)
{
    const double invln2 = 1.44269504088896338700e+00;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 0x1.8p52;
    double t = xc * invln2 + shifter;
    double k = t - shifter;                        /* round(x / ln2), exactly integral */
    double r = (xc - k * ln2_hi) - k * ln2_lo;     /* |r| <= ~0.347 */
    /* exp(r) = 1 + r + r^2 q(r), q of degree 9: a Chebyshev fit of (e^r - 1 - r)/r^2 on |r| <= 0.34672 (mpmath
     * chebyfit; 1.1e-16 in q, 1.8e-17 relative in exp), by Estrin's scheme (Horner's chain of dependent
     * multiply-adds left the loop waiting on latency). Measured against expl over 8e6 arguments in [-709, 709]:
     * < 1.06 ulp. Against the degree-11 Taylor q it replaced (< 1.0 ulp there): 8% less time per exp (AVX-512,
     * L1-resident). */
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double q01 = 0x1.0000000000001p-1 + r * 0x1.5555555555556p-3;
    double q23 = 0x1.5555555553d53p-5 + r * 0x1.11111111109aep-7;
    double q45 = 0x1.6c16c17892067p-10 + r * 0x1.a01a01a7c7ea3p-13;
    double q67 = 0x1.a019b8f52daa9p-16 + r * 0x1.71de0d9fa193ap-19;
    double q89 = 0x1.2891a1e5b089ap-22 + r * 0x1.af38ccc789ba8p-26;
    double q = ((q01 + r2 * q23) + r4 * (q45 + r2 * q67)) + r8 * q89;
    *kd = k;
    return 1.0 + (r + r2 * q);
}

/* 2^k (k integral, |k| <= 1074) as a double's bits: k into the exponent field. */
FL_INLINE double fl__exp2_integral(double k)
{
    const double shifter = 0x1.8p52;
    return fl__u2d((fl__d2u(k + shifter) - fl__d2u(shifter) + 1023) << 52);
}

FL_INLINE double fl_exp(double x)
{
    /* Clamp (NaN passes through: comparisons with NaN are false).  710 -> 2^1024 -> inf; -746 -> 0. */
    double xc = x > 710.0 ? 710.0 : x;
    xc = xc < -746.0 ? -746.0 : xc;
    double kd;
    const double p = fl__exp_reduced(xc, &kd);
    /* 2^k in two halves so that k in [-1076, 1024] gives correct subnormals and overflow to inf. */
    const double shifter = 0x1.8p52;
    double k1 = (kd * 0.5 + shifter) - shifter;    /* round(k/2) */
    double res = (p * fl__exp2_integral(k1)) * fl__exp2_integral(kd - k1);
    return (x != x) ? x : res;   /* keep NaN (its bits went through integer code above) */
}

/* fl_exp for x <= 0 (or NaN), with fl_exp's bits: the arguments of a log-sum-exp's terms (z - max z), of softplus
 * tails (-|z|) and of sigmoids. k <= 0 lets 2^k take one factor where p·2^k is normal (exact either way) and
 * 2^(k + 128) then 2^-128 below (one rounding into the subnormals, as fl_exp's two halves): 1.23 -> 1.07 ns per
 * element (AVX-512, L1-resident), the same bits over 2e7 arguments in [-760, 0] and the specials. A NaN x needs no
 * select at the end (8% of an exp): it reaches p through r, and p times 2^k's factors (whatever its NaN bits made
 * of them) is that NaN, quieted. */
FL_INLINE double fl_exp_nonpositive(double x)
{
    const double xc = x < -746.0 ? -746.0 : x;
    double kd;
    const double p = fl__exp_reduced(xc, &kd);
    const int deep = kd < -1000.0;
    return (p * fl__exp2_integral(deep ? kd + 128.0 : kd)) * (deep ? 0x1p-128 : 1.0);
}

/* ---------------------------------------------------------------------------------------------------- */
/* float lanes (float32 inputs, where the error analysis allows: see fl_kernels.h)                          */
/* ---------------------------------------------------------------------------------------------------- */
/* exp(x) for x <= 0 (and NaN), float: the terms of a log-sum-exp and the tail of a softplus on float lanes.
 * Cody-Waite reduction to |r| <= ln2/2 and Cephes's degree-5 minimax polynomial for (e^r - 1 - r)/r^2 (< 1 ulp);
 * 2^k applied in two halves so that results down to the subnormals are right (x < -104 gives 0); NaN propagates
 * through the polynomial. */
FL_INLINE float fl_expf_nonpositive(float x)
{
    const float invln2 = 1.44269502163f;
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187045e-06f;
    const float shifter = 0x1.8p23f;
    float xc = x < -104.0f ? -104.0f : x;
    float kd = (xc * invln2 + shifter) - shifter;     /* round(x / ln2), in [-150, 0] */
    float r = (xc - kd * ln2_hi) - kd * ln2_lo;
    float q = 1.9875691500e-4f;
    q = q * r + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    float p = 1.0f + (r + (r * r) * q);
    float k1 = (kd * 0.5f + shifter) - shifter;
    float k2 = kd - k1;
    uint32_t b1 = (fl__f2u(k1 + shifter) - fl__f2u(shifter) + 127u) << 23;
    uint32_t b2 = (fl__f2u(k2 + shifter) - fl__f2u(shifter) + 127u) << 23;
    return (p * fl__u2f(b1)) * fl__u2f(b2);
}

/* log1p(t) for t in [0, 1] (and NaN), float: with s = t / (2 + t) in [0, 1/3], log1p(t) = 2 atanh(s)
 * = t - (t²/2 - s (t²/2 + s² P(s²))) (fdlibm's split: the leading term t is exact), P a 4-term Chebyshev fit on
 * [0, 1/9]; < 1.2e-7 relative (measured over t in (0, 1]). One division, and a quarter of the operations of a
 * reduced log: on float lanes cheaper than a division-free polynomial in t (0.72 against 0.92 ns per element
 * with its exp, AVX-512). */
FL_INLINE float fl_log1pf_unit(float t)
{
    float s = t / (2.0f + t), hfsq = 0.5f * t * t, w = s * s;
    float q = 0x1.12f598p-2f;
    q = q * w + 0x1.21249ap-2f;
    q = q * w + 0x1.99ad6cp-2f;
    q = q * w + 0x1.55554cp-1f;
    return t - (hfsq - s * (hfsq + w * q));
}

/* log(u) + c in float for a normal positive u (or NaN) and a small correction c (|c| <~ ulp(u) / u), without a
 * division: exact reduction of u to m·2^k with m in [sqrt(2)/2, sqrt(2)) and x = m - 1, then Cephes's logf
 * polynomial (< 1 ulp); c joins before the exponent term, so log(u) + c keeps its relative accuracy near u = 1. */
FL_INLINE float fl_logf_plus(float u, float c)
{
    uint32_t ix = fl__f2u(u) + (0x3f800000u - 0x3f3504f3u);
    float kf = (float)((int32_t)(ix >> 23) - 127);
    float x = fl__u2f((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    float z = x * x;
    float y = 7.0376836292e-2f;
    y = y * x - 1.1514610310e-1f;
    y = y * x + 1.1676998740e-1f;
    y = y * x - 1.2420140846e-1f;
    y = y * x + 1.4249322787e-1f;
    y = y * x - 1.6668057665e-1f;
    y = y * x + 2.0000714765e-1f;
    y = y * x - 2.4999993993e-1f;
    y = y * x + 3.3333331174e-1f;
    y = (y * x) * z;
    y = y + kf * -2.12194440e-4f;
    y = y - 0.5f * z;
    float r = (x + (y + c)) + kf * 0.693359375f;
    return (u != u) ? u : r;
}

/* log1p(exp(-|z|)) in float: the BCE-from-logits tail of a float32 input, in (0, ln 2]; NaN -> NaN. */
FL_INLINE float fl_softplus_neg_absf(float z)
{
    float a = z < 0.0f ? -z : z;
    return fl_log1pf_unit(fl_expf_nonpositive(-a));
}

/* ---------------------------------------------------------------------------------------------------- */
/* log1p for t > -1 (the argument ranges that occur in the losses), and the BCE-from-logits tail          */
/* ---------------------------------------------------------------------------------------------------- */
FL_INLINE double fl_log1p_small(double t)
{
    double u = 1.0 + t;
    /* log(u) is exact for the rounded u; (t - (u - 1)) / u corrects for the rounding of 1 + t. */
    double c = (t - (u - 1.0)) / u;
    double r = fl__log_plus(u, c);
    return (u == 1.0) ? t : r;      /* tiny t: log1p(t) = t (also keeps the sign of -0) */
}

/* log1p(t) for t in [0, 1] (NaN -> NaN), without fl_log's exponent reduction and special cases: with
 * s = t / (2 + t) in [0, 1/3], log1p(t) = 2 atanh(s) = t - (t²/2 - s (t²/2 + R)), R = s² P(s²) (the fdlibm
 * split: the leading term t is exact). P is a Chebyshev fit on [0, 1/9] (absolute error 9e-17); < 1.3 ulp
 * measured against log1pl. About half the operations of fl_log1p_small, for the arguments exp(-|z|). */
FL_INLINE double fl_log1p_unit(double t)
{
    double s = t / (2.0 + t), hfsq = 0.5 * t * t, w = s * s;
    double q = 0x1.4b0a26c5f2aefp-3;
    q = q * w + 0x1.687a6e7c95176p-4;
    q = q * w + 0x1.eb905e8575054p-4;
    q = q * w + 0x1.10ac75dc602b1p-3;
    q = q * w + 0x1.3b18b294bebf9p-3;
    q = q * w + 0x1.745cf0b0e03bdp-3;
    q = q * w + 0x1.c71c727143318p-3;
    q = q * w + 0x1.24924923d44c6p-2;
    q = q * w + 0x1.999999999a3ddp-2;
    q = q * w + 0x1.5555555555555p-1;
    return t - (hfsq - s * (hfsq + w * q));
}

/* log1p(exp(-|z|)): exp argument <= 0, so the result is in (0, ln 2]; NaN -> NaN. */
FL_INLINE double fl_softplus_neg_abs(double z)
{
    double a = z < 0.0 ? -z : z;
    return fl_log1p_unit(fl_exp_nonpositive(-a));
}

#endif

/* fl_vmath.h -- branch-free, auto-vectorisable log / log1p / exp in plain C99 (double and float).
 *
 * Written so that GCC's vectoriser turns a loop of calls into straight SIMD code (no libm calls, no
 * libmvec) under `#pragma omp simd` (-fopenmp-simd or -fopenmp) at -O3, for whatever ISA the enclosing
 * function is compiled for: plain x86-64 (SSE2), or AVX2/AVX-512 clones made with
 * __attribute__((target_clones(...))).  No -ffast-math needed; IEEE specials are handled explicitly:
 *
 *   fl_log(x):  x NaN -> NaN, x < 0 -> NaN, x = +-0 -> -inf, x = +inf -> +inf, subnormals handled.
 *               fdlibm e_log.c algorithm (< 1 ulp).
 *   fl_logf(x): same for float (fdlibm e_logf.c polynomial, < 1 ulp in float).
 *   fl_exp(x):  NaN -> NaN, overflow -> +inf, underflow -> subnormal/0; degree-13 polynomial on
 *               |r| <= ln2/2 after Cody-Waite reduction (~1 ulp).
 *   fl_expf(x): float version (degree-7 polynomial).
 *   fl_log1p_small(t) / fl_log1pf_small(t): log1p(t) for t > -1 via u = 1+t and the standard correction
 *               (t - (u-1))/u (no special-case handling beyond what fl_log does).
 *   fl_log1p_unit(t) / fl_log1pf_unit(t): log1p(t) for t in [0, 1] (e.g. t = exp(-|z|)), no reduction or
 *               special cases (< 1.3 ulp in double, < 2 ulp in float).
 *   fl_softplus_neg_abs(z) = log1p(exp(-|z|)) (BCE-from-logits tail), NaN-propagating.
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
/* log(x) + c for small c (|c| < ~ulp(x)/x): c is folded into the low-order terms (fdlibm s_log1p.c). */
FL_INLINE double fl__log_plus(double x, double c)
{
    const double ln2_hi = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
    const double ln2_lo = 1.90821492927058770002e-10; /* 0x3dea39ef35793c76 */
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    /* Subnormals: scale by 2^54 and correct the exponent later (select, no branch). */
    int sub = x < 0x1p-1022;
    double xs = sub ? x * 0x1p54 : x;
    double kbias = sub ? 1023.0 + 54.0 : 1023.0;
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
    double r = k * ln2_hi - ((hfsq - (s * (hfsq + R) + (k * ln2_lo + c))) - f);
    /* Specials: NaN -> NaN (x itself), x < 0 -> NaN, +-0 -> -inf, +inf -> +inf. */
    double special = (x < 0.0) ? __builtin_nan("") : x;
    special = (x == 0.0) ? -__builtin_inf() : special;
    int finite_pos = (x > 0.0) & (x < __builtin_inf());
    return finite_pos ? r : special;
}

FL_INLINE double fl_log(double x) { return fl__log_plus(x, 0.0); }

/* ---------------------------------------------------------------------------------------------------- */
/* log, float                                                                                           */
/* ---------------------------------------------------------------------------------------------------- */
FL_INLINE float fl__logf_plus(float x, float c)
{
    const float ln2_hi = 6.9313812256e-01f; /* 0x3f317180 */
    const float ln2_lo = 9.0580006145e-06f; /* 0x3717f7d1 */
    const float Lg1 = 0xaaaaaa.0p-24f, Lg2 = 0xccce13.0p-25f, Lg3 = 0x91e9ee.0p-25f, Lg4 = 0xf89e26.0p-26f;
    int sub = x < 0x1p-126f;
    float xs = sub ? x * 0x1p25f : x;
    int32_t kbias = sub ? 0x7f + 25 : 0x7f;
    uint32_t ix = fl__f2u(xs);
    ix += 0x3f800000 - 0x3f3504f3;
    int32_t ki = (int32_t)(ix >> 23) - kbias;
    ix = (ix & 0x007fffff) + 0x3f3504f3;
    float m = fl__u2f(ix);
    float k = (float)ki;
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float w = z * z;
    float t1 = w * (Lg2 + w * Lg4);
    float t2 = z * (Lg1 + w * Lg3);
    float R = t2 + t1;
    float hfsq = 0.5f * f * f;
    float r = s * (hfsq + R) + (k * ln2_lo + c) - hfsq + f + k * ln2_hi;
    float special = (x < 0.0f) ? __builtin_nanf("") : x;
    special = (x == 0.0f) ? -__builtin_inff() : special;
    int finite_pos = (x > 0.0f) & (x < __builtin_inff());
    return finite_pos ? r : special;
}

FL_INLINE float fl_logf(float x) { return fl__logf_plus(x, 0.0f); }

/* ---------------------------------------------------------------------------------------------------- */
/* exp, double                                                                                          */
/* ---------------------------------------------------------------------------------------------------- */
FL_INLINE double fl_exp(double x)
{
    const double invln2 = 1.44269504088896338700e+00;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 0x1.8p52;
    /* Clamp (NaN passes through: comparisons with NaN are false).  710 -> 2^1024 -> inf; -746 -> 0. */
    double xc = x > 710.0 ? 710.0 : x;
    xc = xc < -746.0 ? -746.0 : xc;
    double t = xc * invln2 + shifter;
    double kd = t - shifter;                       /* round(x / ln2), exactly integral */
    double r = (xc - kd * ln2_hi) - kd * ln2_lo;   /* |r| <= ~0.347 */
    /* exp(r) = 1 + r + r^2 (1/2 + r/6 + ...): Taylor to r^13 (truncation < 1e-17 relative). */
    double q = 1.0 / 6227020800.0;
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    double p = 1.0 + (r + (r * r) * q);
    /* 2^k in two halves so that k in [-1076, 1024] gives correct subnormals and overflow to inf. */
    double k1 = (kd * 0.5 + shifter) - shifter;    /* round(k/2) */
    double k2 = kd - k1;
    uint64_t b1 = (fl__d2u(k1 + shifter) - fl__d2u(shifter) + 1023) << 52;
    uint64_t b2 = (fl__d2u(k2 + shifter) - fl__d2u(shifter) + 1023) << 52;
    double res = (p * fl__u2d(b1)) * fl__u2d(b2);
    return (x != x) ? x : res;   /* keep NaN (its bits went through integer code above) */
}

/* ---------------------------------------------------------------------------------------------------- */
/* exp, float                                                                                           */
/* ---------------------------------------------------------------------------------------------------- */
FL_INLINE float fl_expf(float x)
{
    const float invln2 = 1.44269502163f;
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187045e-06f;
    const float shifter = 0x1.8p23f;
    float xc = x > 89.0f ? 89.0f : x;
    xc = xc < -104.0f ? -104.0f : xc;
    float t = xc * invln2 + shifter;
    float kd = t - shifter;
    float r = (xc - kd * ln2_hi) - kd * ln2_lo;
    float q = 1.0f / 5040.0f;
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    q = q * r + 0.5f;
    float p = 1.0f + (r + (r * r) * q);
    float k1 = (kd * 0.5f + shifter) - shifter;
    float k2 = kd - k1;
    uint32_t b1 = (fl__f2u(k1 + shifter) - fl__f2u(shifter) + 127u) << 23;
    uint32_t b2 = (fl__f2u(k2 + shifter) - fl__f2u(shifter) + 127u) << 23;
    float res = (p * fl__u2f(b1)) * fl__u2f(b2);
    return (x != x) ? x : res;
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

FL_INLINE float fl_log1pf_small(float t)
{
    float u = 1.0f + t;
    float c = (t - (u - 1.0f)) / u;
    float r = fl__logf_plus(u, c);
    return (u == 1.0f) ? t : r;
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

/* The same for float: P is a 4-term Chebyshev fit (absolute error 3e-7, i.e. < 1.1e-7 relative on the result,
 * measured against log1pl for t = exp(-a), a in [0, 100)). */
FL_INLINE float fl_log1pf_unit(float t)
{
    float s = t / (2.0f + t), hfsq = 0.5f * t * t, w = s * s;
    float q = 0x1.12f598p-2f;
    q = q * w + 0x1.21249ap-2f;
    q = q * w + 0x1.99ad6cp-2f;
    q = q * w + 0x1.55554cp-1f;
    return t - (hfsq - s * (hfsq + w * q));
}

/* log1p(exp(-|z|)): exp argument <= 0, so the result is in (0, ln 2]; NaN -> NaN. */
FL_INLINE double fl_softplus_neg_abs(double z)
{
    double a = z < 0.0 ? -z : z;
    return fl_log1p_small(fl_exp(-a));
}

FL_INLINE float fl_softplus_neg_absf(float z)
{
    float a = z < 0.0f ? -z : z;
    return fl_log1pf_small(fl_expf(-a));
}

#endif

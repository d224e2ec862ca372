"""The statistics of the impact report, from per-group sufficient statistics (never rows per customer).

Each group (treatment, holdout) arrives as `Moments`: n, Σy, Σy², and, for CUPED, Σx, Σx², Σxy where y is a
customer's metric after entering and x their net spend in the 90 days before. The formulas (discount-engine-notes
§3.3, as GrowthBook and PostHog implement them; written here, not copied):

- CUPED: θ = cov(x, y) / var(x) over both groups pooled; each group's mean becomes ȳ - θ(x̄ - x̄_pooled) and its
  variance var(y - θx) = var(y) - 2θ·cov(x, y) + θ²·var(x). With θ = 0 this is the plain comparison.
- Relative lift Δ = μ_t / μ_c - 1, Var(Δ) ≈ v_t/μ_c² + μ_t²·v_c/μ_c⁴ (delta method, v = variance of the mean),
  Welch-Satterthwaite degrees of freedom, a two-sided t-test and interval.
- Absolute difference μ_t - μ_c with Welch's t (incremental revenue per customer).
- Sample-ratio mismatch: Pearson's χ² (1 df) of the observed split against the holdout share.

Student's t distribution is computed here (regularized incomplete beta by continued fraction), so the app needs no
SciPy; the tests compare every figure with SciPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CONFIDENCE = 0.95
SRM_THRESHOLD = 0.001  # the usual cut-off (GrowthBook's): below it the split is very unlikely to be chance


@dataclass(frozen=True)
class Moments:
    n: int
    sy: float
    syy: float
    sx: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.n + other.n,
            self.sy + other.sy,
            self.syy + other.syy,
            self.sx + other.sx,
            self.sxx + other.sxx,
            self.sxy + other.sxy,
        )

    @property
    def mean_y(self) -> float:
        return self.sy / self.n if self.n else 0.0

    @property
    def mean_x(self) -> float:
        return self.sx / self.n if self.n else 0.0

    def var_y(self) -> float:
        return _covariance(self.n, self.sy, self.sy, self.syy)

    def var_x(self) -> float:
        return _covariance(self.n, self.sx, self.sx, self.sxx)

    def cov_xy(self) -> float:
        return _covariance(self.n, self.sx, self.sy, self.sxy)


def _covariance(n: int, sa: float, sb: float, sab: float) -> float:
    """Sample covariance (n - 1) from sums; 0 below two observations."""
    if n < 2:
        return 0.0
    return (sab - sa * sb / n) / (n - 1)


@dataclass(frozen=True)
class Estimate:
    estimate: float
    low: float
    high: float
    p_value: float
    df: float

    def scaled(self, factor: float) -> Estimate:
        low, high = sorted((self.low * factor, self.high * factor))
        return Estimate(self.estimate * factor, low, high, self.p_value, self.df)

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Adjusted:
    """A group's (CUPED-adjusted) mean, the variance of one observation, and n."""

    mean: float
    var: float
    n: int


def cuped_theta(treatment: Moments, holdout: Moments) -> float:
    pooled = treatment + holdout
    var_x = pooled.var_x()
    return pooled.cov_xy() / var_x if var_x > 0 else 0.0


def adjust(group: Moments, *, theta: float, pooled_mean_x: float) -> Adjusted:
    var = group.var_y() - 2 * theta * group.cov_xy() + theta * theta * group.var_x()
    return Adjusted(group.mean_y - theta * (group.mean_x - pooled_mean_x), max(var, 0.0), group.n)


def adjusted_pair(treatment: Moments, holdout: Moments, *, cuped: bool = True) -> tuple[Adjusted, Adjusted, float]:
    theta = cuped_theta(treatment, holdout) if cuped else 0.0
    pooled_x = (treatment + holdout).mean_x
    return (
        adjust(treatment, theta=theta, pooled_mean_x=pooled_x),
        adjust(holdout, theta=theta, pooled_mean_x=pooled_x),
        theta,
    )


def welch_df(vt: float, nt: int, vc: float, nc: int) -> float:
    """Welch-Satterthwaite degrees of freedom; vt, vc are the variances of one observation."""
    at, ac = vt / nt, vc / nc
    denominator = (at * at / (nt - 1) if nt > 1 else 0.0) + (ac * ac / (nc - 1) if nc > 1 else 0.0)
    return (at + ac) ** 2 / denominator if denominator > 0 else float(max(nt + nc - 2, 1))


def _t_test(estimate: float, variance: float, df: float, confidence: float) -> Estimate:
    if variance <= 0 or not math.isfinite(variance):
        return Estimate(estimate, estimate, estimate, 1.0 if estimate == 0 else 0.0, df)
    se = math.sqrt(variance)
    half = t_quantile(0.5 + confidence / 2, df) * se
    p = 2 * t_sf(abs(estimate) / se, df)
    return Estimate(estimate, estimate - half, estimate + half, min(p, 1.0), df)


def absolute_difference(t: Adjusted, c: Adjusted, *, confidence: float = CONFIDENCE) -> Estimate:
    """μ_t - μ_c with Welch's t: the difference per customer."""
    variance = t.var / t.n + c.var / c.n
    return _t_test(t.mean - c.mean, variance, welch_df(t.var, t.n, c.var, c.n), confidence)


def relative_lift(t: Adjusted, c: Adjusted, *, confidence: float = CONFIDENCE) -> Estimate | None:
    """μ_t / μ_c - 1 by the delta method with Welch's degrees of freedom; None when μ_c ≤ 0 (no ratio to take)."""
    if c.mean <= 0:
        return None
    vt, vc = t.var / t.n, c.var / c.n
    variance = vt / c.mean**2 + t.mean**2 * vc / c.mean**4
    return _t_test(t.mean / c.mean - 1, variance, welch_df(t.var, t.n, c.var, c.n), confidence)


def srm_p_value(*, treatment: int, holdout: int, holdout_percent: float) -> float | None:
    """Pearson's χ² (1 df) of the observed split against the expected share; None without both sides."""
    total = treatment + holdout
    share = holdout_percent / 100
    if total == 0 or not 0 < share < 1:
        return None
    expected_h, expected_t = total * share, total * (1 - share)
    chi2 = (holdout - expected_h) ** 2 / expected_h + (treatment - expected_t) ** 2 / expected_t
    return math.erfc(math.sqrt(chi2 / 2))  # the χ²(1) survival function


# --- Student's t ---------------------------------------------------------------------------------------------------


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's continued fraction for the regularized incomplete beta (Numerical Recipes' betacf)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_continued_fraction(b, a, 1 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom (beyond 10⁷ the normal: closer there than the beta's
    rounding, within 10⁻⁷ either way)."""
    if df > 1e7:
        return 0.5 * math.erfc(t / math.sqrt(2))
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1 - tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T ≤ t) = p, by bisection on t_sf (monotone; 200 halvings reach double precision)."""
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while 1 - t_sf(high, df) < p:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if 1 - t_sf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2

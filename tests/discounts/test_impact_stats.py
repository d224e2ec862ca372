"""The impact report's statistics (discounts/impact/stats.py) against SciPy on generated data.

SciPy is a test dependency only: the app computes Student's t itself. Every dataset is seeded, so the coverage
checks are deterministic (they cannot flake) while still being the honest statistical property.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from discounts.impact import stats


def moments(y: np.ndarray, x: np.ndarray | None = None) -> stats.Moments:
    x = np.zeros_like(y) if x is None else x
    return stats.Moments(len(y), y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())


def spend(rng: np.random.Generator, n: int, *, lift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(post, pre) net spend per customer: skewed like real spend, many zeros, post correlated with pre."""
    habit = rng.gamma(0.8, 400.0, n)  # what each customer usually spends in a period
    pre = rng.gamma(3.0, habit / 3) * (rng.random(n) > 0.3)  # 30 % buy nothing in a period
    post = rng.gamma(3.0, habit * (1 + lift) / 3) * (rng.random(n) > 0.3)
    return post, pre


@pytest.mark.parametrize(
    ("df", "rel"),
    [(1, 1e-9), (2.5, 1e-9), (7, 1e-9), (30, 1e-9), (123.4, 1e-9), (5000, 1e-9), (2e6, 1e-8), (1e9, 1e-6)],
)
def test_student_t_matches_scipy(df, rel):
    for t in (0.0, 0.3, 1.0, 1.96, 2.5, 4.0, 10.0):
        assert stats.t_sf(t, df) == pytest.approx(scipy_stats.t.sf(t, df), rel=rel, abs=1e-15)
        assert stats.t_sf(-t, df) == pytest.approx(scipy_stats.t.sf(-t, df), rel=rel)
    for p in (0.5, 0.8, 0.95, 0.975, 0.995):
        assert stats.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=max(rel, 1e-8), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_the_plain_difference_is_welchs_t_test(seed):
    rng = np.random.default_rng(seed)
    yt, _ = spend(rng, 800, lift=0.1)
    yc, _ = spend(rng, 90)
    t, c, theta = stats.adjusted_pair(moments(yt), moments(yc), cuped=False)
    ours = stats.absolute_difference(t, c)
    theirs = scipy_stats.ttest_ind(yt, yc, equal_var=False)
    interval = theirs.confidence_interval(0.95)
    assert theta == 0
    assert ours.estimate == pytest.approx(yt.mean() - yc.mean())
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-7)
    assert ours.df == pytest.approx(theirs.df, rel=1e-9)
    assert (ours.low, ours.high) == pytest.approx((interval.low, interval.high), rel=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_cuped_is_welch_on_the_adjusted_values(seed):
    rng = np.random.default_rng(100 + seed)
    yt, xt = spend(rng, 1500, lift=0.05)
    yc, xc = spend(rng, 300)
    t, c, theta = stats.adjusted_pair(moments(yt, xt), moments(yc, xc))
    # the independent computation: θ from numpy over both groups, then SciPy's Welch test on y - θ(x - x̄)
    x_all, y_all = np.concatenate([xt, xc]), np.concatenate([yt, yc])
    expected_theta = np.cov(x_all, y_all)[0, 1] / np.var(x_all, ddof=1)
    assert theta == pytest.approx(expected_theta, rel=1e-9)
    adjusted_t, adjusted_c = yt - theta * (xt - x_all.mean()), yc - theta * (xc - x_all.mean())
    theirs = scipy_stats.ttest_ind(adjusted_t, adjusted_c, equal_var=False)
    ours = stats.absolute_difference(t, c)
    assert ours.estimate == pytest.approx(adjusted_t.mean() - adjusted_c.mean(), rel=1e-9)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-6)
    interval = theirs.confidence_interval(0.95)
    assert (ours.low, ours.high) == pytest.approx((interval.low, interval.high), rel=1e-6)
    # and CUPED narrows the interval when the pre-period predicts the post-period
    plain = stats.absolute_difference(*stats.adjusted_pair(moments(yt, xt), moments(yc, xc), cuped=False)[:2])
    assert ours.high - ours.low < plain.high - plain.low


def test_relative_lift_is_the_delta_method_with_welch_degrees_of_freedom():
    rng = np.random.default_rng(7)
    yt, xt = spend(rng, 30_000, lift=0.15)
    yc, xc = spend(rng, 4_000)
    t, c, theta = stats.adjusted_pair(moments(yt, xt), moments(yc, xc))
    ours = stats.relative_lift(t, c)
    # independently: numpy means and variances of the adjusted values, SciPy's t distribution
    pooled = np.concatenate([xt, xc]).mean()
    at, ac = yt - theta * (xt - pooled), yc - theta * (xc - pooled)
    mt, mc, vt, vc = at.mean(), ac.mean(), at.var(ddof=1) / len(at), ac.var(ddof=1) / len(ac)
    lift = mt / mc - 1
    se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
    df = (vt + vc) ** 2 / (vt**2 / (len(at) - 1) + vc**2 / (len(ac) - 1))
    half = scipy_stats.t.ppf(0.975, df) * se
    assert ours.estimate == pytest.approx(lift, rel=1e-9)
    assert (ours.low, ours.high) == pytest.approx((lift - half, lift + half), rel=1e-7)
    assert ours.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(lift) / se, df), rel=1e-6)
    # the known effect: +15 % is inside the interval, and no effect is not
    assert ours.low < 0.15 < ours.high
    assert ours.excludes_zero and ours.p_value < 0.001


def test_no_ratio_without_holdout_revenue():
    t = stats.Adjusted(mean=10.0, var=4.0, n=50)
    assert stats.relative_lift(t, stats.Adjusted(mean=0.0, var=0.0, n=50)) is None


@pytest.mark.parametrize("cuped", [True, False])
def test_under_no_effect_the_interval_covers_zero_about_95_percent_of_the_time(cuped):
    covered_relative = covered_absolute = 0
    runs = 200
    for seed in range(runs):
        rng = np.random.default_rng(10_000 + seed)
        yt, xt = spend(rng, 900)
        yc, xc = spend(rng, 100)  # a 10 % holdout
        t, c, _ = stats.adjusted_pair(moments(yt, xt), moments(yc, xc), cuped=cuped)
        relative = stats.relative_lift(t, c)
        assert relative is not None
        covered_relative += relative.low <= 0 <= relative.high
        absolute = stats.absolute_difference(t, c)
        covered_absolute += absolute.low <= 0 <= absolute.high
    # 200 seeded runs: a 95 % interval covers 190 on average; 180-198 is the honest band (fixed seeds: no flakes)
    assert 180 <= covered_relative <= 198, covered_relative
    assert 180 <= covered_absolute <= 198, covered_absolute


@pytest.mark.parametrize(
    ("treatment", "holdout", "percent"),
    [(900, 100, 10), (880, 120, 10), (700, 300, 25), (500, 520, 50), (9000, 1300, 12)],
)
def test_sample_ratio_mismatch_is_pearsons_chi_square(treatment, holdout, percent):
    total = treatment + holdout
    expected = [total * (1 - percent / 100), total * percent / 100]
    theirs = scipy_stats.chisquare([treatment, holdout], expected)
    assert stats.srm_p_value(treatment=treatment, holdout=holdout, holdout_percent=percent) == pytest.approx(
        theirs.pvalue, rel=1e-9
    )


def test_a_clear_mismatch_is_below_the_threshold_and_a_fair_split_is_not():
    assert stats.srm_p_value(treatment=9000, holdout=1300, holdout_percent=10) < stats.SRM_THRESHOLD
    assert stats.srm_p_value(treatment=9010, holdout=990, holdout_percent=10) > stats.SRM_THRESHOLD
    assert stats.srm_p_value(treatment=0, holdout=0, holdout_percent=10) is None

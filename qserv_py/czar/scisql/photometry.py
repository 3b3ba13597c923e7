"""sciSQL's photometry UDFs as plain SQL (``src/photometry.h``, ``src/udfs/*.c``).

Every function returns NULL for a NULL argument, an invalid one (a flux <= 0, a negative sigma)
or a result that is not finite in C (reference/sphgeom-and-scisql.md §3.7). C reaches ``inf``
silently, but MariaDB raises error 1690 and fails the whole query on any overflowing ``*``, ``/``
or ``POW``, so each operation that can overflow is preceded by an exact test (``mul_finite``,
``div_finite``, thresholds computed below) in a CASE, which MariaDB evaluates lazily::

    scisql_fluxToAbMagSigma(f, fs)
    -> CASE WHEN CAST(f AS DOUBLE) IS NULL OR CAST(fs AS DOUBLE) IS NULL THEN NULL
            WHEN NOT (CAST(f AS DOUBLE) > 0e0 AND CAST(fs AS DOUBLE) >= 0e0) THEN NULL
            WHEN CAST(fs AS DOUBLE) > 1.655736565644681e+308 THEN NULL
            WHEN NOT <C·fs / f is finite> THEN NULL
            ELSE 1.0857362047581296e0 * CAST(fs AS DOUBLE) / CAST(f AS DOUBLE) END

Where C computes ``inf`` and still returns a finite value (``x / inf = 0`` in the ``dn``
functions), the SQL returns that value too.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from qserv_py.czar.scisql import model
from qserv_py.czar.scisql.geometry import nums, operands
from qserv_py.czar.scisql.terms import (
    Num,
    Pred,
    Value,
    add,
    any_null,
    case_,
    case_num,
    case_pred,
    div,
    div_finite,
    eq,
    fabs,
    greatest,
    gt,
    le,
    least,
    log10,
    lt,
    mul,
    mul_finite,
    not_,
    or_,
    pow_,
    render,
    sqrt,
    sub,
)

C_MAG = model.FIVE_OVER_2LOG10  # 2.5 / ln 10
K_FLUX = model.TWOLOG10_OVER_5  # ln 10 / 2.5
S_AB = model.AB_FLUX_SCALE  # 10^(-48.6/2.5)
# The largest exponent with pow(10, e) finite (glibc; the next double overflows by ~600 ulp).
POW10_MAX = 308.2547155599167
# The largest x with C_MAG * x finite.
SIGMA_MAX = 1.655736565644681e308


def _mag(flux: Num, zero_point: float) -> Num:
    """``-2.5 * log10(flux) + zero_point`` as C writes it (``- 48.6`` / ``+ 31.4``)."""
    scaled = mul(-2.5, log10(flux))
    return sub(scaled, -zero_point) if zero_point < 0.0 else add(scaled, zero_point)


def _exponent(mag: Num, offset: float) -> Num:
    """``-0.4 * (mag + 48.6)`` or ``-0.4 * (mag - 31.4)``."""
    return mul(-0.4, add(mag, offset) if offset > 0.0 else sub(mag, -offset))


def _prologue(values: Sequence[Value], invalid: Pred) -> list[tuple[Pred, Value]]:
    return [(any_null(*values), None), (invalid, None)]


def _to_mag(args: Sequence[exp.Expr], name: str, zero_point: float) -> exp.Expression:
    values = operands(name, args)
    (f,) = nums(values)
    return render(case_(*_prologue(values, le(f, 0.0)), default=_mag(f, zero_point)))


def _to_mag_sigma(args: Sequence[exp.Expr], name: str) -> exp.Expression:
    values = operands(name, args)
    f, fs = nums(values)
    q = mul(C_MAG, fs)
    body = case_(
        *_prologue(values, or_(le(f, 0.0), lt(fs, 0.0))),
        (gt(fs, SIGMA_MAX), None),
        (not_(div_finite(q, f)), None),
        default=div(q, f),
    )
    return render(body)


def _from_mag(args: Sequence[exp.Expr], name: str, offset: float) -> exp.Expression:
    values = operands(name, args)
    (m,) = nums(values)
    e = _exponent(m, offset)
    body = case_(*_prologue(values, False), (gt(e, POW10_MAX), None), default=pow_(10.0, e))
    return render(body)


def _from_mag_sigma(args: Sequence[exp.Expr], name: str, offset: float) -> exp.Expression:
    values = operands(name, args)
    m, ms = nums(values)
    e = _exponent(m, offset)
    flux = pow_(10.0, e)
    body = case_(
        *_prologue(values, lt(ms, 0.0)),
        (gt(e, POW10_MAX), None),
        (not_(mul_finite(ms, flux)), None),
        default=mul(mul(ms, flux), K_FLUX),
    )
    return render(body)


def flux_to_ab_mag(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_fluxToAbMag(flux)``: -2.5·log10(flux) - 48.6, flux in erg/cm²/s/Hz."""
    return _to_mag(args, "scisql_fluxToAbMag", -48.6)


def nanojansky_to_ab_mag(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_nanojanskyToAbMag(flux)``: -2.5·log10(flux) + 31.4, flux in nJy."""
    return _to_mag(args, "scisql_nanojanskyToAbMag", 31.4)


def flux_to_ab_mag_sigma(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_fluxToAbMagSigma(flux, fluxSigma)``: (2.5/ln 10)·fluxSigma / flux."""
    return _to_mag_sigma(args, "scisql_fluxToAbMagSigma")


def nanojansky_to_ab_mag_sigma(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_nanojanskyToAbMagSigma(flux, fluxSigma)``: as fluxToAbMagSigma."""
    return _to_mag_sigma(args, "scisql_nanojanskyToAbMagSigma")


def ab_mag_to_flux(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_abMagToFlux(mag)``: 10^(-0.4·(mag + 48.6)); NULL where it overflows."""
    return _from_mag(args, "scisql_abMagToFlux", 48.6)


def ab_mag_to_nanojansky(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_abMagToNanojansky(mag)``: 10^(-0.4·(mag - 31.4)); NULL where it overflows."""
    return _from_mag(args, "scisql_abMagToNanojansky", -31.4)


def ab_mag_to_flux_sigma(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_abMagToFluxSigma(mag, magSigma)``: magSigma · flux(mag) · ln 10 / 2.5."""
    return _from_mag_sigma(args, "scisql_abMagToFluxSigma", 48.6)


def ab_mag_to_nanojansky_sigma(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_abMagToNanojanskySigma(mag, magSigma)``: as abMagToFluxSigma, in nJy."""
    return _from_mag_sigma(args, "scisql_abMagToNanojanskySigma", -31.4)


# ---- the fluxMag0 ("dn") family ----


def _hypot(a: Num, b: Num) -> tuple[Pred, Num]:
    """scisql_hypot(a, b) = |a|·sqrt(1 + (b/a)²) after ordering |a| >= |b|, for finite a, b:
    (whether it is finite, its value). Only |b/a| enters, so LEAST/GREATEST of the absolute
    values order the pair without repeating a CASE."""
    big, small = greatest(fabs(a), fabs(b)), least(fabs(a), fabs(b))
    q = div(small, big)
    root = sqrt(add(1.0, mul(q, q)))
    finite = case_pred((eq(big, 0.0), True), default=mul_finite(big, root))
    return finite, case_num((eq(big, 0.0), 0.0), default=mul(big, root))


def _dn2flux(dn: Num, fm0: Num) -> tuple[Pred, Num]:
    """(finite, S·dn/fm0) for fm0 > 0; S·dn cannot overflow (S < 1)."""
    q = mul(S_AB, dn)
    return div_finite(fabs(q), fm0), div(q, fm0)


def _dn2fluxsigma(dn: Num, dns: Num, fm0: Num, fm0s: Num) -> tuple[Pred, Num]:
    """(finite, S·hypot(dn·fm0σ, dnσ·fm0) / fm0²): an overflowing fm0² makes it 0, as in C."""
    h_finite, h = _hypot(mul(dn, fm0s), mul(dns, fm0))
    sh = mul(S_AB, h)
    d = mul(fm0, fm0)
    finite = case_pred(
        (not_(mul_finite(fabs(dn), fm0s)), False),
        (not_(mul_finite(dns, fm0)), False),
        (not_(h_finite), False),
        (not_(mul_finite(fm0, fm0)), True),
        (eq(d, 0.0), False),
        default=div_finite(sh, d),
    )
    return finite, case_num((not_(mul_finite(fm0, fm0)), 0.0), default=div(sh, d))


def _flux2dnsigma(flux: Num, fs: Num, fm0: Num, fm0s: Num) -> tuple[Pred, Num]:
    """(finite, hypot(flux·fm0σ, fm0·fluxσ) / S) for finite flux, fs."""
    h_finite, h = _hypot(mul(flux, fm0s), mul(fm0, fs))
    finite = case_pred(
        (not_(mul_finite(fabs(flux), fm0s)), False),
        (not_(mul_finite(fm0, fabs(fs))), False),
        (not_(h_finite), False),
        default=div_finite(h, S_AB),
    )
    return finite, div(h, S_AB)


def dn_to_flux(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_dnToFlux(dn, fluxMag0)``: S·dn / fluxMag0."""
    values = operands("scisql_dnToFlux", args)
    dn, fm0 = nums(values)
    finite, flux = _dn2flux(dn, fm0)
    body = case_(*_prologue(values, le(fm0, 0.0)), (not_(finite), None), default=flux)
    return render(body)


def dn_to_ab_mag(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_dnToAbMag(dn, fluxMag0)``: fluxToAbMag(dnToFlux(dn, fluxMag0))."""
    values = operands("scisql_dnToAbMag", args)
    dn, fm0 = nums(values)
    finite, flux = _dn2flux(dn, fm0)
    body = case_(
        *_prologue(values, or_(le(dn, 0.0), le(fm0, 0.0))),
        (not_(finite), None),
        (eq(flux, 0.0), None),  # log10(0) = -inf
        default=_mag(flux, -48.6),
    )
    return render(body)


def dn_to_flux_sigma(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_dnToFluxSigma(dn, dnSigma, fluxMag0, fluxMag0Sigma)``."""
    values = operands("scisql_dnToFluxSigma", args)
    dn, dns, fm0, fm0s = nums(values)
    finite, value = _dn2fluxsigma(dn, dns, fm0, fm0s)
    invalid = or_(lt(dns, 0.0), le(fm0, 0.0), lt(fm0s, 0.0))
    return render(case_(*_prologue(values, invalid), (not_(finite), None), default=value))


def dn_to_ab_mag_sigma(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_dnToAbMagSigma(dn, dnSigma, fluxMag0, fluxMag0Sigma)``:
    fluxToAbMagSigma(dnToFlux(...), dnToFluxSigma(...)); an overflowing flux gives 0."""
    values = operands("scisql_dnToAbMagSigma", args)
    dn, dns, fm0, fm0s = nums(values)
    fs_finite, fs = _dn2fluxsigma(dn, dns, fm0, fm0s)
    flux_finite, flux = _dn2flux(dn, fm0)
    q = mul(C_MAG, fs)
    invalid = or_(le(dn, 0.0), lt(dns, 0.0), le(fm0, 0.0), lt(fm0s, 0.0))
    body = case_(
        *_prologue(values, invalid),
        (not_(fs_finite), None),
        (gt(fs, SIGMA_MAX), None),
        (not_(flux_finite), 0.0),  # q / inf
        (eq(flux, 0.0), None),  # q / 0: inf or NaN
        (not_(div_finite(q, flux)), None),
        default=div(q, flux),
    )
    return render(body)


def flux_to_dn(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_fluxToDn(flux, fluxMag0)``: flux·fluxMag0 / S."""
    values = operands("scisql_fluxToDn", args)
    f, fm0 = nums(values)
    p = mul(f, fm0)
    body = case_(
        *_prologue(values, le(fm0, 0.0)),
        (not_(mul_finite(fabs(f), fm0)), None),
        (not_(div_finite(fabs(p), S_AB)), None),
        default=div(p, S_AB),
    )
    return render(body)


def flux_to_dn_sigma(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_fluxToDnSigma(flux, fluxSigma, fluxMag0, fluxMag0Sigma)``."""
    values = operands("scisql_fluxToDnSigma", args)
    f, fs, fm0, fm0s = nums(values)
    finite, value = _flux2dnsigma(f, fs, fm0, fm0s)
    invalid = or_(lt(fs, 0.0), le(fm0, 0.0), lt(fm0s, 0.0))
    return render(case_(*_prologue(values, invalid), (not_(finite), None), default=value))


def ab_mag_to_dn(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_abMagToDn(mag, fluxMag0)``: fluxToDn(abMagToFlux(mag), fluxMag0)."""
    values = operands("scisql_abMagToDn", args)
    m, fm0 = nums(values)
    e = _exponent(m, 48.6)
    flux = pow_(10.0, e)
    p = mul(flux, fm0)
    body = case_(
        *_prologue(values, le(fm0, 0.0)),
        (gt(e, POW10_MAX), None),
        (not_(mul_finite(flux, fm0)), None),
        (not_(div_finite(p, S_AB)), None),
        default=div(p, S_AB),
    )
    return render(body)


def ab_mag_to_dn_sigma(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_abMagToDnSigma(mag, magSigma, fluxMag0, fluxMag0Sigma)``."""
    values = operands("scisql_abMagToDnSigma", args)
    m, ms, fm0, fm0s = nums(values)
    e = _exponent(m, 48.6)
    flux = pow_(10.0, e)
    fs = mul(mul(ms, flux), K_FLUX)
    finite, value = _flux2dnsigma(flux, fs, fm0, fm0s)
    invalid = or_(lt(ms, 0.0), le(fm0, 0.0), lt(fm0s, 0.0))
    body = case_(
        *_prologue(values, invalid),
        (gt(e, POW10_MAX), None),
        (not_(mul_finite(ms, flux)), None),
        (not_(finite), None),
        default=value,
    )
    return render(body)

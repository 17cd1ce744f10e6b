"""Validation of layer hyper-parameters (ndim, stride, padding, dilation, groups, …).

Bad configurations are caught here, before any derivation, with one clear MatcalcError each;
the rest of the module can then assume well-formed tuples of ints.
"""
from __future__ import annotations

from matcalc.errors import ShapeError, UnsupportedError


def check_ndim(ndim) -> int:
    """``ndim`` as an int in {1, 2, 3}."""
    if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim not in (1, 2, 3):
        raise UnsupportedError(f"ndim must be 1, 2 or 3 (spatial dimensions), got {ndim!r}")
    return ndim


def as_tuple(value, ndim: int, name: str, minimum: int) -> tuple[int, ...]:
    """An int or a sequence of ``ndim`` ints, each ≥ ``minimum``, as a tuple of ``ndim`` ints."""
    items = (value,) * ndim if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    ok = items is not None and len(items) == ndim and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in items)
    if not ok:
        raise ShapeError(f"{name} must be an int ≥ {minimum} or a tuple of {ndim} such ints, got {value!r}")
    return items


def check_groups(groups) -> int:
    """``groups`` as a positive int (divisibility of the channels is checked against the arrays)."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ShapeError(f"groups must be a positive int, got {groups!r}")
    return groups


def check_channels(in_channels: int | None, out_channels: int | None, groups: int) -> None:
    """Both channel counts, when known, must be multiples of ``groups``."""
    for name, value in (("C_in (input channels)", in_channels), ("C_out (output channels)", out_channels)):
        if value is not None and value % groups:
            raise ShapeError(f"groups = {groups} must divide {name}, but {name} = {value}")


def check_output_padding(output_padding: tuple[int, ...], stride: tuple[int, ...],
                         dilation: tuple[int, ...]) -> None:
    """PyTorch's rule for transposed convolutions: output_padding < max(stride, dilation)."""
    for a, s, d in zip(output_padding, stride, dilation):
        if a >= max(s, d):
            raise ShapeError(f"output_padding {output_padding} must be smaller than stride or dilation "
                             f"along every axis (stride {stride}, dilation {dilation})")

"""Bad configurations and badly shaped arrays end in a MatcalcError subclass with a clear message."""
import numpy as np
import pytest

from matcalc import conv
from matcalc.errors import EvaluationError, MatcalcError, ShapeError, UnsupportedError


@pytest.mark.parametrize("kwargs, match", [
    (dict(stride=0), "stride must be an int ≥ 1"),
    (dict(stride=-2), "stride must be an int ≥ 1"),
    (dict(stride=(1, 0)), "stride"),
    (dict(stride=(2,)), "tuple of 2"),
    (dict(stride=1.5), "stride"),
    (dict(padding=-1), "padding must be an int ≥ 0"),
    (dict(dilation=0), "dilation must be an int ≥ 1"),
    (dict(groups=0), "groups must be a positive int"),
    (dict(groups=True), "groups must be a positive int"),
    (dict(groups=2, in_channels=5), "groups = 2 must divide C_in"),
    (dict(groups=3, out_channels=4), "groups = 3 must divide C_out"),
])
def test_invalid_configurations(kwargs, match):
    with pytest.raises(ShapeError, match=match):
        conv.conv_gradients(ndim=2, **kwargs)


def test_unsupported_ndim():
    with pytest.raises(UnsupportedError, match="ndim must be 1, 2 or 3"):
        conv.conv_gradients(ndim=4)


def test_output_padding_must_be_below_stride_or_dilation():
    with pytest.raises(ShapeError, match="output_padding"):
        conv.conv_transpose_gradients(ndim=1, stride=2, output_padding=2)


def test_groups_not_dividing_input_channels():
    g = conv.conv_gradients(ndim=1, groups=2)
    with pytest.raises(ShapeError, match="groups = 2 must divide C_in = 5"):
        g.forward.evaluate(V=np.ones((1, 5, 6)), W=np.ones((4, 2, 3)), b=np.ones(4))


def test_groups_not_dividing_output_channels():
    g = conv.conv_gradients(ndim=1, groups=2)
    with pytest.raises(ShapeError, match="groups = 2 must divide C_out = 3"):
        g.grad_bias.evaluate(delta=np.ones((1, 3, 4)))


@pytest.mark.parametrize("arrays, match", [
    (dict(V=np.ones((1, 2, 6, 6)), W=np.ones((3, 2, 3)), delta=np.ones((1, 3, 4, 4))), "W must have 4 axes"),
    (dict(V=np.ones((1, 2, 6, 6)), W=np.ones((3, 4, 3, 3)), delta=np.ones((1, 3, 4, 4))), "W has shape"),
    (dict(V=np.ones((1, 2, 6, 6)), W=np.ones((3, 2, 3, 3)), delta=np.ones((1, 3, 5, 4))), "H_out_h"),
    (dict(V=np.ones((2, 2, 6, 6)), W=np.ones((3, 2, 3, 3)), delta=np.ones((1, 3, 4, 4))), "delta has shape"),
    (dict(V=np.ones((1, 2, 2, 6)), W=np.ones((3, 2, 3, 3)), delta=np.ones((1, 3, 4, 4))), "kernel does not fit"),
    (dict(V=np.ones((1, 2, 6, 6)), W=np.ones((3, 2, 3, 3)), b=np.ones(4), delta=np.ones((1, 3, 4, 4))), "b has shape"),
])
def test_arrays_of_wrong_shape(arrays, match):
    g = conv.conv_gradients(ndim=2)
    with pytest.raises(ShapeError, match=match):
        g.grad_input.evaluate(**arrays)


def test_missing_keywords():
    g = conv.conv_gradients(ndim=1)
    with pytest.raises(EvaluationError, match="needs W=, delta="):
        g.grad_input.evaluate(V=np.ones((1, 2, 5)))
    with pytest.raises(EvaluationError, match="pass V= too"):
        g.grad_input.evaluate(W=np.ones((3, 2, 3)), delta=np.ones((1, 3, 3)))
    with pytest.raises(EvaluationError, match="needs b="):
        g.forward.evaluate(V=np.ones((1, 2, 5)), W=np.ones((3, 2, 3)))


def test_every_part_accepts_all_four_keywords():
    g = conv.conv_gradients(ndim=1, stride=2)
    rng = np.random.default_rng(0)
    A = dict(V=rng.standard_normal((1, 2, 7)), W=rng.standard_normal((3, 2, 3)), b=rng.standard_normal(3),
             delta=rng.standard_normal((1, 3, 3)))
    shapes = [part.evaluate(**A).shape for part in (g.forward, g.grad_input, g.grad_weight, g.grad_bias)]
    assert shapes == [(1, 3, 3), (1, 2, 7), (3, 2, 3), (3,)]


def test_avgpool_has_no_weight():
    g = conv.avgpool_gradients(ndim=1, kernel_size=2)
    with pytest.raises(EvaluationError, match="has no W"):
        g.grad_input.evaluate(V=np.ones((1, 1, 4)), W=np.ones((1, 1, 2)), delta=np.ones((1, 1, 2)))


def test_all_errors_are_matcalc_errors():
    assert issubclass(ShapeError, MatcalcError) and issubclass(EvaluationError, MatcalcError)

"""The ``matcalc conv`` subcommand through its ``add_arguments``/``run`` pair."""
import argparse

import pytest

from matcalc.conv import cli


def run(argv, capsys):
    parser = argparse.ArgumentParser(prog="matcalc conv")
    cli.add_arguments(parser)
    code = cli.run(parser.parse_args(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_has_forward_and_three_gradients(capsys):
    code, out, err = run(["--ndim", "2", "--stride", "2", "--padding", "1"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "2-D conv, s_h = 2, s_w = 2, p_h = 1, p_w = 1, d_h = 1, d_w = 1, G = 1"
    for head in ("Z[n, g·C_out/G + o, x, y] = Σ_{c, i, j} W[", "∂L/∂b[g·C_out/G + o] = Σ_{n, x, y} δ[",
                 "∂L/∂W[g·C_out/G + o, c, i, j] = Σ_{n, x, y} δ[", "∂L/∂V[n, g·C_in/G + c, h, w] = Σ_{o, i, j} δ["):
        assert any(line.startswith(head) for line in lines), head
    assert "[s_h | h + p_h − d_h·i]" in out
    assert out.count("closed form:") == 3


def test_tuple_stride_and_specialised_numbers(capsys):
    code, out, _ = run(["--ndim", "2", "--stride", "2,1", "--padding", "1", "--specialise"], capsys)
    assert code == 0
    assert ("∂L/∂V[n, c, h, w] = Σ_{o, i, j} δ[n, o, (h + 1 − i)/2, w + 1 − j] · W[o, c, i, j] · [2 | h + 1 − i] · "
            "[0 ≤ (h + 1 − i)/2 < H_out_h] · [0 ≤ w + 1 − j < H_out_w]") in out


def test_latex_format(capsys):
    code, out, _ = run(["--ndim", "1", "--stride", "2", "--format", "latex"], capsys)
    assert code == 0
    assert r"\frac{\partial L}{\partial V}\left[n, g \frac{C_{in}}{G} + c, h\right] = \sum_{o, i}" in out
    assert len(out.strip().splitlines()) == 4


def test_steps_are_printed(capsys):
    code, out, _ = run(["--ndim", "1", "--stride", "2", "--steps"], capsys)
    assert code == 0
    assert "derivation:" in out and "sum out [h = s·x + d·i − p] over x" in out


def test_other_layers(capsys):
    code, out, _ = run(["--layer", "avgpool", "--ndim", "1", "--kernel-size", "3", "--specialise"], capsys)
    assert code == 0 and "∂L/∂V[n, c, h] = Σ_{i} (1/3)·δ[n, c, (h − i)/3]" in out
    code, out, _ = run(["--layer", "conv_transpose", "--ndim", "1", "--stride", "2", "--output-padding", "1",
                        "--specialise", "--no-bias"], capsys)
    assert code == 0 and "∂L/∂V[n, c, h] = Σ_{o, i} δ[n, o, 2·h + i] · W[c, o, i] · [0 ≤ 2·h + i < H_out]" in out
    assert "∂L/∂b" not in out


def test_bad_configuration_returns_error_code(capsys):
    from matcalc.shell.cli import main
    code = main(["conv", "--stride", "0"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("ShapeError: stride must be an int ≥ 1")


def test_malformed_tuple_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        run(["--stride", "2,x"], capsys)


def test_specialised_fractions_share_one_denominator(capsys):
    code, out, _ = run(["--ndim", "2", "--stride", "2", "--padding", "1", "--dilation", "2", "--specialise"], capsys)
    assert code == 0
    assert "δ[n, o, (h + 1 − 2·i)/2, (w + 1 − 2·j)/2]" in out and "1/2" not in out

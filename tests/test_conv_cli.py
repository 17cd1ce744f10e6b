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


def test_steps_with_check_mark_every_step(capsys):
    code, out, err = run(["--ndim", "1", "--stride", "2", "--padding", "1", "--steps", "--check"], capsys)
    assert code == 0 and err == ""
    assert "checked at random arrays of sizes " in out and ", H_out = " in out
    marks = [line.split()[0] for line in out.splitlines() if line.strip()[:1] in "✓✗" and ". " in line]
    assert len(marks) == 13 and set(marks) == {"✓"}
    assert "✓ 0e+00  5. sum out [h = s·x + d·i − p] over x" in out
    assert out.count("verified: ") == 3 and out.rstrip().endswith("verification: all 13 steps hold")


def test_check_leaves_the_formulas_as_they_were(capsys):
    _, plain, _ = run(["--ndim", "1", "--stride", "2", "--dilation", "2", "--steps"], capsys)
    code, checked, _ = run(["--ndim", "1", "--stride", "2", "--dilation", "2", "--steps", "--check"], capsys)
    assert code == 0
    def strip(text):   # each line without its indentation and its ✓/✗ mark
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return [line.split("  ", 1)[-1].strip() if line[:1] in "✓✗" else line for line in lines]

    kept = [line for line in strip(checked) if not line.startswith(("verified:", "verification:", "checked at"))]
    assert [line.replace("  (each step checked numerically at random arrays)", "") for line in kept] == strip(plain)


def test_a_failing_step_is_shown_and_the_exit_status_says_so(capsys, monkeypatch):
    from matcalc.conv import api
    from matcalc.indexsum import derive
    original = derive.sum_out_delta

    def shifting(term, k, prefer=()):
        result = original(term, k, prefer)
        if result is None or result[2].is_Symbol:
            return result
        d = term.factors[k]
        return original(type(term)(term.factors[:k] + (type(d)(d.lhs + 1, d.rhs),) + term.factors[k + 1:],
                                   term.bound, term.coeff), k, prefer)

    monkeypatch.setattr(derive, "sum_out_delta", shifting)
    api._conv.cache_clear()
    try:
        code, out, err = run(["--ndim", "1", "--stride", "2", "--steps", "--check"], capsys)
    finally:
        api._conv.cache_clear()
    assert code == 1 and err.startswith("verification: FAILED at ∂L/∂V step 5")
    (line,) = [line for line in out.splitlines() if line.strip().startswith("✗")]
    assert "5. sum out [h = s·x + d·i − p] over x" in line   # the step as recorded, marked failed
    assert "verified: 4 of 5 steps hold" in out

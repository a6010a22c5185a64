"""Every bad input gets one line naming what was wrong and what is allowed, and exit code 2."""

import pytest

from tests.helpers import batchmark


@pytest.mark.parametrize("args, fragment", [
    (["run", "resnet50"], "unknown workload 'resnet50'"),
    (["run", "densenet", "--quick"], "Did you mean 'densenet121'"),
    (["run", "--framework", "caffe"], "unknown framework 'caffe'"),
    (["run", "--framework", ","], "names no framework"),
    (["run", "--device", "tpu"], "unknown device 'tpu'"),
    (["run", "--plan", "colour=red"], "unknown plan switch 'colour'"),
    (["run", "--plan", "fastest"], "unknown plan 'fastest'"),
    (["run", "--plan", "precision=fp8"], "unknown precision 'fp8'"),
    (["run", "--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
    (["run", "--batch-size", "-3"], "--batch-size must be a positive integer, got -3"),
    (["run", "--steps", "0"], "--steps must be a positive integer"),
    (["run", "densenet121", "--image-size", "16"], "needs at least 32"),
    (["run", "cyclegan", "--image-size", "300"], "a multiple of 256"),
    (["run", "gpt2_124m", "--image-size", "2048"], "needs 1 to 1024 tokens of context"),
    (["run", "vit_b16", "--image-size", "256"], "needs exactly 224 pixels"),
    (["run", "--suite", "transformers"], "unknown suite 'transformers'"),
    (["run", "--device", "cuda"], "--device cuda"),
    (["run", "--weights", "/nonexistent.pt", "mobilenetv3"], "no such file"),
    (["run", "--weights", "/nonexistent.pt"], "exactly one workload"),
    (["run", "--framework", "torch", "--plan", "compile=xla", "--quick"], "compile=xla does not exist in torch"),
    (["run", "--framework", "jax", "--plan", "compile=off", "--quick"], "compile=off does not exist in jax"),
    (["run", "--framework", "tensorflow", "--plan", "channels_last=false", "--quick"], "NHWC only"),
    (["run", "--budget", "soon"], "--budget 'soon' must be minutes"),
    (["run", "--budget", "0"], "--budget '0' must be minutes"),
])
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    result = batchmark(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Allowed" in lines[0] or "needs" in lines[0] or "must" in lines[0] or "no such" in lines[0] \
        or "exactly" in lines[0] or "no NVIDIA GPU" in lines[0] or "NHWC" in lines[0]


def test_list_shows_workloads_frameworks_plans_and_devices():
    result = batchmark("list")
    assert result.returncode == 0
    for name in ("resnet50v2_finetune", "mobilenetv3", "densenet121", "cyclegan", "style_transfer", "torch",
                 "baseline", "accelerated", "cpu"):
        assert name in result.stdout


def test_info_fingerprint_as_json():
    import json

    result = batchmark("info", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["cpu"]["logical_cores"] >= 1
    assert data["memory_bytes"] > 0
    assert data["frameworks"]["torch"].startswith("2.13.0")
    assert {"os", "python", "gpus", "batchmark"} <= set(data)


def test_help_does_not_import_frameworks():
    import subprocess
    import sys

    code = ("import sys; from batchmark import cli; "
            "sys.argv=['batchmark','list']; "
            "import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: cli.app()\n"
            "    except SystemExit: pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_a_framework_that_is_not_installed_is_named_with_its_install_command(monkeypatch):
    from typer.testing import CliRunner

    from batchmark import cli, frameworks

    real = frameworks._version
    monkeypatch.setattr(frameworks, "_version", lambda name: None if name == "jax" else real(name))
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["list"])
    assert "not installed: pip install -c constraints.txt -e '.[jax]'" in " ".join(listed.output.split())
    info = runner.invoke(cli.app, ["info"])
    assert "jax" in info.output and "not installed" in info.output
    refused = runner.invoke(cli.app, ["run", "--framework", "jax"])
    assert refused.exit_code == 2
    assert "framework 'jax' is not installed; install it with: pip install" in " ".join(refused.output.split())

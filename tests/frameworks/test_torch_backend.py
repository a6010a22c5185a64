"""The torch backend's device plumbing, checked without the hardware by recording what it calls."""

import pytest
import torch

from batchmark.errors import Unsupported
from batchmark.plans import Plan
from batchmark.frameworks import torch_backend
from batchmark.frameworks.torch_backend import TorchDevice, check_supported, load_weights, set_float32_math


@pytest.mark.parametrize("device, module", [("cuda", torch.cuda), ("mps", torch.mps)])
def test_accelerator_sync_calls_the_framework(monkeypatch, device, module):
    calls = []
    monkeypatch.setattr(module, "synchronize", lambda *args: calls.append(device))
    TorchDevice(device).synchronize()
    assert calls == [device]


def test_cpu_needs_no_sync(monkeypatch):
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *args: pytest.fail("CPU must not touch CUDA"))
    TorchDevice("cpu").synchronize()


def test_fp32_switches_tf32_off_and_tf32_on():
    set_float32_math(Plan(precision="tf32"))
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    set_float32_math(Plan(precision="fp32"))
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert torch.get_float32_matmul_precision() == "highest"


@pytest.mark.parametrize("plan, fragment", [
    (Plan(precision="tf32"), "tf32"),
    (Plan(device="cuda"), "not available"),
    (Plan(device="mps"), "not available"),
])
def test_plans_this_cpu_cannot_run_are_unsupported(plan, fragment):
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("needs a machine without an accelerator")
    with pytest.raises(Unsupported, match=fragment):
        check_supported(plan)


def test_compile_without_a_c_compiler_is_unsupported(monkeypatch):
    monkeypatch.setattr(torch_backend.shutil, "which", lambda name: None)
    with pytest.raises(Unsupported, match="torch.compile"):
        check_supported(Plan(compile="default"))


def test_weights_by_network_name(tmp_path):
    from tests.plugins.fake_workloads import tiny_cnn_task

    source, target = tiny_cnn_task(), tiny_cnn_task()
    path = tmp_path / "weights.pt"
    torch.save({"model": source.model.state_dict()}, path)
    load_weights(target, path)
    for a, b in zip(source.model.parameters(), target.model.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_steps_train(fake_workloads, precision):
    """Autocast, and for fp16 the GradScaler, on the CPU: the same code path CUDA and MPS take."""
    prepared = torch_backend.TorchBackend().prepare("tiny_cnn", Plan(precision=precision), 4, 16, 0, None)
    session = prepared.session
    assert (session.scaler is not None) == (precision == "fp16")
    before = [p.detach().clone() for p in session.task.model.parameters()]
    losses = [session.read_loss(session.step()) for _ in range(3)]
    assert all(loss == loss and loss < 100 for loss in losses)  # finite, not NaN
    assert any(not torch.equal(p, b) for p, b in zip(session.task.model.parameters(), before))

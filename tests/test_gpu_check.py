"""`make gpu-check` skips cleanly where there is no GPU; its pieces run on the CPU."""

import torch

from clipbook.book import cli, gpu_check


def test_without_a_gpu_it_says_so_in_one_line_and_succeeds(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.gpu_check() is None
    assert capsys.readouterr().out.strip() == gpu_check.NO_GPU
    assert cli.main(["gpu-check"]) == 0
    assert capsys.readouterr().out.strip() == gpu_check.NO_GPU

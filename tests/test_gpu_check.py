"""`make gpu-check` skips cleanly where there is no GPU; its pieces run on the CPU."""

import open_clip
import torch

from clipbook.book import cli, gpu_check
from clipbook.book.bench import random_pairs


def test_without_a_gpu_it_says_so_in_one_line_and_succeeds(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.gpu_check() is None
    assert capsys.readouterr().out.strip() == gpu_check.NO_GPU
    assert cli.main(["gpu-check"]) == 0
    assert capsys.readouterr().out.strip() == gpu_check.NO_GPU


def test_the_flop_count_of_a_training_pair_is_plausible():
    images, captions = random_pairs(8, 32)
    tokens = open_clip.get_tokenizer("tiny-vit-bpe")(captions)
    small = gpu_check._flops_per_sample("tiny-vit-bpe", images, tokens, torch.device("cpu"))
    assert 1e6 < small < 1e10

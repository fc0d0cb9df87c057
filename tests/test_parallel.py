"""Models side by side: results in order, one torch thread per job, the global RNG serialized,
and a sweep's numbers the same whether its jobs run side by side or one after another."""

import threading

import pandas as pd
import pytest
import torch

from clipbook.data.compositions import CompositionWorld
from clipbook.data.diversity import DiversityWorld
from clipbook.device import num_threads
from clipbook.experiments import disentanglement, diversity
from clipbook.experiments import feature_sharing_images as fsi
from clipbook.models.towers import create_clip
from clipbook.parallel import map_jobs, workers
from clipbook.progress import progress, quiet
from clipbook.training.loop import TrainConfig

CPU = torch.device("cpu")


def _where(job: int) -> tuple[int, int, int]:
    return job * job, threading.get_ident(), torch.get_num_threads()


def test_jobs_run_side_by_side_on_one_torch_thread_each_and_come_back_in_order():
    with num_threads(2):
        out = map_jobs(_where, range(8), CPU)
        assert torch.get_num_threads() == 2  # restored after the pool
    assert [r for r, _, _ in out] == [j * j for j in range(8)]
    assert {t for _, _, t in out} == {1}
    assert threading.get_ident() not in {i for _, i, _ in out}


@pytest.mark.parametrize("threads, device", [(1, CPU), (2, torch.device("meta"))])
def test_one_thread_or_another_device_runs_the_jobs_in_the_calling_thread(threads, device):
    with num_threads(threads):
        assert workers(device) == 1
        out = map_jobs(_where, range(3), device)
        assert {t for _, _, t in out} == {threads}
    assert [r for r, _, _ in out] == [0, 1, 4]
    assert {i for _, i, _ in out} == {threading.get_ident()}


def test_quiet_silences_the_bars_of_its_own_thread_only(monkeypatch):
    monkeypatch.setenv("CLIPBOOK_PROGRESS", "1")
    with quiet():
        assert progress(range(2)).disable
        other = []
        thread = threading.Thread(target=lambda: other.append(progress(range(2), file=open("/dev/null", "w")).disable))
        thread.start()
        thread.join()
    assert other == [False]
    assert not progress(range(2), file=open("/dev/null", "w")).disable


def test_models_created_side_by_side_get_their_seed_s_weights():
    def weights(seed: int) -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in create_clip("tiny-vit", seed=seed).parameters()])

    alone = [weights(s) for s in range(6)]
    with num_threads(2):
        side_by_side = map_jobs(weights, range(6), CPU)
    assert all(torch.equal(a, b) for a, b in zip(alone, side_by_side))


def _chapter_2(config):
    return fsi.run_sweeps({"": fsi.ImageArm(DiversityWorld(n_train=64, n_test=32))}, [0, 1, 2], config, device=CPU)[""].results


def _chapter_4(config):
    runs = [diversity.Setting(m, 1.0, 1.0) for m in ("clip", "supervised", "simclr")]
    return diversity.run_sweep(DiversityWorld(n_train=64, n_test=32), runs, [0, 1], config, left_out_per_seed=1,
                               pretrain_steps=2, device=CPU).results


def _chapter_5(config):
    runs = disentanglement.settings(0.75, [], [], [], ["learned", "additive"])
    sweep = disentanglement.run_sweep(CompositionWorld(n_train=64, n_test=64), runs, [0, 1], config, dci_trees=2,
                                      device=CPU)
    return pd.concat([sweep.results, sweep.history])


@pytest.mark.parametrize("sweep", [_chapter_2, _chapter_4, _chapter_5])
def test_a_sweep_gives_the_same_numbers_side_by_side_as_one_job_at_a_time(sweep):
    # each job runs on one thread in the pool; one thread in the loop does the same operations
    config = TrainConfig(steps=4, batch_size=16, log_every=2)
    with num_threads(1):
        alone = sweep(config)
    with num_threads(2):
        side_by_side = sweep(config)
    pd.testing.assert_frame_equal(alone, side_by_side)

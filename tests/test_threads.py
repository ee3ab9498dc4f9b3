"""Thread sizing from the affinity mask, the cgroup quota and the override."""

from __future__ import annotations

import os

import pytest

from safe_synthesizer.threads import _cgroup_quota, configure_threads, usable_cpus


def test_cgroup_v2_quota_limits_the_count(tmp_path, monkeypatch):
    monkeypatch.delenv("SAFE_SYNTH_THREADS", raising=False)
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert _cgroup_quota(tmp_path) == 1.5
    assert usable_cpus(tmp_path) == 1  # 1.5 CPUs of quota: one thread, not the node's cores
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _cgroup_quota(tmp_path) is None
    assert usable_cpus(tmp_path) == len(os.sched_getaffinity(0))


def test_cgroup_v1_quota(tmp_path, monkeypatch):
    monkeypatch.delenv("SAFE_SYNTH_THREADS", raising=False)
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert usable_cpus(tmp_path) == 1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    assert _cgroup_quota(tmp_path) is None


def test_affinity_mask_limits_the_count(tmp_path, monkeypatch):
    monkeypatch.delenv("SAFE_SYNTH_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert usable_cpus(tmp_path) == 1


def test_override_and_torch(monkeypatch, tmp_path):
    import torch

    monkeypatch.setenv("SAFE_SYNTH_THREADS", "1")
    assert usable_cpus(tmp_path) == 1
    before = torch.get_num_threads()
    try:
        assert configure_threads() == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.setenv("SAFE_SYNTH_THREADS", "lots")
    with pytest.raises(ValueError, match="SAFE_SYNTH_THREADS"):
        usable_cpus(tmp_path)


def test_field_engine_uses_half_the_cpus():
    from safe_synthesizer.threads import field_engine_threads

    assert field_engine_threads(1) == 1
    assert field_engine_threads(2) == 1
    assert field_engine_threads(8) == 4


def test_field_engine_uses_every_cpu_for_wide_records(monkeypatch):
    from safe_synthesizer.threads import WIDE_LOGITS, field_engine_threads

    monkeypatch.delenv("SAFE_SYNTH_THREADS", raising=False)
    assert field_engine_threads(2, logits_per_record=WIDE_LOGITS - 1) == 1
    assert field_engine_threads(2, logits_per_record=WIDE_LOGITS) == 2
    assert field_engine_threads(8, logits_per_record=20_000) == 8


def test_override_wins_for_the_field_engine(monkeypatch):
    from safe_synthesizer.threads import field_engine_threads

    monkeypatch.setenv("SAFE_SYNTH_THREADS", "3")
    assert field_engine_threads() == 3
    assert field_engine_threads(logits_per_record=50_000) == 3

"""Data-parallel training of the LLM engine in several processes of one pod (one per GPU).

``safe-synthesizer run --train-processes N`` (the operator passes ``resources.gpu`` when it is above
1) trains the LLM engine with N processes: the runner's own process is rank 0 and runs every stage
as in a one-process run (load, split, PII, schema, tokenisation, generation, evaluation, publish);
when training starts it writes the tokenised training examples to its staging folder and starts N-1
worker processes (``python -m safe_synthesizer.distributed``), which load the same base model, join
a ``torch.distributed`` process group (NCCL on CUDA, one GPU per process through
``CUDA_VISIBLE_DEVICES``; gloo on CPU) and take part in training only. Each rank trains on its own
disjoint shard of the shuffled examples (``DistributedSampler``, ``drop_last``: at most N-1 examples
are left out so that every rank takes the same number of steps), the model is wrapped in
``DistributedDataParallel`` (gradients averaged by all-reduce), and only rank 0 reports progress,
validates, decides early stopping or a stop on SIGTERM (told to the others every step) and saves
the adapter. ``training.batch_size`` is per rank: the global batch is N times larger, and the run
takes about N times fewer steps.

Which runs use it (:func:`plan_processes`): the LLM engine without DP. The field-token engine is
small (a step takes milliseconds) and stays in one process; DP-SGD stays in one process as well
(its Poisson sampling and privacy accounting are per run, not per rank), with a warning. On CUDA, N
is capped at the GPUs the process sees.

Failures: a worker that raises writes its reason and exit code (:func:`~safe_synthesizer.errors.
classify_failure`) next to the payload and exits with that code; rank 0 then fails the run with the
same exit code and reason (:class:`TrainingProcessError`); a worker killed by a signal (the kernel's
OOM killer) is a transient failure (exit code 3). Rank 0 stops the workers when it fails itself.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EXIT_TRANSIENT, SafeSynthesizerError, classify_failure

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 1800.0  # workers load the base model before they join
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=30)
PAYLOAD_FILE = "payload.pkl"
STATUS_FILE = "ranks.json"  # every rank's shard, steps and weight digest (rank 0 writes it)


class TrainingProcessError(SafeSynthesizerError):
    """A training worker failed: carries the worker's own exit code and reason."""

    def __init__(self, message: str, exit_code: int, reason: str, retryable: bool) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.reason = reason
        self.retryable = retryable


def plan_processes(
    requested: int | None, device: str, *, dp: bool, warnings: list[str], visible_gpus: int | None = None
) -> int:
    """How many training processes the LLM engine runs with (module docstring); warnings say why
    fewer than ``requested``."""
    if not requested or requested <= 1:
        return 1
    if dp:
        warnings.append(
            f"--train-processes {requested}: differential privacy (DP-SGD) trains in one process "
            "(its sampling and accounting are per run); trained on one GPU"
        )
        return 1
    if device == "cuda":
        if visible_gpus is None:
            import torch

            visible_gpus = torch.cuda.device_count()
        if visible_gpus < requested:
            warnings.append(
                f"--train-processes {requested}: this process sees {visible_gpus} GPU(s); "
                f"trained with {max(1, visible_gpus)} process(es)"
            )
            return max(1, visible_gpus)
    return requested


@dataclass
class DistributedPlan:
    """What rank 0 needs to start the workers: their number, where to talk, how to load the model."""

    world_size: int
    device: str
    work_dir: Path
    load_kwargs: dict[str, Any] = field(default_factory=dict)  # load_base_model's, picklable
    s3_settings: Any = None  # S3Settings for a model on S3 (each worker makes its own client)

    @property
    def backend(self) -> str:
        return "nccl" if self.device == "cuda" else "gloo"


@dataclass
class Session:
    """One rank's membership of the process group."""

    rank: int
    world_size: int
    backend: str
    device: str
    workers: list[subprocess.Popen] = field(default_factory=list)
    work_dir: Path | None = None
    previous_threads: int | None = None  # rank 0 on CPU: torch's threads before training
    _watchdog_stop: threading.Event = field(default_factory=threading.Event, repr=False)

    # -- data ---------------------------------------------------------------------------------
    def shard(self, order: list[int]) -> tuple[list[int], int]:
        """This rank's examples (positions of ``order``: a DistributedSampler over it, no shuffle
        of its own, drop_last) and how many examples no rank trains on."""
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(
            range(len(order)), num_replicas=self.world_size, rank=self.rank, shuffle=False, drop_last=True
        )
        positions = list(iter(sampler))
        return [order[i] for i in positions], len(order) - len(positions) * self.world_size

    def wrap(self, model: Any) -> Any:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [0] if self.device == "cuda" else None  # one visible GPU per worker
        return DistributedDataParallel(model, device_ids=device_ids)

    # -- collectives ------------------------------------------------------------------------------
    def sum_floats(self, values: list[float]) -> list[float]:
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self._collective_device())
        dist.all_reduce(tensor)
        return [float(v) for v in tensor.cpu()]

    def decision(self, code: int) -> int:
        """Rank 0's ``code`` (0 go on, 1 stop requested, 2 early stop) on every rank."""
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(
            [code if self.rank == 0 else 0], dtype=torch.int64, device=self._collective_device()
        )
        dist.broadcast(tensor, src=0)
        return int(tensor.item())

    def gather(self, obj: Any) -> list[Any]:
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def _collective_device(self) -> str:
        return "cuda" if self.backend == "nccl" else "cpu"

    def close(self) -> None:
        import torch.distributed as dist

        self._watchdog_stop.set()
        if dist.is_initialized():
            with contextlib.suppress(Exception):
                dist.destroy_process_group()


def weights_digest(model: Any) -> str:
    """SHA-256 of the trainable weights (by name): equal on every rank when gradients were synchronised."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
        if param.requires_grad:
            digest.update(name.removeprefix("module.").encode())
            digest.update(param.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


# -- rank 0 -------------------------------------------------------------------------------------------
def start(plan: DistributedPlan, payload: dict[str, Any]) -> Session:
    """Rank 0: write the payload, start the workers, wait until all have joined the process group."""
    import torch.distributed as dist
    from torch.distributed import TCPStore

    plan.work_dir.mkdir(parents=True, exist_ok=True)
    payload_path = plan.work_dir / PAYLOAD_FILE
    with payload_path.open("wb") as handle:
        pickle.dump(
            {
                **payload,
                "load_kwargs": plan.load_kwargs,
                "device": plan.device,
                "s3_settings": plan.s3_settings,
            },
            handle,
        )
    store = TCPStore(
        "127.0.0.1",
        0,
        plan.world_size,
        True,
        timeout=datetime.timedelta(seconds=STARTUP_TIMEOUT_S),
        wait_for_workers=False,
    )
    visible = _visible_gpus() if plan.device == "cuda" else []
    threads = _threads_per_rank(plan.world_size) if plan.device == "cpu" else None
    workers = []
    for rank in range(1, plan.world_size):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(plan.world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(store.port),
        }
        if visible:
            env["CUDA_VISIBLE_DEVICES"] = visible[rank]
        if threads:
            env["SAFE_SYNTH_THREADS"] = str(threads)
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "safe_synthesizer.distributed", str(plan.work_dir)], env=env
            )
        )
    session = Session(0, plan.world_size, plan.backend, plan.device, workers, plan.work_dir)
    try:
        _wait_for_workers(store, session)
        dist.init_process_group(
            plan.backend, store=store, rank=0, world_size=plan.world_size, timeout=COLLECTIVE_TIMEOUT
        )
    except BaseException as exc:
        failure = worker_failure(session)
        stop_workers(session)
        session.close()
        if failure is None:
            raise
        raise failure from exc
    payload_path.unlink(missing_ok=True)  # every worker has read it
    if threads:
        import torch

        session.previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
    threading.Thread(target=_watchdog, args=(session,), daemon=True).start()
    log.info("distributed training: %d processes (%s)", plan.world_size, plan.backend)
    return session


def _wait_for_workers(store: Any, session: Session) -> None:
    deadline = time.time() + STARTUP_TIMEOUT_S
    keys = [f"ready/{rank}" for rank in range(1, session.world_size)]
    while not store.check(keys):
        time.sleep(0.5)
        for rank, worker in enumerate(session.workers, start=1):
            if worker.poll() is not None:
                raise RuntimeError(
                    f"training process {rank} exited with code {worker.returncode} while starting"
                )
        if time.time() > deadline:
            raise RuntimeError(f"training processes did not start within {STARTUP_TIMEOUT_S:.0f} s")


def _watchdog(session: Session, grace_s: float = 60.0) -> None:
    """A worker that died while rank 0 waits in a collective that never returns (NCCL can wait for
    its whole timeout): exit with the worker's failure after ``grace_s``."""
    failed_since = None
    while not session._watchdog_stop.wait(1.0):
        if any(w.poll() not in (None, 0) for w in session.workers):
            failed_since = failed_since or time.time()
            if time.time() - failed_since > grace_s:
                failure = worker_failure(session)
                code = failure.exit_code if failure else EXIT_TRANSIENT
                log.error("a training process failed and rank 0 is stuck in a collective: exiting (%d)", code)
                stop_workers(session)
                os._exit(code)


def finish(session: Session, timeout_s: float = 300.0) -> None:
    """Rank 0 after training: leave the group and wait for every worker to exit cleanly."""
    session.close()
    if session.previous_threads:
        import torch

        torch.set_num_threads(session.previous_threads)
    deadline = time.time() + timeout_s
    for worker in session.workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(max(1.0, deadline - time.time()))
    failure = worker_failure(session)
    stop_workers(session)
    if failure is not None:
        raise failure


def stop_workers(session: Session) -> None:
    """Terminate the workers still running (rank 0 failed or gave up), then reap them."""
    session._watchdog_stop.set()
    for worker in session.workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in session.workers:
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def is_communication_error(exc: BaseException) -> bool:
    """An error of the process group itself (a peer went away), not the cause of a failure."""
    import torch.distributed as dist

    dist_error = getattr(dist, "DistError", None)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if dist_error is not None and isinstance(current, dist_error):
            return True
        text = str(current).lower()
        if any(word in text for word in ("gloo", "nccl", "connection closed by peer", "connection reset")):
            return True
        current = current.__cause__ or current.__context__
    return False


def after_rank0_error(
    session: Session, exc: BaseException, wait_s: float = 20.0
) -> TrainingProcessError | None:
    """Rank 0 failed in training: when the process group broke (a worker went away), wait for the
    workers to exit and return the worker's failure; then stop the workers and leave the group.
    None: rank 0's own error is the failure."""
    failure = None
    if is_communication_error(exc):
        deadline = time.time() + wait_s
        while time.time() < deadline:
            failure = worker_failure(session)
            if failure is not None or all(w.poll() is not None for w in session.workers):
                break
            time.sleep(0.2)
        failure = failure or worker_failure(session)
    stop_workers(session)
    session.close()
    return failure


def worker_failure(session: Session) -> TrainingProcessError | None:
    """The workers' failure: a worker's own report of an error of its own first, then a worker
    killed by a signal, then one that exited non-zero without a report; None when there is none
    (reports of a broken process group only follow another process's failure)."""
    reports = []
    for rank in range(1, session.world_size):
        path = session.work_dir / f"rank-{rank}.failure.json" if session.work_dir else None
        if path is not None and path.exists():
            with contextlib.suppress(OSError, ValueError):
                reports.append((rank, json.loads(path.read_text(encoding="utf-8"))))
    for rank, data in reports:
        if not data.get("secondary"):
            return TrainingProcessError(
                f"training process {rank} of {session.world_size} failed: {data['message']}",
                int(data["exit_code"]),
                data["reason"],
                bool(data["retryable"]),
            )
    reported = {rank for rank, _ in reports}
    for rank, worker in enumerate(session.workers, start=1):
        code = worker.poll()
        if code is not None and code < 0:
            return TrainingProcessError(
                f"training process {rank} of {session.world_size} was killed by signal {-code} "
                "(out of memory?)",
                EXIT_TRANSIENT,
                "Transient",
                True,
            )
        if code not in (None, 0) and rank not in reported:
            return TrainingProcessError(
                f"training process {rank} of {session.world_size} exited with code {code}",
                code if code in (1, 3, 4) else 4,
                "InternalError",
                code == EXIT_TRANSIENT,
            )
    return None


def _visible_gpus() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return [v.strip() for v in visible.split(",") if v.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _threads_per_rank(world_size: int) -> int:
    from .threads import usable_cpus

    return max(1, usable_cpus() // world_size)


# -- workers ----------------------------------------------------------------------------------------
def worker_main(work_dir: Path) -> int:
    """A worker rank: load the model, join, train its shard, report, exit (module docstring)."""
    rank = int(os.environ["RANK"])
    try:
        _parent_watch(os.getppid())
        _worker(work_dir, rank)
        return 0
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a report and an exit code
        failure = classify_failure(exc)
        message = f"{type(exc).__name__}: {str(exc)[:1500]}"
        log.exception("training process %d failed", rank)
        with contextlib.suppress(OSError):
            (work_dir / f"rank-{rank}.failure.json").write_text(
                json.dumps(
                    {
                        "exit_code": failure.exit_code,
                        "reason": failure.reason,
                        "retryable": failure.retryable,
                        "message": message,
                        "secondary": is_communication_error(exc),
                    }
                ),
                encoding="utf-8",
            )
        return failure.exit_code


def _worker(work_dir: Path, rank: int) -> None:
    import torch
    import torch.distributed as dist
    from torch.distributed import TCPStore

    from .models import load_base_model
    from .threads import configure_threads
    from .training import _lora_model, apply_vram_fraction, run_plain_loop

    configure_threads()
    with (work_dir / PAYLOAD_FILE).open("rb") as handle:
        payload = pickle.load(handle)  # noqa: S301 - written by rank 0 of this run
    world_size = int(os.environ["WORLD_SIZE"])
    params, resolved = payload["params"], payload["resolved"]
    torch.manual_seed(resolved.seed)
    kwargs = dict(payload["load_kwargs"])
    source = kwargs.pop("source")
    if str(source).startswith("s3://"):
        from . import storage

        kwargs["s3"] = storage.make_s3_client(payload["s3_settings"])
    apply_vram_fraction(params.training.max_vram_fraction, payload["device"])  # as rank 0
    loaded = load_base_model(source, hf_token=os.environ.get("HF_TOKEN"), **kwargs)
    model = _lora_model(loaded, params) if loaded.pretrained else loaded.model
    model.train()
    store = TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        world_size,
        False,
        timeout=datetime.timedelta(seconds=STARTUP_TIMEOUT_S),
    )
    store.set(f"ready/{rank}", "1")
    backend = "nccl" if payload["device"] == "cuda" else "gloo"
    dist.init_process_group(
        backend, store=store, rank=rank, world_size=world_size, timeout=COLLECTIVE_TIMEOUT
    )
    session = Session(rank, world_size, backend, payload["device"], work_dir=work_dir)
    run_plain_loop(
        model, payload["data"], None, payload["pad_id"], loaded.device, params, resolved, session=session
    )
    session.close()  # on an error the process exits after its report, which breaks the group


def _parent_watch(parent: int) -> None:
    """Exit when rank 0 is gone (it was killed): nobody would collect this process's work."""

    def watch() -> None:
        while True:
            time.sleep(2.0)
            if os.getppid() != parent:
                os._exit(EXIT_TRANSIENT)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by start()
    logging.basicConfig(level=logging.INFO, format=f"[rank {os.environ.get('RANK', '?')}] %(message)s")
    sys.exit(worker_main(Path(sys.argv[1])))

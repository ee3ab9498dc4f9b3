"""GPU figures in one run (``make gpu-check``), each against the hardware limit.

Sections, each guarded (a failure prints ``<section>: FAILED ...`` and the rest still runs), each
under its own time cap inside one total budget (default 450 s: under 8 minutes on one H200):

- ``lora-bf16``: LoRA training (the project's defaults: r=32, q/k/v/o, rsLoRA) of a randomly
  initialised model of TinyLlama-1.1B's shape (config built here, no download), bf16, tokens/s and
  records/s (a record = one ``--seq-len``-token example);
- ``qlora-4bit``: the same on a 4-bit NF4 base (bitsandbytes; as the project loads it, through
  ``prepare_model_for_kbit_training``), when bitsandbytes imports and a GPU is there;
- ``dp-sgd``: DP-SGD / plain time per record of the field-token engine (every weight, per-record
  clipping), from ``scripts/bench_dp.py``'s ``field_bench``;
- ``field-train`` / ``field-generate``: the field-token engine's own training and generation
  (``train_field_engine`` / ``generate_field_engine``) on the bundled demo table;
- ``hf-generate``: transformers ``generate`` (sampling, KV cache) on the TinyLlama-shape model.

Limits: training compute is ``6 * params * tokens`` per step (the usual full-training count; LoRA
skips the frozen weights' gradients, so its own bound is about 4/6 of that) against the measured
bf16 peak ``--peak-tflops`` (790 on an H200); generation compute is ``2 * params * tokens``, and
decoding is also bounded by reading every weight once per step (``--hbm-tbps``, 4.8 on an H200).

Needs only PyTorch, transformers, peft, accelerate, plus the project's light dependencies for the
field-engine sections (numpy, pandas, pydantic, ...). Wheels that do not import are installed
(``--no-deps``, into ``build/gpu-site``) from ``build/gpu-wheels`` when it holds them (``make
gpu-wheels``; carry that folder to a machine without network). Ends with one ``gpu-check-json:``
line holding every figure. ``--smoke``: tiny shapes on CPU in well under a minute (the default test
suite runs it, so this script cannot rot).

Usage: ``python scripts/gpu_check.py [--smoke] [--device cuda|cpu] [--budget-s 450] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / "build" / "gpu-wheels"
SITE = ROOT / "build" / "gpu-site"
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
PII_COLUMNS = ["name", "email", "phone", "ssn", "address"]
SECTIONS = ["lora-bf16", "qlora-4bit", "dp-sgd", "field-train", "field-generate", "hf-generate"]

# TinyLlama-1.1B (TinyLlama/TinyLlama-1.1B-Chat-v1.0's config.json), built here: no download.
TINYLLAMA = {
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 22,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
}
SMOKE_LLAMA = {**TINYLLAMA, "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2}
SMOKE_LLAMA.update({"num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512})


@dataclass
class Shape:
    llama: dict[str, Any]
    seq_len: int  # tokens per training record
    batch: int  # records per LoRA step
    steps: int  # timed LoRA steps (after warm-up), fewer when the section's cap comes first
    gen_batch: int  # sequences generated at once
    gen_tokens: int  # new tokens per generated record
    dp_batch: int
    dp_steps: int
    table_rows: int  # demo rows for the field engine (the demo has 2,000)
    field_records_to_sample: int  # records the field engine trains on (epochs x rows)
    field_generate: int  # records the field engine generates
    dp_epsilon: float  # smoke: a small epsilon, whose larger sigma keeps the PLD accounting cheap
    caps: dict[str, float] = field(default_factory=dict)  # seconds per section


FULL = Shape(
    llama=TINYLLAMA,
    seq_len=128,
    batch=32,
    steps=30,
    gen_batch=256,
    gen_tokens=128,
    dp_batch=512,
    dp_steps=60,
    table_rows=2000,
    field_records_to_sample=200_000,
    field_generate=100_000,
    dp_epsilon=8.0,
    caps={
        "lora-bf16": 60,
        "qlora-4bit": 90,
        "dp-sgd": 60,
        "field-train": 90,
        "field-generate": 45,
        "hf-generate": 60,
    },
)
SMOKE = Shape(
    llama=SMOKE_LLAMA,
    seq_len=16,
    batch=2,
    steps=2,
    gen_batch=2,
    gen_tokens=4,
    dp_batch=32,
    dp_steps=2,
    table_rows=200,
    field_records_to_sample=400,
    field_generate=50,
    dp_epsilon=1.0,
    caps=dict.fromkeys(SECTIONS, 30.0),
)


# --------------------------------------------------------------------------------------------------
# imports: the project from the working tree, missing wheels from build/gpu-wheels


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
        return True
    except Exception:  # noqa: BLE001 - any import failure means "bring the wheel"
        return False


# import name -> distribution, for the wheels `make gpu-wheels` puts in build/gpu-wheels (under 60 MiB
# in all): QLoRA's bitsandbytes and the field-engine / DP sections' light dependencies.
CARRIED = {
    "bitsandbytes": "bitsandbytes",
    "pandas": "pandas",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "annotated_types": "annotated-types",
    "typing_inspection": "typing-inspection",
    "faker": "faker",
    "dateutil": "python-dateutil",
    "pytz": "pytz",
    "tzdata": "tzdata",
    "six": "six",
    "dp_accounting": "dp-accounting",
    "absl": "absl-py",
    "attr": "attrs",
    "tree": "dm-tree",
    "mpmath": "mpmath",
    "opacus": "opacus",
    "opt_einsum": "opt-einsum",
    "scipy": "scipy",
}


def bring_missing_wheels(gpu: bool) -> tuple[list[str], list[str]]:
    """Install (``--no-deps``, into build/gpu-site, after the installed packages on ``sys.path``) every
    wheel in build/gpu-wheels whose module does not import; returns (brought, still missing).

    bitsandbytes only matters with a GPU (QLoRA), so it is left alone without one."""
    for path in (ROOT / "runner", ROOT / "scripts"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    if SITE.is_dir() and str(SITE) not in sys.path:
        sys.path.append(str(SITE))
    wanted = {module: dist for module, dist in CARRIED.items() if gpu or module != "bitsandbytes"}
    missing = sorted({dist for module, dist in wanted.items() if not _importable(module)})
    available = [d for d in missing if WHEELS.is_dir() and any(WHEELS.glob(d.replace("-", "_") + "-*.whl"))]
    if available:
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--upgrade"]
        cmd += ["--find-links", str(WHEELS), "--target", str(SITE), *available]
        subprocess.run(cmd, check=False)
        if str(SITE) not in sys.path:
            sys.path.append(str(SITE))
        importlib.invalidate_caches()
    still = sorted({dist for module, dist in wanted.items() if not _importable(module)})
    return available, still


# --------------------------------------------------------------------------------------------------
# output


class Report:
    """Prints one figure line per section and keeps the figures for the closing JSON line."""

    def __init__(self, peak_flops: float, hbm_bytes_s: float) -> None:
        self.peak = peak_flops
        self.hbm = hbm_bytes_s
        self.figures: dict[str, Any] = {}

    def line(self, section: str, text: str, **figures: Any) -> None:
        print(f"{section}: {text}", flush=True)
        self.figures[section] = figures

    def detail(self, text: str) -> None:
        print(f"    {text}", flush=True)

    def mfu(self, flops_per_s: float) -> float:
        return 100.0 * flops_per_s / self.peak


class SectionTimeout(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`SectionTimeout` after ``seconds`` (a backstop; the loops watch their deadline)."""

    def fire(_signum, _frame):
        raise SectionTimeout(f"over its {seconds:.0f} s cap")

    if not hasattr(signal, "SIGALRM"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


# --------------------------------------------------------------------------------------------------
# the LLM sections: TinyLlama-shape model, random weights


def llama_model(shape: Shape, device: str, dtype: Any) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(**shape.llama, attn_implementation="sdpa")
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    return model


def count_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def lora_wrap(model: Any) -> Any:
    """The project's LoRA (training._lora_model with the default parameters)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=32,
        lora_alpha=32,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        lora_dropout=0.0,
        bias="none",
        use_rslora=True,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def time_training(model: Any, shape: Shape, device: str, deadline: float) -> dict[str, float]:
    """Seconds per step over up to ``shape.steps`` steps (after 2 warm-up steps) on random tokens."""
    import torch

    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    vocab = shape.llama["vocab_size"]
    generator = torch.Generator(device="cpu").manual_seed(0)
    batches = [
        torch.randint(0, vocab, (shape.batch, shape.seq_len), generator=generator).to(device)
        for _ in range(4)
    ]
    steps, started = 0, 0.0
    for step in range(shape.steps + 2):
        if step == 2:
            _sync(device)
            started = time.perf_counter()
        ids = batches[step % len(batches)]
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= 2:
            steps += 1
            if time.perf_counter() > deadline:
                break
    _sync(device)
    seconds = time.perf_counter() - started
    final = float(loss.detach())
    if not math.isfinite(final):
        raise RuntimeError(f"loss is {final}")
    return {"steps": steps, "step_s": seconds / max(1, steps), "loss": final}


def report_training(report: Report, section: str, timing: dict, params: int, trainable: int, shape: Shape):
    tokens_s = shape.batch * shape.seq_len / timing["step_s"]
    records_s = shape.batch / timing["step_s"]
    mfu = report.mfu(6 * params * tokens_s)
    report.line(
        section,
        f"{tokens_s:,.0f} tokens/s  {records_s:,.1f} records/s  ({timing['step_s'] * 1000:.1f} ms/step, "
        f"batch {shape.batch} x {shape.seq_len} tokens)  MFU {mfu:.2f} % of {report.peak / 1e12:.0f} TFLOP/s "
        f"(6*N*T, N={params / 1e9:.3f} B)",
        tokens_per_s=tokens_s,
        records_per_s=records_s,
        step_s=timing["step_s"],
        steps=timing["steps"],
        mfu_percent=mfu,
        params=params,
        trainable=trainable,
        loss=timing["loss"],
    )
    report.detail(
        f"{trainable / 1e6:.1f} M trainable; counted as LoRA computes (4*N*T, no frozen-weight gradients): "
        f"{mfu * 4 / 6:.2f} % of peak, {100 / max(mfu * 4 / 6, 1e-9):,.1f}x below the limit"
    )


def section_lora(report: Report, shape: Shape, device: str, deadline: float) -> None:
    import torch

    model = llama_model(shape, device, torch.bfloat16 if device == "cuda" else torch.float32)
    params = count_params(model)
    model = lora_wrap(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    timing = time_training(model, shape, device, deadline)
    report_training(report, "lora-bf16", timing, params, trainable, shape)


def section_qlora(report: Report, shape: Shape, device: str, deadline: float) -> None:
    if device != "cuda":
        report.line("qlora-4bit", "skipped (4-bit NF4 needs a CUDA GPU)", skipped="no cuda")
        return
    if not _importable("bitsandbytes"):
        report.line("qlora-4bit", "skipped (bitsandbytes does not import: make gpu-wheels)", skipped="no bnb")
        return
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig, LlamaForCausalLM

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        base = llama_model(shape, device, torch.bfloat16)
        params = count_params(base)
        base.save_pretrained(tmp)
        del base
        torch.cuda.empty_cache()
        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        model = LlamaForCausalLM.from_pretrained(
            tmp, quantization_config=quant, device_map={"": 0}, dtype=torch.bfloat16
        )
    model = lora_wrap(prepare_model_for_kbit_training(model))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    timing = time_training(model, shape, device, deadline)
    report_training(report, "qlora-4bit", timing, params, trainable, shape)
    report.detail(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB (since start)")


def section_hf_generate(report: Report, shape: Shape, device: str, deadline: float) -> None:
    import torch

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = llama_model(shape, device, dtype).eval()
    params = count_params(model)
    model.generation_config.eos_token_id = None  # random weights: generate exactly gen_tokens
    model.generation_config.pad_token_id = 0
    prompt = torch.randint(1, shape.llama["vocab_size"], (shape.gen_batch, 16)).to(device)
    kwargs = {
        "max_new_tokens": shape.gen_tokens,
        "min_new_tokens": shape.gen_tokens,
        "do_sample": True,
        "top_p": 1.0,
        "temperature": 1.0,
        "attention_mask": torch.ones_like(prompt),
    }
    with torch.inference_mode():
        model.generate(prompt, **{**kwargs, "max_new_tokens": 2, "min_new_tokens": 2})  # warm-up
        _sync(device)
        started, rounds = time.perf_counter(), 0
        while True:
            out = model.generate(prompt, **kwargs)
            rounds += 1
            if rounds >= 3 or time.perf_counter() > deadline - (time.perf_counter() - started) / rounds:
                break
        _sync(device)
    seconds = (time.perf_counter() - started) / rounds
    new_tokens = out.shape[1] - prompt.shape[1]
    records_s = shape.gen_batch / seconds
    tokens_s = records_s * new_tokens
    mfu = report.mfu(2 * params * tokens_s)
    steps_s = new_tokens / seconds
    weight_bytes = params * (2 if dtype == torch.bfloat16 else 4)
    bandwidth = 100 * steps_s * weight_bytes / report.hbm
    report.line(
        "hf-generate",
        f"{records_s:,.1f} records/s  {tokens_s:,.0f} tokens/s  (batch {shape.gen_batch}, {new_tokens} new "
        f"tokens each, {steps_s:.1f} decode steps/s)  MFU {mfu:.2f} % (2*N*T); weight reads "
        f"{bandwidth:.1f} % of {report.hbm / 1e12:.1f} TB/s",
        records_per_s=records_s,
        tokens_per_s=tokens_s,
        decode_steps_per_s=steps_s,
        mfu_percent=mfu,
        hbm_percent=bandwidth,
    )


# --------------------------------------------------------------------------------------------------
# the field-token engine


def demo_table(rows: int) -> Any:
    import pandas as pd

    frame = pd.read_csv(DEMO).head(rows)
    return frame.drop(columns=[c for c in PII_COLUMNS if c in frame.columns])


def section_dp(report: Report, shape: Shape, device: str, deadline: float) -> None:
    from bench_dp import field_bench

    from safe_synthesizer.config import SafeSynthesizerParameters

    params = SafeSynthesizerParameters.model_validate(
        {
            "training": {"batch_size": shape.dp_batch, "gradient_accumulation_steps": 1},
            "privacy": {"dp_enabled": True, "epsilon": shape.dp_epsilon},
        }
    )
    frame = demo_table(shape.table_rows).drop(columns=["notes"], errors="ignore")
    f = field_bench(frame, params, shape.dp_batch, shape.dp_steps, device)
    plain_rate, dp_rate = f["plain_records"] / f["plain_s"], f["dp_records"] / f["dp_s"]
    ratio = plain_rate / dp_rate
    report.line(
        "dp-sgd",
        f"DP/plain time per record {ratio:.2f}x  (plain {plain_rate:,.0f} records/s, DP-SGD {dp_rate:,.0f} "
        f"records/s; field engine, batch {shape.dp_batch}, {shape.dp_steps} steps, epsilon "
        f"{shape.dp_epsilon:g}, sigma {f['sigma']:.2f}; goal <= 1.5x)",
        ratio=ratio,
        plain_records_per_s=plain_rate,
        dp_records_per_s=dp_rate,
        sigma=f["sigma"],
        accounting_s=f["accounting_s"],
    )


def section_field(report: Report, shape: Shape, device: str, deadline: float, state: dict) -> None:
    from safe_synthesizer.schema import infer_schema
    from safe_synthesizer.tabular.engine import train_field_engine

    frame = demo_table(shape.table_rows)
    out_dir = Path(state["tmp"]) / "field"
    started = time.perf_counter()
    result = train_field_engine(
        frame,
        out_dir,
        schema=infer_schema(frame),
        pii_entities={},
        device=device,
        seed=0,
        batch_size=None,
        learning_rate=None,
        records_to_sample=shape.field_records_to_sample,
        validation_ratio=0.0,
        max_minutes=max(0.05, (deadline - started) / 60),
    )
    state["field_dir"] = out_dir
    params = int(result.trainable_parameters)
    tokens_s = result.records_per_second * result.tokens_per_record
    mfu = report.mfu(6 * params * tokens_s)
    report.line(
        "field-train",
        f"{result.records_per_second:,.0f} records/s  {tokens_s:,.0f} tokens/s  ({result.records_seen:,} records "
        f"in {result.seconds:.1f} s, {result.steps} steps, batch {result.plan.get('batch_size')})  MFU "
        f"{mfu:.3f} % (6*N*T, N={params / 1e6:.2f} M)",
        records_per_s=result.records_per_second,
        tokens_per_s=tokens_s,
        records_seen=result.records_seen,
        seconds=result.seconds,
        mfu_percent=mfu,
        params=params,
        tokens_per_record=result.tokens_per_record,
        validation_loss=result.validation_loss,
    )


def section_field_generate(report: Report, shape: Shape, device: str, deadline: float, state: dict) -> None:
    from safe_synthesizer.tabular.engine import generate_field_engine

    if "field_dir" not in state:
        raise RuntimeError("no field model (field-train failed)")
    result = generate_field_engine(
        state["field_dir"],
        shape.field_generate,
        temperature=1.0,
        top_p=1.0,
        seed=0,
        device=device,
        should_stop=lambda: time.perf_counter() > deadline,
    )
    figures = report.figures.get("field-train", {})
    params, per_record = figures.get("params", 0), figures.get("tokens_per_record", 0)
    mfu = report.mfu(2 * params * per_record * result.records_per_second)
    report.line(
        "field-generate",
        f"{result.records_per_second:,.0f} records/s  ({len(result.data):,} records in {result.seconds:.1f} s"
        f"{', stopped at the cap' if result.stopped_early else ''})  MFU {mfu:.3f} % (2*N*T)",
        records_per_s=result.records_per_second,
        records=len(result.data),
        seconds=result.seconds,
        mfu_percent=mfu,
    )


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", "--tiny", action="store_true", help="tiny shapes (CPU dry run)")
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None)
    parser.add_argument("--budget-s", type=float, default=None, help="total seconds (450; smoke: 120)")
    parser.add_argument("--peak-tflops", type=float, default=790.0, help="bf16 dense peak (H200, measured)")
    parser.add_argument("--hbm-tbps", type=float, default=4.8, help="memory bandwidth (H200)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--inject-failure", default=None, help=argparse.SUPPRESS)  # tests: the guard
    args = parser.parse_args(argv)

    begun = time.perf_counter()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    brought, still_missing = bring_missing_wheels(gpu=device == "cuda")
    shape = SMOKE if args.smoke else FULL
    budget = args.budget_s or (120.0 if args.smoke else 450.0)
    if device == "cpu" and not args.smoke:
        print("gpu-check: no GPU: the full shapes on CPU take far over the budget; use --smoke", flush=True)
    torch.manual_seed(0)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        name = torch.cuda.get_device_name(0)
    else:
        name = f"CPU ({torch.get_num_threads()} threads)"
    print(
        f"gpu-check: {name}, Python {sys.version.split()[0]}, torch {torch.__version__}, {'smoke' if args.smoke else 'full'} shapes, budget "
        f"{budget:.0f} s, peak {args.peak_tflops:.0f} TFLOP/s bf16"
        + (f", brought {', '.join(brought)}" if brought else ""),
        flush=True,
    )
    if still_missing:
        print(f"gpu-check: not importable (their sections will fail): {', '.join(still_missing)}", flush=True)
    report = Report(args.peak_tflops * 1e12, args.hbm_tbps * 1e12)
    wanted = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {SECTIONS}")
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        state: dict[str, Any] = {"tmp": tmp}
        runs: dict[str, Callable[[float], None]] = {
            "lora-bf16": lambda d: section_lora(report, shape, device, d),
            "qlora-4bit": lambda d: section_qlora(report, shape, device, d),
            "dp-sgd": lambda d: section_dp(report, shape, device, d),
            "field-train": lambda d: section_field(report, shape, device, d, state),
            "field-generate": lambda d: section_field_generate(report, shape, device, d, state),
            "hf-generate": lambda d: section_hf_generate(report, shape, device, d),
        }
        for section in SECTIONS:
            if section not in wanted:
                continue
            left = budget - (time.perf_counter() - begun)
            if left < 5:
                report.line(section, f"skipped (budget of {budget:.0f} s spent)", skipped="budget")
                continue
            cap = min(shape.caps[section], left)
            started = time.perf_counter()
            try:
                with alarm(cap + 30):
                    if args.inject_failure == section:
                        raise RuntimeError("injected failure (--inject-failure)")
                    runs[section](started + cap)
            except Exception as exc:  # noqa: BLE001 - one failure must not stop the other figures
                failed.append(section)
                print(f"{section}: FAILED {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc(limit=3, file=sys.stdout)
                report.figures[section] = {"error": f"{type(exc).__name__}: {exc}"}
            finally:
                if device == "cuda":
                    torch.cuda.empty_cache()
            print(f"    ({time.perf_counter() - started:.1f} s)", flush=True)
    total = time.perf_counter() - begun
    summary = {
        "device": name,
        "torch": torch.__version__,
        "smoke": bool(args.smoke),
        "seconds": round(total, 1),
        "peak_tflops": args.peak_tflops,
        "failed": failed,
        "sections": report.figures,
    }
    print(f"gpu-check: {total:.0f} s in all, {len(failed)} failed", flush=True)
    print("gpu-check-json: " + json.dumps(summary, default=float), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, default=float))
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())

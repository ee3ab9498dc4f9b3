"""Pipeline benchmark on the demo data (``make bench-pipeline``): prints figures, asserts nothing.

1. Token cost of the record encoding: compact (ours) vs JSON lines (NeMo's), per tokenizer.
2. The two offline CPU models on the same examples: training records/s and tokens/s.
3. The whole demo job (``make demo`` settings) in a child process: stage timings, training
   records/s and tokens/s, generation valid records/s, valid fraction, scores and peak RSS.
4. CPU threads (issue 18): field-token training steps/s on the demo data with torch's default
   threads (every core, spinning OpenMP waits: "before") and with the runner's sizing
   (``threads.configure_threads()`` then ``field_engine_threads`` for the table: "after"), each alone and beside one other
   CPU-bound process (a busy loop). Each figure comes from a fresh child process, because OpenMP
   reads its settings once when it starts.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo"


def token_costs(frame: pd.DataFrame) -> None:
    from safe_synthesizer.models import (
        BUILTIN_SMOLLM2,
        BUILTIN_TINY_LLAMA,
        byte_level_tokenizer,
        resolve_model_dir,
    )
    from safe_synthesizer.schema import infer_schema
    from safe_synthesizer.serialization import encode_records

    sample = frame.head(500)
    compact = encode_records(sample, infer_schema(frame))
    as_json = sample.to_json(orient="records", lines=True, force_ascii=False).splitlines()
    tokenizers = {BUILTIN_TINY_LLAMA: byte_level_tokenizer()}
    try:
        from transformers import AutoTokenizer

        tokenizers[BUILTIN_SMOLLM2] = AutoTokenizer.from_pretrained(resolve_model_dir(BUILTIN_SMOLLM2))
    except Exception as exc:  # noqa: BLE001 - a benchmark reports what it could not measure
        print(f"  smollm2 tokenizer unavailable: {exc}")
    print("token cost per record (500 demo records):")
    for name, tok in tokenizers.items():
        ours = sum(len(x) for x in tok(compact, add_special_tokens=False)["input_ids"]) / len(compact)
        theirs = sum(len(x) for x in tok(as_json, add_special_tokens=False)["input_ids"]) / len(as_json)
        print(
            f"  {name:<20} compact {ours:7.1f}  json-lines {theirs:7.1f}  saving {100 * (1 - ours / theirs):4.1f} %"
        )


def one_record_examples(frame: pd.DataFrame, tokenizer: Any, rows: int) -> list[list[int]]:
    """Token ids of ``rows`` one-record training examples: the schema prompt, then the record line."""
    from safe_synthesizer.schema import infer_schema
    from safe_synthesizer.serialization import encode_records, prompt_text

    schema = infer_schema(frame)
    prompt = tokenizer(prompt_text(schema), add_special_tokens=False)["input_ids"]
    lines = encode_records(frame.head(rows), schema)
    return [prompt + tokenizer(line + "\n", add_special_tokens=False)["input_ids"] for line in lines]


def llm_step(model: Any, tokenizer: Any, optimizer: Any, batch_ids: list[list[int]]) -> int:
    """One optimizer step on ``batch_ids``; returns the tokens in the batch."""
    from safe_synthesizer.training import collate

    batch = collate(batch_ids, batch_ids, tokenizer.pad_token_id or 0)
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return int(batch["attention_mask"].sum())


def model_speed(frame: pd.DataFrame, steps: int) -> None:
    import torch

    from safe_synthesizer.models import BUILTIN_SMOLLM2, BUILTIN_TINY_LLAMA, load_base_model

    print(f"training speed, {steps} steps of 8 one-record examples (LoRA r=16 for the pretrained model):")
    for name in (BUILTIN_TINY_LLAMA, BUILTIN_SMOLLM2):
        try:
            loaded = load_base_model(name, device="cpu")
        except Exception as exc:  # noqa: BLE001
            print(f"  {name}: not measured ({exc})")
            continue
        model = loaded.model
        if loaded.pretrained:
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(
                model, LoraConfig(r=16, lora_alpha=16, target_modules=["q_proj", "v_proj"])
            )
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        ids = one_record_examples(frame, loaded.tokenizer, 256)
        tokens = records = 0
        start = time.time()
        for step in range(steps):
            batch_ids = ids[step * 8 : step * 8 + 8]
            tokens += llm_step(model, loaded.tokenizer, opt, batch_ids)
            records += len(batch_ids)
        seconds = time.time() - start
        print(f"  {name:<20} {records / seconds:7.2f} records/s  {tokens / seconds:8.0f} tokens/s")


def demo_run(output: Path) -> None:
    command = [
        str(Path(sys.executable).parent / "safe-synthesizer"),
        "run",
        "--device",
        "cpu",
        "--quiet",
        "--config",
        str(DEMO / "demo-config.yaml"),
        "--data-source",
        str(DEMO / "adult_pii_demo.csv"),
        "--output",
        str(output),
    ]
    start = time.time()
    subprocess.run(command, check=True)
    wall = time.time() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = json.loads((output / "summary.json").read_text())
    training, generation = summary.get("training", {}), summary.get("generation", {})
    print("demo job (make demo settings):")
    print(f"  wall time                 {wall:8.1f} s")
    print(f"  stage timings             {summary.get('timings_seconds')}")
    print(f"  training records/s        {training.get('records_per_second')}")
    print(f"  training tokens/s         {training.get('tokens_per_second')}")
    print(f"  tokens per record         {training.get('tokens_per_record')}")
    print(f"  generation valid rec/s    {generation.get('valid_records_per_second')}")
    print(f"  valid fraction            {generation.get('valid_fraction')}")
    print(f"  records out               {summary.get('rows_out')}")
    print(f"  scores                    {summary.get('scores')}")
    print(f"  peak RSS                  {peak_mb:8.0f} MB")


def _llm_step(frame: pd.DataFrame) -> Any:
    """One training step of the built-in tiny-llama (the LLM path's CPU model): 8 one-record
    examples, full fine-tuning as on CPU."""
    import torch

    from safe_synthesizer.models import BUILTIN_TINY_LLAMA, load_base_model

    loaded = load_base_model(BUILTIN_TINY_LLAMA, device="cpu")
    model, tok = loaded.model, loaded.tokenizer
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    ids = one_record_examples(frame, tok, 800)
    cursor = [0]

    def step() -> None:
        start = cursor[0] % (len(ids) - 8)
        cursor[0] += 8
        llm_step(model, tok, optimizer, ids[start : start + 8])

    return step


def contention_child(mode: str, steps: int, data: Path, engine: str = "field") -> None:
    """One measurement (run in a fresh process): prints ``steps_per_second threads``."""
    if mode in ("after", "usable"):
        from safe_synthesizer.threads import configure_threads, field_engine_threads

        configure_threads()  # what the pipeline does first: every usable CPU, passive waits
    import torch

    from safe_synthesizer.tabular.model import build_model, layout_of, size_model
    from safe_synthesizer.tabular.tokenizer import fit_tokenizer
    from safe_synthesizer.tabular.train import token_matrix

    frame = pd.read_csv(data)
    if engine == "llm":
        step = _llm_step(frame)
    else:
        tokenizer = fit_tokenizer(frame)
        tokens = token_matrix(tokenizer.encode(frame))
        if mode == "after":  # what the field engine then does for this table (field_engine_threads)
            logits = sum(size for _, size in layout_of(tokenizer))
            torch.set_num_threads(field_engine_threads(logits_per_record=logits))
        model = build_model(tokenizer, size_model(len(frame), tokens.shape[1]), seed=0)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(0)

        def step() -> None:
            batch = tokens[torch.randint(0, len(tokens), (256,), generator=generator)]
            loss = model.per_record_loss(batch).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    for _ in range(5):  # warm-up: allocator and OpenMP pool
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    print(f"{steps / (time.perf_counter() - start):.3f} {torch.get_num_threads()}")


def thread_contention(steps: int, data: Path, engine: str = "field") -> None:
    """Steps/s before and after the thread sizing, alone and beside one busy process."""
    import os

    what = (
        "field-token training, batches of 256" if engine == "field" else "tiny-llama training, batches of 8"
    )
    print(f"{what}, {steps} steps on {data.name} (steps/s; higher is better):")
    print(f"  {'':<28}{'alone':>10}{'beside 1 busy':>16}  threads")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env.pop("SAFE_SYNTH_THREADS", None)
    modes = (
        ("before", "torch default (before)"),
        ("usable", "all usable CPUs, passive"),
        ("after", "runner sizing (after)"),
    )
    for mode, label in modes:
        figures, threads = [], "?"
        for busy in (False, True):
            neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
            try:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--contention-child",
                        mode,
                        "--steps",
                        str(steps),
                        "--contention-data",
                        str(data),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=env,
                ).stdout.split()
            finally:
                if neighbour is not None:
                    neighbour.kill()
                    neighbour.wait()
            figures.append(float(out[0]))
            threads = out[1]
        print(f"  {label:<28}{figures[0]:>10.2f}{figures[1]:>16.2f}  {threads}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--contention-steps", type=int, default=60)
    parser.add_argument("--only-threads", action="store_true", help="only section 4 (CPU threads)")
    parser.add_argument(
        "--contention-data",
        type=Path,
        default=DEMO / "adult_pii_demo.csv",
        help="CSV for section 4 (default: the demo table; e.g. build/bench-quality/adult/train.csv)",
    )
    parser.add_argument("--contention-engine", choices=("field", "llm"), default="field")
    parser.add_argument("--contention-child", choices=("before", "usable", "after"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contention_child:
        contention_child(args.contention_child, args.steps, args.contention_data, args.contention_engine)
        return 0
    if args.only_threads:
        thread_contention(args.contention_steps, args.contention_data, args.contention_engine)
        return 0
    frame = pd.read_csv(DEMO / "adult_pii_demo.csv")
    token_costs(frame)
    model_speed(frame, args.steps)
    if not args.skip_demo:
        with tempfile.TemporaryDirectory() as tmp:
            demo_run(Path(tmp) / "out")
    thread_contention(args.contention_steps, args.contention_data)
    thread_contention(args.contention_steps, args.contention_data, "llm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

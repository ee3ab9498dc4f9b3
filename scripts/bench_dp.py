"""DP-SGD vs plain training step time on the same model and data (``make bench-dp``): prints figures.

For each model -- the field-token engine (the default; every weight trained, per-record clipping by
ghost clipping), the from-scratch tiny Llama and SmolLM2-135M with LoRA (per-sample gradients only
over the adapter, through opacus) -- the same one-record examples of the demo data, the same batch
size and learning rate:

- plain: minibatch forward, mean loss, backward, AdamW step (the non-DP training loop);
- DP: :class:`safe_synthesizer.privacy.dp.DPTrainer` (Poisson sampling with expected batch = the
  same batch size, per-sample gradients through opacus hooks, clipping, noise, AdamW).

Figures: seconds per step, records per second (DP batches vary in size, so records/s is the fair
comparison) and the DP/plain time ratio per record (goal <= 1.5x), timed over the steps (plain
training after one warm-up step); the privacy accounting (a few PLD evaluations per run, whatever
its length) is printed separately. Asserts nothing.
Usage: ``python scripts/bench_dp.py [--device cpu|cuda] [--steps 30] [--models field,tiny,smollm2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
COLUMNS = ["age", "workclass", "education", "occupation", "sex", "hours_per_week", "income"]


def _examples(loaded, frame: pd.DataFrame):
    from safe_synthesizer.schema import infer_schema
    from safe_synthesizer.serialization import encode_records, prompt_text
    from safe_synthesizer.training import IGNORE_INDEX, TokenizedExamples

    schema = infer_schema(frame)
    tok = loaded.tokenizer
    prompt = tok(prompt_text(schema), add_special_tokens=False)["input_ids"]
    ids, labels = [], []
    for line in encode_records(frame, schema):
        body = tok(line + "\n", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids.append(prompt + body)
        labels.append([IGNORE_INDEX] * len(prompt) + body)
    return TokenizedExamples(ids, labels, [1] * len(ids))


def _model(name: str, device: str, params):
    from safe_synthesizer.models import load_base_model
    from safe_synthesizer.training import _lora_model

    loaded = load_base_model(name, device=device, seed=0)
    model = _lora_model(loaded, params) if loaded.pretrained else loaded.model
    model.train()
    return loaded, model


def plain_steps(model, data, batch: int, steps: int, pad_id: int, device: str) -> tuple[float, int]:
    """Seconds and records for ``steps`` plain minibatch steps (after one warm-up step)."""
    import torch

    from safe_synthesizer.privacy.dp import per_sample_loss
    from safe_synthesizer.training import collate

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    records, started = 0, 0.0
    for step in range(steps + 1):
        if step == 1:
            started, records = time.perf_counter(), 0
        chosen = [(step * batch + i) % len(data.input_ids) for i in range(batch)]
        tensors = collate([data.input_ids[i] for i in chosen], [data.labels[i] for i in chosen], pad_id)
        tensors = {k: v.to(device) for k, v in tensors.items()}
        per_sample_loss(model, tensors).mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        records += batch
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, records


def dp_steps(
    model, data, params, batch: int, steps: int, pad_id: int, device: str
) -> tuple[float, int, float, float]:
    """Seconds in the steps, records drawn, σ and seconds of accounting for ``steps`` DP-SGD steps."""
    import torch

    from safe_synthesizer.autoconfig import resolve
    from safe_synthesizer.privacy.dp import DPTrainer

    n = len(data.input_ids)
    resolved = resolve(
        params,
        n_train_records=n,
        n_privacy_units=n,
        device=device,
        pretrained_model="bench",
        model_is_pretrained=True,
    )
    resolved = dataclasses.replace(resolved, batch_size=batch, num_input_records_to_sample=steps * batch)
    trainer = DPTrainer.plan(params, resolved, n)
    trainer.noise_seed = 0
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    outcome = trainer.train(model, optimizer, data, pad_id, device)
    if device == "cuda":
        torch.cuda.synchronize()
    return outcome.step_seconds, outcome.records, trainer.noise_multiplier, outcome.accounting_seconds


def field_bench(frame: pd.DataFrame, params, batch: int, steps: int, device: str) -> dict[str, float]:
    """Plain and DP-SGD steps of the field-token engine (DP sized as the engine sizes it)."""
    import torch

    from safe_synthesizer.autoconfig import resolve
    from safe_synthesizer.privacy.dp import DPTrainer
    from safe_synthesizer.tabular.model import build_model, size_model
    from safe_synthesizer.tabular.tokenizer import fit_tokenizer
    from safe_synthesizer.tabular.train import _DPData, token_matrix

    tok = fit_tokenizer(frame)
    rows = tok.encode(frame)
    shape = size_model(len(rows), len(tok.positions), device, dp=True)
    model = build_model(tok, shape, seed=0).to(device).train()
    tokens = token_matrix(rows).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    started, records = 0.0, 0
    for step in range(steps + 1):
        if step == 1:
            started, records = time.perf_counter(), 0
        chosen = torch.arange(step * batch, (step + 1) * batch) % len(tokens)
        model.per_record_loss(tokens[chosen]).mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        records += batch
    plain_s = time.perf_counter() - started
    n = len(rows)
    resolved = resolve(
        params,
        n_train_records=n,
        n_privacy_units=n,
        device=device,
        pretrained_model="field",
        model_is_pretrained=False,
    )
    resolved = dataclasses.replace(
        resolved, batch_size=batch, num_input_records_to_sample=steps * batch, max_sequences_per_example=1
    )
    trainer = DPTrainer.plan(params, resolved, n)
    trainer.noise_seed = 0
    model = build_model(tok, shape, seed=0).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    outcome = trainer.train(
        model,
        optimizer,
        _DPData(rows, rows, [1] * n),
        0,
        device,
        collate_fn=lambda ids, _labels, _pad: {"tokens": token_matrix(ids)},
        clipped_sum_fn=lambda m, b, c: m.clipped_gradient_sum(b["tokens"], c),
    )
    return {
        "plain_s": plain_s,
        "plain_records": records,
        "dp_s": outcome.step_seconds,
        "dp_records": outcome.records,
        "sigma": trainer.noise_multiplier,
        "accounting_s": outcome.accounting_seconds,
        "positions": len(tok.positions),
        "hidden": shape.hidden,
    }


def main(argv: list[str] | None = None) -> int:
    import torch

    from safe_synthesizer.config import SafeSynthesizerParameters
    from safe_synthesizer.models import BUILTIN_SMOLLM2, BUILTIN_TINY_LLAMA

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--records", type=int, default=1024)
    parser.add_argument("--models", default="field,tiny,smollm2")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    frame = pd.read_csv(DEMO)[COLUMNS].head(args.records)
    full_frame = pd.read_csv(DEMO).drop(
        columns=["name", "email", "phone", "ssn", "address", "notes"], errors="ignore"
    )
    models = {"tiny": (BUILTIN_TINY_LLAMA, 16), "smollm2": (BUILTIN_SMOLLM2, 8)}
    print(f"DP-SGD vs plain training on {args.device} ({torch.get_num_threads()} threads), demo records:")
    for key in args.models.split(","):
        if key == "field":
            batch = 512
            params = SafeSynthesizerParameters.model_validate(
                {
                    "training": {"batch_size": batch, "gradient_accumulation_steps": 1},
                    "privacy": {"dp_enabled": True, "epsilon": 8.0},
                }
            )
            f = field_bench(full_frame, params, batch, args.steps * 2, args.device)
            plain_rate, dp_rate = f["plain_records"] / f["plain_s"], f["dp_records"] / f["dp_s"]
            print(
                f"  field-token engine (every weight; {f['positions']} positions, hidden {f['hidden']}), "
                f"batch {batch}, {args.steps * 2} steps:"
            )
            print(f"    plain   {f['plain_s'] / (args.steps * 2):7.3f} s/step  {plain_rate:8.1f} records/s")
            print(
                f"    DP-SGD  {f['dp_s'] / (args.steps * 2):7.3f} s/step  {dp_rate:8.1f} records/s  "
                f"(ghost clipping; sigma {f['sigma']:.3f}, {f['dp_records']} records drawn)"
            )
            print(f"    DP / plain time per record: {plain_rate / dp_rate:5.2f}x  (goal <= 1.5x)")
            continue
        name, batch = models[key]
        steps = args.steps if key == "tiny" or args.device == "cuda" else max(4, args.steps // 3)
        params = SafeSynthesizerParameters.model_validate(
            {
                "training": {"batch_size": batch, "gradient_accumulation_steps": 1, "lora_r": 16},
                "privacy": {"dp_enabled": True, "epsilon": 8.0},
            }
        )
        try:
            loaded, model = _model(name, args.device, params)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports what it could not measure
            print(f"  {name}: not measured ({exc})")
            continue
        data = _examples(loaded, frame)
        pad_id = loaded.tokenizer.pad_token_id or 0
        plain_s, plain_records = plain_steps(model, data, batch, steps, pad_id, args.device)
        _, model = _model(name, args.device, params)  # fresh weights for the DP run
        dp_s, dp_records, sigma, accounting_s = dp_steps(
            model, data, params, batch, steps, pad_id, args.device
        )
        plain_rate, dp_rate = plain_records / plain_s, dp_records / dp_s
        trainable = "LoRA r=16" if loaded.pretrained else "full model"
        print(f"  {name} ({trainable}), batch {batch}, {steps} steps:")
        print(f"    plain   {plain_s / steps:7.3f} s/step  {plain_rate:8.1f} records/s")
        print(
            f"    DP-SGD  {dp_s / steps:7.3f} s/step  {dp_rate:8.1f} records/s  "
            f"(sigma {sigma:.3f}, expected batch {batch}, {dp_records} records drawn)"
        )
        print(f"    DP / plain time per record: {plain_rate / dp_rate:5.2f}x  (goal <= 1.5x)")
        print(f"    accounting (progress epsilon and the final ledger, once per run): {accounting_s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

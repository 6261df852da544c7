"""The training run itself: model set-up, resume, the step loop, checkpoints."""

import collections
import threading
import time

import numpy as np
import tensorflow as tf

from .checkpoint import load_checkpoint, save_checkpoint
from .data import Windows, batch_chars, type_char_ids
from .evaluate import Evaluator, perplexities
from .export import write_bilm_files
from .loop import Trainer
from .model import TrainableBilm, from_file_weights, initial_values
from .progress import TrainingProgress

# Tracing a step takes seconds; runs of the same shapes and settings in one
# process (tests, an extended run) reuse the compiled functions. All state is
# in variables, overwritten at the start of each run.
_COMPILED = collections.OrderedDict()
_COMPILED_LOCK = threading.Lock()
_KEEP = 4


def _compiled(key, build):
    with _COMPILED_LOCK:
        if key in _COMPILED:
            _COMPILED.move_to_end(key)
            return _COMPILED[key]
        entry = _COMPILED[key] = build()
        while len(_COMPILED) > _KEEP:
            _COMPILED.popitem(last=False)
        return entry


def _assign(model, values):
    for name, var in model.vars.items():
        var.assign(values[name])


def _targets(corpus, vocabulary):
    return np.array([vocabulary.id(t) for t in corpus.types], np.int32)


def _start_values(opts, vocabulary, init_weights, seed):
    values = initial_values(opts, len(vocabulary), np.random.default_rng([seed, 1]))
    if init_weights is not None:  # the biLM from init; the softmax stays new
        values.update(from_file_weights(init_weights, opts))
    return values


def run(
    out_dir,
    config,
    opts,
    options_dict,
    vocabulary,
    train,
    heldout,
    init_weights,
    resume_meta,
    max_tokens,
    epochs,
    checkpoint_every,
    verbose,
    started,
):
    B, T = config["batch_size"], config["unroll_steps"]
    windows = Windows(train, _targets(train, vocabulary), B, T, config["random_state"])
    per_step = windows.tokens_per_step
    if max_tokens is not None:
        total_steps = -(-max_tokens // per_step)
    else:
        total_steps = epochs * windows.steps_per_epoch
    softmax_steps = -(-config["softmax_only_tokens"] // per_step)
    char_ids = type_char_ids(train.types)
    max_width = max(w for w, _ in opts.filters)

    if resume_meta is not None:
        meta, values, accumulators, state_c, state_h, _ = load_checkpoint(out_dir)
        history = meta["history"]
    else:
        values = _start_values(opts, vocabulary, init_weights, config["random_state"])
        accumulators = state_c = state_h = None
        history = []
    eval_rows = None if heldout is None else min(B, heldout.n_pairs)

    def build():
        model = TrainableBilm(opts, values)
        trainer = Trainer(
            model,
            B,
            T,
            config["n_negative_samples"],
            learning_rate=config["learning_rate"],
            dropout=config["dropout"],
            seed=config["random_state"],
        )
        return model, trainer

    key = ("train", opts, len(vocabulary), B, T) + tuple(
        config[k]
        for k in ("n_negative_samples", "learning_rate", "dropout", "random_state")
    )
    model, trainer = _compiled(key, build)
    _assign(model, values)
    step = 0
    if resume_meta is not None:
        for name, value in accumulators.items():
            trainer.accumulators[name].assign(value)
        trainer.state_c.assign(state_c)
        trainer.state_h.assign(state_h)
        step = int(resume_meta["step"])
    else:
        for acc in trainer.accumulators.values():
            acc.assign(tf.ones_like(acc))
        trainer.state_c.assign(tf.zeros_like(trainer.state_c))
        trainer.state_h.assign(tf.zeros_like(trainer.state_h))
    trainer.step.assign(step)
    if heldout is not None:
        heldout_targets = _targets(heldout, vocabulary)
        heldout_chars = type_char_ids(heldout.types)

    progress = TrainingProgress(total_steps * per_step, step * per_step, verbose)
    progress.message(
        f"corpus {train.n_words:,} words in {train.n_sentences:,} sentences, "
        f"vocabulary {len(vocabulary):,}, {windows.tokens_per_epoch:,} tokens per epoch; "
        f"training {total_steps * per_step:,} tokens "
        f"({total_steps / windows.steps_per_epoch:.2f} epochs)"
        + (f", resuming at {step * per_step:,}" if step else "")
    )

    def checkpoint(loss_sum, loss_steps):
        record = {
            "tokens": step * per_step,
            "train_perplexity": float(np.exp(loss_sum / loss_steps))
            if loss_steps
            else None,
            "validation_perplexity": None,
        }
        if heldout is not None:
            record["validation_perplexity"] = _perplexity(
                opts,
                model.values(),
                len(vocabulary),
                heldout,
                heldout_targets,
                heldout_chars,
                eval_rows,
                T,
            )
        if not history or history[-1]["tokens"] != record["tokens"]:
            history.append(record)
        current = model.values()
        meta = {
            "config": config,
            "step": step,
            "tokens": step * per_step,
            "history": history,
        }
        save_checkpoint(
            out_dir,
            meta,
            current,
            {k: v.numpy() for k, v in trainer.accumulators.items()},
            trainer.state_c.numpy(),
            trainer.state_h.numpy(),
            vocabulary.tokens,
        )
        write_bilm_files(out_dir, options_dict, opts, current, vocabulary, history)
        return record

    out_dir.mkdir(parents=True, exist_ok=True)
    start_step = step
    loss_sum, loss_steps = 0.0, 0
    last_checkpoint = time.monotonic()
    t0 = time.monotonic()
    cpu0 = time.process_time()
    try:
        while step < total_steps:
            types, index, targets = windows.batch(step)
            fn = (
                trainer.train_softmax_step
                if step < softmax_steps
                else trainer.train_step
            )
            loss, _ = fn(batch_chars(char_ids[types], max_width), index, targets)
            step += 1
            loss = float(loss)
            if not np.isfinite(loss):
                raise ValueError(
                    f"training diverged at step {step} (loss {loss}); lower learning_rate"
                )
            loss_sum += loss
            loss_steps += 1
            if step == start_step + 1:  # rates exclude the first step's compilation
                t0 = time.monotonic()
                cpu0 = time.process_time()
                progress.restart(step * per_step)
            progress.update(step * per_step, float(np.exp(loss_sum / loss_steps)))
            if (
                time.monotonic() - last_checkpoint >= checkpoint_every
                and step < total_steps
            ):
                record = checkpoint(loss_sum, loss_steps)
                _report(progress, record)
                loss_sum, loss_steps = 0.0, 0
                last_checkpoint = time.monotonic()
    except KeyboardInterrupt:
        step = int(trainer.step.numpy())
        checkpoint(loss_sum, loss_steps)
        progress.message(
            f"interrupted: checkpoint at {step * per_step:,} tokens written"
        )
        raise
    seconds = time.monotonic() - t0
    cpu_seconds = time.process_time() - cpu0
    timed_steps = step - start_step - 1
    record = checkpoint(loss_sum, loss_steps)
    if loss_steps and verbose == 1:
        progress.update(step * per_step, record["train_perplexity"], force=True)
    _report(progress, record)
    return {
        "out_dir": str(out_dir),
        "tokens": step * per_step,
        "steps": step,
        "tokens_per_second": (
            timed_steps * per_step / seconds
            if timed_steps > 0 and seconds > 0
            else None
        ),
        "tokens_per_cpu_second": (
            timed_steps * per_step / cpu_seconds
            if timed_steps > 0 and cpu_seconds > 0
            else None
        ),
        "history": history,
    }


def _report(progress, record):
    val = record["validation_perplexity"]
    if val is not None:
        progress.message(
            f"checkpoint at {record['tokens']:,} tokens: validation perplexity "
            f"{val['average']:.1f} (forward {val['forward']:.1f}, backward "
            f"{val['backward']:.1f})"
        )


def _perplexity(opts, values, n_vocab, corpus, targets, char_ids, rows, unroll_steps):
    def build():
        model = TrainableBilm(opts, values)
        return model, Evaluator(model, rows, unroll_steps)

    model, evaluator = _compiled(("eval", opts, n_vocab, rows, unroll_steps), build)
    _assign(model, values)
    return perplexities(evaluator.mean_losses(corpus, targets, char_ids))


def perplexity(opts, values, vocabulary, corpus, batch_size, unroll_steps):
    rows = min(batch_size, corpus.n_pairs)
    return _perplexity(
        opts,
        values,
        len(vocabulary),
        corpus,
        _targets(corpus, vocabulary),
        type_char_ids(corpus.types),
        rows,
        unroll_steps,
    )

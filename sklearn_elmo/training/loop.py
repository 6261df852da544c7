"""One compiled training step: sampled softmax, clipping, Adagrad.

Python runs once per batch (building its index arrays); everything per
token is inside one ``tf.function``: the forward pass, the gradients (the
LSTM's written out in lstm.py, its cells fused by XLA), clipping by global
norm and TF1's Adagrad, sparse for the softmax rows a batch touches.
Compiling the whole step with XLA was measured slower on CPU (XLA's CPU
matmuls and convolutions are slower than oneDNN's here), so only the LSTM
cells are.
"""

import numpy as np
import tensorflow as tf

# A logit that no softmax can pick: sampled candidates equal to the target
# ("accidental hits") get it, as tf.nn.sampled_softmax_loss does.
_NEVER = -1e30


def log_uniform_log_probs(n_vocab):
    """log P(k) of the log-uniform (Zipf) sampler over ids 0..n_vocab-1."""
    k = np.arange(n_vocab, dtype=np.float64)
    p = (np.log(k + 2.0) - np.log(k + 1.0)) / np.log(n_vocab + 1.0)
    return np.log(p).astype(np.float32)


def sampled_softmax_losses(W, b, outputs, labels, log_p, n_sampled, seed):
    """Per-position sampled softmax loss with log-uniform negatives.

    Candidates are drawn without replacement (as TF's sampler with
    ``unique=True``), here in one fixed-shape pass: the top ``n_sampled`` of
    ``log P + Gumbel noise`` are a draw without replacement. Each logit is
    corrected by the log of its inclusion probability, estimated as
    ``1 - exp(-P n)`` with ``n = exp(-tau)``, ``tau`` the first key not
    taken (TF uses ``1 - (1 - P)^tries``, the same form).
    """
    n_vocab = log_p.shape[0]
    u = tf.random.stateless_uniform([n_vocab], seed, minval=1e-20, maxval=1.0)
    keys = log_p - tf.math.log(-tf.math.log(u))
    top, sampled = tf.math.top_k(keys, n_sampled + 1)
    tau = top[n_sampled]
    sampled = sampled[:n_sampled]

    def log_q(lp):
        return tf.math.log(-tf.math.expm1(-tf.exp(lp - tau)))

    w_s = tf.gather(W, sampled)
    logits = tf.matmul(outputs, w_s, transpose_b=True)
    logits += tf.gather(b, sampled) - log_q(tf.gather(log_p, sampled))
    logits = tf.where(labels[:, None] == sampled[None, :], _NEVER, logits)
    true = tf.reduce_sum(outputs * tf.gather(W, labels), axis=-1)
    true += tf.gather(b, labels) - log_q(tf.gather(log_p, labels))
    all_logits = tf.concat([true[:, None], logits], axis=1)
    return tf.reduce_logsumexp(all_logits, axis=1) - true


def full_softmax_losses(W, b, outputs, labels):
    logits = tf.matmul(outputs, W, transpose_b=True) + b
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def _dedupe(grad):
    unique, where = tf.unique(grad.indices)
    values = tf.math.unsorted_segment_sum(grad.values, where, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, grad.dense_shape)


class Trainer(tf.Module):
    """The optimiser state and the compiled step for one :class:`TrainableBilm`.

    Parameters
    ----------
    model : TrainableBilm
    batch_size, unroll_steps : int
    n_negative_samples : int or None
        None or >= the vocabulary size: the full softmax.
    learning_rate, dropout, clip_norm : float
    seed : int
        Base of every stateless random draw (dropout masks, negatives);
        each step's draws depend on ``(seed, step)`` only.
    initial_accumulator : float
        Adagrad's starting accumulator (bilm-tf: 1.0).
    """

    def __init__(
        self,
        model,
        batch_size,
        unroll_steps,
        n_negative_samples,
        learning_rate=0.2,
        dropout=0.1,
        clip_norm=10.0,
        seed=0,
        initial_accumulator=1.0,
    ):
        super().__init__(name="bilm_trainer")
        opts = model.opts
        self.model = model
        self.batch_size, self.unroll_steps = batch_size, unroll_steps
        n_vocab = model.vars["softmax/W"].shape[0]
        self.n_vocab = n_vocab
        self.n_sampled = (
            None
            if n_negative_samples is None or n_negative_samples >= n_vocab
            else int(n_negative_samples)
        )
        self.log_p = tf.constant(log_uniform_log_probs(n_vocab))
        self.learning_rate = float(learning_rate)
        self.dropout = float(dropout)
        self.clip_norm = float(clip_norm)
        self.seed = int(seed)
        names = model.names
        self.accumulators = {
            name: tf.Variable(
                tf.fill(model.vars[name].shape, float(initial_accumulator)),
                trainable=False,
                name="acc_" + name.replace("/", "_"),
            )
            for name in names
        }
        L, C, P = opts.n_lstm_layers, opts.lstm_dim, opts.projection_dim
        self.state_c = tf.Variable(tf.zeros([L, 2, batch_size, C]), trainable=False)
        self.state_h = tf.Variable(tf.zeros([L, 2, batch_size, P]), trainable=False)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        T, B = unroll_steps, batch_size
        signature = [
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([2, B, T], tf.int32),
            tf.TensorSpec([2, B, T], tf.int32),
        ]
        self.train_step = tf.function(
            lambda *args: self._train_step(*args, names=tuple(names)),
            input_signature=signature,
        )
        softmax = tuple(n for n in names if n.startswith("softmax/"))
        # First phase of domain adaptation: the new softmax alone, biLM frozen.
        self.train_softmax_step = tf.function(
            lambda *args: self._train_step(*args, names=softmax),
            input_signature=signature,
        )

    def _seed(self, step, k):
        return tf.stack([tf.constant(self.seed, tf.int64) * 7919 + k, step])

    def losses(self, top, targets, step, training):
        """Loss per direction from top outputs ``(2, T, B, P)`` and targets ``(2, B, T)``."""
        W, b = self.model.vars["softmax/W"], self.model.vars["softmax/b"]
        P = top.shape[-1]
        labels = tf.reshape(tf.transpose(targets, [0, 2, 1]), [2, -1])
        out = []
        for d in range(2):
            outputs = tf.reshape(top[d], [-1, P])
            if self.n_sampled is None or not training:
                loss = full_softmax_losses(W, b, outputs, labels[d])
            else:
                loss = sampled_softmax_losses(
                    W,
                    b,
                    outputs,
                    labels[d],
                    self.log_p,
                    self.n_sampled,
                    self._seed(step, 10 + d),
                )
            out.append(tf.reduce_mean(loss))
        return out

    def _compute(self, chars, index, targets, step, names):
        model = self.model
        with tf.GradientTape() as tape:
            x, _ = model.inputs(chars, index)
            layers, c, h = model.lstm(
                x, self.state_c, self.state_h, self.dropout, self._seed(step, 0)
            )
            top = layers[-1]
            if self.dropout > 0.0:
                top = tf.nn.experimental.stateless_dropout(
                    top, self.dropout, seed=self._seed(step, 1)
                )
            forward, backward = self.losses(top, targets, step, training=True)
            loss = 0.5 * (forward + backward)
            scaled = loss * self.unroll_steps
        variables = [model.vars[n] for n in names]
        grads = tape.gradient(scaled, variables)
        out = []
        for name, grad in zip(names, grads):
            if isinstance(grad, tf.IndexedSlices) and not name.startswith("softmax/"):
                grad = tf.convert_to_tensor(grad)
            out.append(grad)
        return loss, out, c, h

    def _train_step(self, chars, index, targets, names):
        step = self.step.read_value()
        loss, grads, c, h = self._compute(chars, index, targets, step, names)
        grads = [_dedupe(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        squares = [
            tf.reduce_sum(tf.square(g.values if isinstance(g, tf.IndexedSlices) else g))
            for g in grads
        ]
        norm = tf.sqrt(tf.add_n(squares))
        scale = self.clip_norm / tf.maximum(norm, self.clip_norm)
        lr = tf.constant(self.learning_rate)
        no_epsilon = tf.constant(0.0)  # TF1's Adagrad: var -= lr * g / sqrt(acc)
        for name, grad in zip(names, grads):
            var, acc = self.model.vars[name], self.accumulators[name]
            # The fused kernels update accumulator and variable in one pass.
            if isinstance(grad, tf.IndexedSlices):
                tf.raw_ops.ResourceSparseApplyAdagradV2(
                    var=var.handle,
                    accum=acc.handle,
                    lr=lr,
                    epsilon=no_epsilon,
                    grad=grad.values * scale,
                    indices=grad.indices,
                )
            else:
                tf.raw_ops.ResourceApplyAdagradV2(
                    var=var.handle,
                    accum=acc.handle,
                    lr=lr,
                    epsilon=no_epsilon,
                    grad=grad * scale,
                )
        self.state_c.assign(c)
        self.state_h.assign(h)
        self.step.assign_add(1)
        return loss, norm

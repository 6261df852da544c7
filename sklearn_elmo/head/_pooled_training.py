"""Training a head on per-text features in NumPy, step for step as Keras would.

With mean pooling the network reads one ``(n_layers, dim)`` array per text,
so a training step is a few matmuls on a batch of 32 rows: microseconds of
arithmetic. Run by TensorFlow, even as one traced graph loop over all steps,
each step cost about 0.3-0.5 ms of op dispatch, and a grid search runs
thousands of them (13 fits x 15 epochs x 42 batches for 2,000 texts), which
outweighed the biLM pass over short texts. Here a step is its forward pass,
its hand-written gradients and an Adam update on one flat parameter vector:
about 0.04-0.07 ms on a 2-core machine (a batch of 32 rows of 3 x 256, without
and with a hidden layer of 32).

It is the same training as a Keras model of
:func:`~sklearn_elmo.head._keras.build_network` under ``tf.GradientTape`` with
``keras.optimizers.Adam`` (tested against it, to float32 rounding): the same
initial values (:func:`~sklearn_elmo.head._keras.initial_weights`), the same
dropout masks (:mod:`~sklearn_elmo.head._dropout_masks` draws them from the
dropout layer's seed stream), loss (the batch mean of the weighted entries
plus the scalar mix's L2 penalty) and Adam formula.
"""

import contextlib
import math

import numpy as np
from scipy.special import expit

from ._dropout_masks import DropoutMasks
from ._spec import dense_layers

_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7


def _softmax_list(values):
    # A handful of layers: Python floats cost less than five NumPy calls.
    top = max(values)
    e = [math.exp(v - top) for v in values]
    total = sum(e)
    return [v / total for v in e]


def _softmax(w):
    return np.array(_softmax_list(w.tolist()), np.float32)


class _Losses:
    """Weighted loss entries of one output type and their gradient in the logits."""

    def __init__(self, output):
        self.output = output

    def entries(self, y, logits):
        """Per-entry losses (``(r, 1)`` for softmax, else the logits' shape)."""
        if self.output == "softmax":
            top = logits.max(axis=1, keepdims=True)
            lse = top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
            return lse - np.take_along_axis(logits, y[:, None], axis=1)
        if self.output == "sigmoid":
            return (
                np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
            )
        return np.square(logits - y)

    def gradient(self, y, logits):
        """d(entries) / d(logits), per entry, broadcast over softmax's classes."""
        if self.output == "softmax":
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(y)), y] -= 1.0
            return p
        if self.output == "sigmoid":
            p = expit(logits)
            p -= y
            return p
        d = logits - y
        d *= 2.0
        return d


class PooledFit:
    """One fit's parameters, Adam state and dropout stream, on fixed inputs.

    Parameters
    ----------
    spec : NetworkSpec
        With ``token_level=False`` and an ``output``.
    batch_size : int
        Rows per training step (the last batch of an epoch may be smaller).
    layers : ndarray of shape (n, n_layers, dim)
        Standardised per-layer means of every row.
    targets, loss_weights : ndarray
        As for :func:`~sklearn_elmo.head._train.train_network`.
    initial : tuple
        ``(weights, dropout_state)`` from
        :func:`~sklearn_elmo.head._keras.initial_weights`.
    learning_rate : float
        Adam's learning rate.
    """

    def __init__(
        self, spec, batch_size, *, layers, targets, loss_weights, initial, learning_rate
    ):
        if spec.token_level or spec.output is None:
            raise ValueError("PooledFit trains heads on per-text features only.")
        weights, dropout_state = initial
        expected = _parameter_shapes(spec)
        got = {name: tuple(np.shape(value)) for name, value in weights.items()}
        if got != expected:
            raise ValueError(
                f"The initial weights do not match the network: expected {expected}, "
                f"got {got}."
            )
        self._names = list(expected)
        if (dropout_state is None) != (spec.dropout == 0):
            raise ValueError("The dropout state does not match the network's dropout.")
        self.spec = spec
        self.batch_size = int(batch_size)
        # Layers first: an epoch's rows of one layer are one contiguous block.
        self._layers = np.ascontiguousarray(
            np.asarray(layers, np.float32).transpose(1, 0, 2)
        )
        self._targets = np.asarray(targets)
        self._loss_weights = np.asarray(loss_weights, np.float32)
        self._losses = _Losses(spec.output)
        self._mix_l2 = np.float32(spec.mix_l2)
        self._learning_rate = float(learning_rate)

        shapes = list(expected.values())
        sizes = [int(np.prod(shape)) for shape in shapes]
        self._theta = np.concatenate(
            [np.ravel(weights[name]).astype(np.float32) for name in self._names]
        )
        # Adam's two moments side by side, and the gradient beside its square:
        # both moments update in four NumPy calls (the calls, not the floats,
        # are what a step of a small head costs).
        self._moments = np.zeros((2, len(self._theta)), np.float32)
        self._m, self._v = self._moments
        self._grad_pair = np.zeros_like(self._moments)
        self._grad = self._grad_pair[0]
        self._rates = np.array([[1 - _BETA_1], [1 - _BETA_2]], np.float32)
        self._scratch = np.zeros_like(self._theta)
        self._t = 0
        offsets = np.cumsum([0, *sizes])
        self._params = [
            self._theta[a:b].reshape(s)
            for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)
        ]
        self._grads = [
            self._grad[a:b].reshape(s)
            for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)
        ]
        # Each dense layer's kernel and bias are consecutive in theta: one
        # (fan_in + 1, width) block, which multiplies an input with a trailing
        # column of ones (so a layer is one matmul forward and one backward).
        self._blocks, self._grad_blocks, self._inputs = [], [], []
        rows = min(self.batch_size, len(self._targets))
        for i in range(2, len(shapes), 2):
            (fan_in, width), start = shapes[i], offsets[i]
            stop = start + (fan_in + 1) * width
            self._blocks.append(self._theta[start:stop].reshape(fan_in + 1, width))
            self._grad_blocks.append(self._grad[start:stop].reshape(fan_in + 1, width))
            buffer = np.empty((rows, fan_in + 1), np.float32)
            buffer[:, fan_in] = 1.0
            self._inputs.append(buffer)
        self._batch_views = {}
        self._masks = None
        if spec.dropout > 0:
            self._masks = DropoutMasks(dropout_state, spec.dropout, rows, spec.n_pooled)

    def _forward(self, x, mask):
        return forward(self._params, x, self.spec.dim, mask)

    def _penalty(self):
        w = self._params[0]
        return self._mix_l2 * (w @ w) if self._mix_l2 else np.float32(0.0)

    def _views(self, r):
        """The layer input buffers' first ``r`` rows, with and without the ones."""
        views = self._batch_views.get(r)
        if views is None:
            inputs = [buffer[:r] for buffer in self._inputs]
            views = self._batch_views[r] = (inputs, [a[:, :-1] for a in inputs])
        return views

    def _step(self, x, y, d_entries, mask):
        """One Adam step on a batch; its logits and the penalty before it.

        ``d_entries`` is d(loss) / d(entries): the loss weights over the
        number of entries. The same arithmetic as :func:`forward` and its
        gradient, written into the layer input buffers, with ``gamma`` folded
        into the layer weights as the encoder does (``mix_coefficients``):
        the mix is ``(gamma * s) @ x``.
        """
        n_layers = self.spec.n_layers
        head = self._theta[: n_layers + 1].tolist()
        w, gamma = head[:n_layers], head[n_layers]
        s = _softmax_list(w)
        mixed = np.array([gamma * a for a in s], np.float32) @ x
        inputs, activations = self._views(len(y))
        mixed = mixed.reshape(activations[0].shape)
        if mask is None:
            activations[0][...] = mixed
        else:
            np.multiply(mixed, mask, out=activations[0])
        blocks = self._blocks
        for i, block in enumerate(blocks[:-1]):
            np.maximum(inputs[i] @ block, 0, out=activations[i + 1])
        logits = inputs[-1] @ blocks[-1]

        d = self._losses.gradient(y, logits)
        d *= d_entries
        for i in range(len(blocks) - 1, -1, -1):
            np.matmul(inputs[i].T, d, out=self._grad_blocks[i])
            kernel = blocks[i][:-1]
            # One output: an outer product, which NumPy's matmul runs slowly.
            d = d * kernel.T if kernel.shape[1] == 1 else d @ kernel.T
            if i:
                d *= activations[i] > 0
        if mask is not None:
            d *= mask
        # d(loss) / d(gamma * s): the mix's input gradient, one value a layer.
        ds = (x @ d.ravel()).tolist()
        g_gamma = sum(a * b for a, b in zip(s, ds, strict=True))
        l2 = float(self._mix_l2)
        self._grad[: n_layers + 1] = [
            *(
                gamma * a * (b - g_gamma) + 2.0 * l2 * c
                for a, b, c in zip(s, ds, w, strict=True)
            ),
            g_gamma,
        ]
        self._adam()
        return logits, l2 * sum(a * a for a in w)

    def _adam(self):
        # keras.optimizers.Adam's update, on every parameter at once.
        self._t += 1
        t = self._t
        alpha = self._learning_rate * math.sqrt(1.0 - _BETA_2**t) / (1.0 - _BETA_1**t)
        pair, tmp = self._grad_pair, self._scratch
        np.multiply(pair[0], pair[0], out=pair[1])
        pair -= self._moments
        pair *= self._rates
        self._moments += pair  # m += (g - m) (1 - beta_1), v += (g^2 - v) (1 - beta_2)
        np.sqrt(self._v, out=tmp)
        tmp += _EPSILON
        np.divide(self._m, tmp, out=tmp)
        tmp *= alpha
        self._theta -= tmp

    def run_epoch(self, order):
        """Train on the rows ``order``, in batches; the loss sum and the logits.

        The loss sum is that of each batch's loss (with the penalty at the
        step's start) times its rows; the logits are those of the training
        pass (with dropout), in ``order``'s order.
        """
        self._expect([order])
        return self._run_epoch(order)

    def run_epochs(self, orders):
        """:meth:`run_epoch` for each of ``orders``: a list of sums, stacked logits."""
        self._expect(orders)
        totals, logits = zip(*map(self._run_epoch, orders), strict=True)
        return list(totals), np.stack(logits)

    def _expect(self, orders):
        if self._masks is not None:
            bs = self.batch_size
            n_steps = sum(-(-len(order) // bs) for order in orders)
            self._masks.expect(self._t + n_steps)

    def _run_epoch(self, order):
        order = np.asarray(order)
        bs, n = self.batch_size, len(order)
        layers, n_layers = self._layers, self.spec.n_layers
        y, weights = self._targets[order], self._loss_weights[order]
        k = weights.shape[1]  # entries per row: 1 for softmax
        d_entries = weights / np.float32(bs * k)
        logits = np.empty((n, self.spec.n_outputs), np.float32)
        penalties = 0.0
        masks = self._masks
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            if stop - start < bs:
                d_entries[start:stop] = weights[start:stop] / np.float32(
                    (stop - start) * k
                )
            mask = masks.step(self._t)[: stop - start] if masks is not None else None
            # A batch's rows of each layer, one after the other (np.take is
            # the fastest gather here, and beats gathering the whole epoch).
            x = np.take(layers, order[start:stop], axis=1).reshape(n_layers, -1)
            logits[start:stop], penalty = self._step(
                x, y[start:stop], d_entries[start:stop], mask
            )
            penalties += penalty * (stop - start)
        # Each batch's mean loss times its rows: sum(w * entries) / k overall.
        entries = self._losses.entries(y, logits)
        return float(
            np.sum(weights * entries, dtype=np.float64)
        ) / k + penalties, logits

    def evaluate(self, index):
        """Loss sum (weighted entries, no penalty) and logits of rows ``index``, no dropout."""
        index = np.asarray(index)
        x = self._layers[:, index, :].reshape(self.spec.n_layers, -1)
        logits, _ = self._forward(x, None)
        entries = self._losses.entries(self._targets[index], logits)
        return float(np.sum(self._loss_weights[index] * entries)), logits

    def penalty(self):
        """The scalar mix's L2 penalty at the current weights."""
        return float(self._penalty())

    def weights(self):
        """The current trainable values, by variable path (copies)."""
        return {
            name: np.array(value, np.float32)
            for name, value in zip(self._names, self._params, strict=True)
        }


def forward(params, x, dim, mask=None):
    """The head's logits on standardised per-layer means, as Keras computes them.

    Parameters
    ----------
    params : list of ndarray
        The trainable values in :func:`_parameter_shapes` order.
    x : ndarray of shape (n_layers, rows * dim)
        Each layer's rows one after the other.
    mask : ndarray of shape (rows, dim), optional
        Dropout factors (training); None for inference.

    Returns
    -------
    logits : ndarray of shape (rows, n_outputs)
    cache : tuple
        The softmaxed layer weights, the mix before ``gamma`` and each dense
        layer's input, for the backward pass.
    """
    w, gamma, *dense = params
    s = _softmax(w)
    mixed = (s @ x).reshape(-1, dim)
    h = gamma * mixed
    if mask is not None:
        h *= mask
    activations = [h]
    for kernel, bias in zip(dense[:-2:2], dense[1:-2:2], strict=True):
        z = activations[-1] @ kernel
        z += bias
        activations.append(np.maximum(z, 0, out=z))
    logits = activations[-1] @ dense[-2]
    logits += dense[-1]
    return logits, (s, mixed, activations)


def pooled_logits(spec, weights, layers):
    """Inference of a trained head on standardised per-layer means, in NumPy.

    Parameters
    ----------
    spec : NetworkSpec
        With ``token_level=False`` and an ``output``.
    weights : dict of str -> ndarray
        The trainable values by variable path (as :meth:`PooledFit.weights`).
    layers : ndarray of shape (n, n_layers, dim)

    Returns
    -------
    ndarray of shape (n, n_outputs), float32
    """
    params = [np.asarray(weights[name], np.float32) for name in _parameter_shapes(spec)]
    x = np.asarray(layers, np.float32).transpose(1, 0, 2).reshape(spec.n_layers, -1)
    return forward(params, x, spec.dim)[0]


def _parameter_shapes(spec):
    """The network's trainable variables, by path, in the order of the flat vector."""
    shapes = {"scalar_mix/w": (spec.n_layers,), "scalar_mix/gamma": ()}
    for name, fan_in, width in dense_layers(spec):
        shapes[f"{name}/kernel"] = (fan_in, width)
        shapes[f"{name}/bias"] = (width,)
    return shapes


@contextlib.contextmanager
def pooled_fit(
    spec, batch_size, *, layers, targets, loss_weights, initial, learning_rate
):
    """A :class:`PooledFit` for the length of one fit.

    Parameters are those of :class:`PooledFit`.

    Yields
    ------
    PooledFit
    """
    yield PooledFit(
        spec,
        batch_size,
        layers=layers,
        targets=targets,
        loss_weights=loss_weights,
        initial=initial,
        learning_rate=learning_rate,
    )

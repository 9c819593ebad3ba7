"""A stacked LSTM's forward pass in numpy, for small CPU encoders that should not need torch.

It computes what ``torch.nn.LSTM(batch_first=True)`` computes (gates in torch's order: input, forget,
cell, output; both biases added), over a whole batch at once: each layer's input projections are
computed 16 time steps at a time in one matrix product (all steps at once would need ``steps x batch
x 4 hidden`` floats, 84 MB for 128 windows of 160 steps, for no gain in speed), and each step then
needs one ``(batch x hidden) @ (hidden x 4 hidden)`` product plus the gate arithmetic, done in place
to keep allocations out of the loop.

Speed: one batch of 128 windows of 160 steps through resemblyzer's 3-layer, 256-unit LSTM takes about
0.55 s on one core here, against 0.30 s for torch: the matrix products are at numpy's OpenBLAS speed
(its AVX2 kernels on this AMD CPU, about 110 GFLOP/s on one core, their peak; torch uses AVX-512), and
the per-step gate arithmetic adds ~12%. No numpy formulation does fewer flops, so the one lever left is
cores: with ``workers`` > 1 the batch is cut into that many slices, each run on a thread of its own with
single-threaded BLAS (numpy releases the GIL in its products and gate arithmetic). Unlike a
multi-threaded BLAS, whose threads meet at a barrier inside every one of the 480 small products of a
batch (and spin there when the machine is busy), the slices never wait on each other until the end.
Every sequence is computed on its own, so a slice gives its rows' results to within float32 rounding
of the whole batch's (about 1e-6: BLAS may order a sum differently for a smaller matrix).
"""

from __future__ import annotations

import concurrent.futures
import itertools
from collections.abc import Sequence
from contextlib import AbstractContextManager

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["LSTMLayer", "lstm_last_hidden", "one_blas_thread"]

_Array = npt.NDArray[np.float32]
_CHUNK = 16  # time steps whose input projection is computed together
_MIN_SLICE = 16  # sequences per thread at least: smaller products run well under BLAS's speed


@attrs.frozen
class LSTMLayer:
    """The weights of one LSTM layer, as torch stores them.

    Attributes:
        weight_ih: ``(4 * hidden, input)``, the rows of the input, forget, cell and output gates.
        weight_hh: ``(4 * hidden, hidden)``.
        bias: ``bias_ih + bias_hh``, ``(4 * hidden,)``.
    """

    weight_ih: _Array
    weight_hh: _Array
    bias: _Array

    @property
    def hidden_size(self) -> int:
        """The number of hidden units."""
        return int(self.weight_hh.shape[1])


def lstm_last_hidden(x: _Array, layers: Sequence[LSTMLayer], *, workers: int = 1) -> _Array:
    """The last layer's hidden state after the last time step, ``(batch, hidden)``.

    The same as ``torch.nn.LSTM(batch_first=True)(x)[1][0][-1]`` with zero initial states.

    Args:
        x: Input sequences, ``(batch, time, features)``.
        layers: The layers, first to last.
        workers: Threads to cut the batch across (each slice at least 16 sequences; BLAS is held to
            one thread meanwhile, so this needs threadpoolctl: without it the batch stays whole). The
            result agrees with ``workers=1`` within float32 rounding (1e-6).
    """
    batch = np.asarray(x, dtype=np.float32)
    slices = max(1, min(workers, len(batch) // _MIN_SLICE))
    limits = one_blas_thread() if slices > 1 else None
    if limits is None:  # one slice, or BLAS's threads cannot be held to one: BLAS parallelises as it will
        return _stack(batch, layers)
    bounds = np.linspace(0, len(batch), slices + 1).round().astype(int)
    parts = [batch[a:b] for a, b in itertools.pairwise(bounds.tolist())]
    with limits, concurrent.futures.ThreadPoolExecutor(max_workers=slices) as pool:
        results = list(pool.map(lambda part: _stack(part, layers), parts))
    return np.concatenate(results)


def _stack(x: _Array, layers: Sequence[LSTMLayer]) -> _Array:
    """`lstm_last_hidden` of one batch on the calling thread."""
    # Time-major inside, so that each step reads and writes one contiguous block.
    sequence = np.ascontiguousarray(x.transpose(1, 0, 2))
    hidden_state = np.zeros((sequence.shape[1], 0), dtype=np.float32)
    for index, layer in enumerate(layers):
        hidden_state, outputs = _layer(sequence, layer, keep_outputs=index < len(layers) - 1)
        if outputs is not None:
            sequence = outputs
    return hidden_state


def one_blas_thread() -> AbstractContextManager[object] | None:
    """Hold numpy's BLAS to one thread for a block (threadpoolctl); ``None`` without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:
        return None
    limits: AbstractContextManager[object] = threadpool_limits(1, user_api="blas")
    return limits


def _layer(x: _Array, layer: LSTMLayer, *, keep_outputs: bool) -> tuple[_Array, _Array | None]:
    """One layer over time-major ``x``: the last hidden state, and every step's if wanted."""
    steps, batch, features = x.shape
    size = layer.hidden_size
    # Gate rows reordered to (input, forget, output, cell): the three sigmoid gates become one block.
    order = np.r_[0 : 2 * size, 3 * size : 4 * size, 2 * size : 3 * size]
    weight_ih, bias = np.ascontiguousarray(layer.weight_ih[order].T), layer.bias[order]
    recurrent = np.ascontiguousarray(layer.weight_hh[order].T)
    outputs = np.empty((steps, batch, size), dtype=np.float32) if keep_outputs else None
    h = np.zeros((batch, size), dtype=np.float32)
    c = np.zeros((batch, size), dtype=np.float32)
    gates = np.empty((batch, 4 * size), dtype=np.float32)
    sigmoid, cell_gate = gates[:, : 3 * size], gates[:, 3 * size :]
    input_gate, forget_gate, output_gate = (sigmoid[:, i * size : (i + 1) * size] for i in range(3))
    projected = np.empty((0, batch, 4 * size), dtype=np.float32)
    for t in range(steps):
        if t % _CHUNK == 0:
            # The input projection of the next _CHUNK steps in one product, small enough to stay in cache.
            chunk = x[t : t + _CHUNK]
            projected = (chunk.reshape(-1, features) @ weight_ih).reshape(len(chunk), batch, 4 * size)
            projected += bias
        np.matmul(h, recurrent, out=gates)
        gates += projected[t % _CHUNK]
        # sigmoid(z) = (1 + tanh(z / 2)) / 2, in place
        sigmoid *= 0.5
        np.tanh(sigmoid, out=sigmoid)
        sigmoid += 1.0
        sigmoid *= 0.5
        np.tanh(cell_gate, out=cell_gate)
        c *= forget_gate
        cell_gate *= input_gate
        c += cell_gate
        np.tanh(c, out=h)
        h *= output_gate
        if outputs is not None:
            outputs[t] = h
    return h, outputs

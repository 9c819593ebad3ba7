"""A stacked LSTM's forward pass in numpy, for small CPU encoders that should not need torch.

It computes what ``torch.nn.LSTM(batch_first=True)`` computes (gates in torch's order: input, forget,
cell, output; both biases added), over a whole batch at once: each layer's input projections are
computed 16 time steps at a time in one matrix product (all steps at once would need ``steps x batch
x 4 hidden`` floats, 84 MB for 128 windows of 160 steps, for no gain in speed), and each step then
needs one ``(batch x hidden) @ (hidden x 4 hidden)`` product plus the gate arithmetic, done in place
to keep allocations out of the loop.

Speed: one batch of 128 windows of 160 steps through resemblyzer's 3-layer, 256-unit LSTM takes about
0.55 s on one core here, against 0.30 s for torch: the matrix products are at numpy's OpenBLAS speed
(its AVX2 kernels on this AMD CPU; torch uses AVX-512), and the per-step gate arithmetic adds ~15%.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["LSTMLayer", "lstm_last_hidden"]

_Array = npt.NDArray[np.float32]
_CHUNK = 16  # time steps whose input projection is computed together


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


def lstm_last_hidden(x: _Array, layers: Sequence[LSTMLayer]) -> _Array:
    """The last layer's hidden state after the last time step, ``(batch, hidden)``.

    The same as ``torch.nn.LSTM(batch_first=True)(x)[1][0][-1]`` with zero initial states.

    Args:
        x: Input sequences, ``(batch, time, features)``.
        layers: The layers, first to last.
    """
    # Time-major inside, so that each step reads and writes one contiguous block.
    sequence = np.ascontiguousarray(np.asarray(x, dtype=np.float32).transpose(1, 0, 2))
    hidden_state = np.zeros((sequence.shape[1], 0), dtype=np.float32)
    for index, layer in enumerate(layers):
        hidden_state, outputs = _layer(sequence, layer, keep_outputs=index < len(layers) - 1)
        if outputs is not None:
            sequence = outputs
    return hidden_state


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

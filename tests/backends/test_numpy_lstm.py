"""The numpy LSTM against torch.nn.LSTM with the same weights."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dubkit.backends.numpy_lstm import LSTMLayer, lstm_last_hidden


def layers_of(lstm) -> list[LSTMLayer]:
    state = {name: value.detach().numpy() for name, value in lstm.state_dict().items()}
    return [
        LSTMLayer(
            weight_ih=state[f"weight_ih_l{i}"],
            weight_hh=state[f"weight_hh_l{i}"],
            bias=state[f"bias_ih_l{i}"] + state[f"bias_hh_l{i}"],
        )
        for i in range(lstm.num_layers)
    ]


@pytest.mark.parametrize(
    ("batch", "steps", "features", "hidden", "num_layers"),
    [(1, 1, 3, 4, 1), (5, 17, 8, 16, 2), (3, 40, 40, 32, 3)],
)
def test_matches_torch(batch: int, steps: int, features: int, hidden: int, num_layers: int) -> None:
    torch.manual_seed(batch + steps)
    lstm = torch.nn.LSTM(features, hidden, num_layers, batch_first=True)
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.mul_(3.0)  # push the gates out of their linear range
    x = np.random.default_rng(steps).normal(size=(batch, steps, features)).astype(np.float32)
    with torch.inference_mode():
        expected = lstm(torch.from_numpy(x))[1][0][-1].numpy()
    got = lstm_last_hidden(x, layers_of(lstm))
    assert got.shape == (batch, hidden)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=0)
    # every sequence of the batch is computed on its own
    np.testing.assert_allclose(lstm_last_hidden(x[-1:], layers_of(lstm)), got[-1:], atol=1e-6, rtol=0)

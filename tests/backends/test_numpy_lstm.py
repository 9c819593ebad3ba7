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


@pytest.mark.parametrize(("batch", "workers"), [(40, 2), (128, 2), (50, 3), (20, 2)])
def test_a_batch_cut_across_threads_gives_the_same_states(batch: int, workers: int) -> None:
    """Threads take slices of the batch (at least 16 sequences each); torch agrees with every split."""
    torch.manual_seed(batch)
    lstm = torch.nn.LSTM(40, 64, 3, batch_first=True)
    x = np.random.default_rng(batch).normal(size=(batch, 30, 40)).astype(np.float32)
    with torch.inference_mode():
        expected = lstm(torch.from_numpy(x))[1][0][-1].numpy()
    one = lstm_last_hidden(x, layers_of(lstm))
    split = lstm_last_hidden(x, layers_of(lstm), workers=workers)
    assert split.shape == one.shape == (batch, 64)
    assert split.dtype == np.float32
    np.testing.assert_allclose(split, one, atol=1e-5, rtol=0)
    np.testing.assert_allclose(split, expected, atol=2e-5, rtol=0)
    # each row is its own sequence's: no slice was dropped, repeated or put out of order
    assert np.abs(split[1:] - split[:-1]).max() > 1e-3


def test_threads_take_slices_of_at_least_16_sequences(monkeypatch: pytest.MonkeyPatch) -> None:
    from dubkit.backends import numpy_lstm

    seen: list[int] = []
    real = numpy_lstm._stack
    monkeypatch.setattr(numpy_lstm, "_stack", lambda x, layers: seen.append(len(x)) or real(x, layers))
    lstm = torch.nn.LSTM(8, 16, 1, batch_first=True)
    x = np.random.default_rng(0).normal(size=(40, 5, 8)).astype(np.float32)
    lstm_last_hidden(x, layers_of(lstm), workers=8)
    assert sorted(seen) == [20, 20]
    seen.clear()
    lstm_last_hidden(x[:31], layers_of(lstm), workers=2)
    assert seen == [31]
    seen.clear()
    monkeypatch.setattr(numpy_lstm, "one_blas_thread", lambda: None)  # no threadpoolctl
    lstm_last_hidden(x, layers_of(lstm), workers=2)
    assert seen == [40]  # BLAS's own threads, not ours on top of them

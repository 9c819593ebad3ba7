"""Tools for plugin authors: a conformance suite to run against a backend in a few lines.

```python
from dubkit.testing import check_backend
from my_plugin import MyVoice

def test_my_voice_conforms(tmp_path):
    check_backend("synthesizer", MyVoice, workdir=tmp_path)
```
"""

from dubkit.testing.conformance import ConformanceError, check_backend
from dubkit.testing.sample_video import SampleVideo, make_sample_video
from dubkit.testing.samples import write_tone_wav

__all__ = ["ConformanceError", "SampleVideo", "check_backend", "make_sample_video", "write_tone_wav"]

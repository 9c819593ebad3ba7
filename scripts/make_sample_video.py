"""Generate the demo's sample video: python scripts/make_sample_video.py OUT.mp4."""

import sys
from pathlib import Path

from dubkit.testing.sample_video import make_sample_video

if __name__ == "__main__":
    sample = make_sample_video(Path(sys.argv[1] if len(sys.argv) > 1 else "sample.mp4"))
    print(f"{sample.path} ({sample.duration:.1f} s, {len(sample.lines)} lines)")

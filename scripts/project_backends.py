"""Print the backends a dub project records (``kind name, ...``): what a dub actually used.

Usage: python scripts/project_backends.py talk.es.dub.json   (scripts/build_image.sh reports it)
"""

import json
import sys

backends = json.load(open(sys.argv[1]))["backends"]  # noqa: SIM115 (a one-shot script)
print(", ".join(f"{kind} {choice['name']}" for kind, choice in sorted(backends.items())))

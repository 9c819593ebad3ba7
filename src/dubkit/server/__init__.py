"""The reference HTTP server (extra ``server``): a thin FastAPI layer over the job store, storage and runners.

```python
from dubkit.server import ServerSettings, create_app

app = create_app(ServerSettings(data_dir="/var/lib/dubkit"))  # run with uvicorn
```
"""

from dubkit.server.app import API_PREFIX, create_app
from dubkit.server.auth import LOCAL_OWNER, ApiKeys, hash_api_key, new_api_key
from dubkit.server.settings import ServerSettings

__all__ = [
    "API_PREFIX",
    "LOCAL_OWNER",
    "ApiKeys",
    "ServerSettings",
    "create_app",
    "hash_api_key",
    "new_api_key",
]

"""Loaded with `-p tests.testenv` before pytest-django configures Django: test-only environment."""

import os
import tempfile

os.environ.setdefault("ZAPLECZE_DATA_DIR", tempfile.mkdtemp(prefix="zaplecze-test-"))
os.environ.setdefault("ZAPLECZE_QUEUE_IMMEDIATE", "1")

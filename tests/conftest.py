import os

os.environ.setdefault("CLIPBOOK_PROGRESS", "0")  # keep test output readable

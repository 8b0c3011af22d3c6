# Shared pytest plugins; keep this file minimal (live-cluster fixtures live in tests/harness/fixtures.py).
import os
import time

# crm_mon prints ctime-style times in local time; the fixtures were captured in UTC.
os.environ["TZ"] = "UTC"
time.tzset()

pytest_plugins = ["tests.harness.fixtures", "tests.golden"]

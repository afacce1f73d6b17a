"""Settings of the records benchmark: the real settings with a URLconf that adds the DRF baseline."""

from config.settings import *
from config.settings import LOGGING

ROOT_URLCONF = "benchmarks.records.urls"
DEBUG = False
LOGGING["root"]["level"] = "ERROR"

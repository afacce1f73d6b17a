"""Settings of the DRF baseline server: the real settings with a URLconf that adds the baseline."""

from config.settings import *

ROOT_URLCONF = "benchmarks.records.urls"

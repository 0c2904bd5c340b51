"""Runs the ``ort-wrapper`` command as ``python -m ort_wrapper.cli``."""

import sys

from . import main

sys.exit(main())

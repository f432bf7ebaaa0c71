"""``python -m clickstream_assets.cli``: the same as the ``clickstream`` command."""

import sys

from clickstream_assets.cli import main

sys.exit(main())

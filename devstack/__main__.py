"""``python -m devstack run``: the whole system locally (``make run``)."""

import sys

from devstack.run import main

sys.exit(main(sys.argv[1:]))

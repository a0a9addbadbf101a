"""``python -m service.devstack run``: the whole system locally (``make run``)."""

import sys

from service.devstack.run import main

sys.exit(main(sys.argv[1:]))

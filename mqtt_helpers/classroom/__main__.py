"""``python -m mqtt_helpers.classroom``: the classroom's command line (:mod:`.cli`)."""

import sys

from mqtt_helpers.classroom.cli import main

if __name__ == "__main__":
    sys.exit(main())

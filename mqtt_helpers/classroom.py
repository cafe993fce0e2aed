"""One broker for a whole class: ``python -m mqtt_helpers.classroom --learners alice,bob`` (README, For teachers).

Each learner gets a port of their own with a private namespace behind it, so the lessons' fixed client ids and topics
never collide; topics under ``class/`` are shared; the teacher's port (user ``teacher``) sees everything, and
``ClassroomDashboard`` (notebooks/classroom-dashboard.ipynb) shows it live. The machinery is in ``_brokers``.
"""

import sys

from mqtt_helpers._brokers.classroom import Classroom, start_classroom
from mqtt_helpers._brokers.classroom_cli import main
from mqtt_helpers._brokers.classroom_dashboard import ClassroomDashboard

__all__ = ["Classroom", "ClassroomDashboard", "main", "start_classroom"]

if __name__ == "__main__":
    sys.exit(main())

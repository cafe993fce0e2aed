"""One broker for a whole class: ``python -m mqtt_helpers.classroom --learners alice,bob`` (README, For teachers).

What a teacher uses: each learner gets a port of their own with a private namespace behind it, so the lessons'
fixed client ids and topics never collide; topics under ``class/`` are shared; the teacher's port (user
``teacher``) sees everything, and ``ClassroomDashboard`` (notebooks/classroom-dashboard.ipynb) shows it live.
The command line is :mod:`.cli`, the dashboard :mod:`.dashboard`; the broker machinery is in ``_brokers``.
"""

from mqtt_helpers._brokers.classroom import Classroom, start_classroom
from mqtt_helpers.classroom.cli import main
from mqtt_helpers.classroom.dashboard import ClassroomDashboard

__all__ = ["Classroom", "ClassroomDashboard", "main", "start_classroom"]

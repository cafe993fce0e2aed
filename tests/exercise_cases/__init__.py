"""Answers a learner might write, per exercise of each numbered lesson (run by tests/test_exercises.py)."""

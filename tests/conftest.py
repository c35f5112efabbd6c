"""Registers ``support.py`` (fixtures, hooks and settings for every test, and the helpers tests import
from it) as a plugin; the conftest of a folder adds what only that folder's tests use."""

pytest_plugins = ["support"]

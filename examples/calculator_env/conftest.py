"""Lets the tests import `agentrl_calculator` from this folder before the plugin is installed.

pytest puts the folder of a conftest.py (this one has no `__init__.py`) on `sys.path`, which is the
whole job of this file.
"""

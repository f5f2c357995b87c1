"""Jinja templates of the plugin package `agentrl new-env` writes (a package so they ship as package data)."""

"""Helpers the tests share: real servers and node processes on free ports."""

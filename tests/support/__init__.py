"""Helpers shared by the tests: builders, the in-memory world, the pipeline driver."""

"""Loopback fakes of remote services (OpenAI-compatible endpoint, ...) shared by the tests."""

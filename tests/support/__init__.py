"""Test support: real receivers, producers and fixtures shared by test modules."""

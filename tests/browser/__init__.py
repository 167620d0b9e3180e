"""Tests that drive the web pages in a real headless Chromium."""

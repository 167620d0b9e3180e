"""Tests for the cards package: builder, callback data, renderers."""

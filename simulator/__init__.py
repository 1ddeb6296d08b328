"""Simulator: realistic hospital tag traffic in real gateway formats, with ground truth."""

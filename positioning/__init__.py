"""Positioning: RSSI/UWB ranges to fixes, levels, rooms and tracks (Numba kernels)."""

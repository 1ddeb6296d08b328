"""Data files shipped with the floorplans package (the sample hospital)."""

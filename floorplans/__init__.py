"""Floor plans: the site model, its native GeoJSON format, importers, validation and queries."""

from floorplans.geojson import dump_site, load_site, parse_site, site_to_geojson
from floorplans.model import (
    HOSPITAL_CATEGORIES,
    ROOM_CATEGORIES,
    Building,
    Connector,
    Gateway,
    Georeference,
    Level,
    Opening,
    Room,
    Site,
    Wall,
    Zone,
)
from floorplans.problems import FloorplanError, Problem

__all__ = [
    "HOSPITAL_CATEGORIES",
    "ROOM_CATEGORIES",
    "Building",
    "Connector",
    "FloorplanError",
    "Gateway",
    "Georeference",
    "Level",
    "Opening",
    "Problem",
    "Room",
    "Site",
    "Wall",
    "Zone",
    "dump_site",
    "load_site",
    "parse_site",
    "site_to_geojson",
]

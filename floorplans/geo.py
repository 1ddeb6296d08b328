"""WGS84 longitude/latitude <-> the site's local metres.

Local coordinates are East-North-Up (ENU) metres about the georeference origin on the WGS84
ellipsoid (geodetic -> ECEF -> topocentric, via PROJ's ``cart`` and ``topocentric``
operations), then rotated so that local +y points at ``rotation_deg`` clockwise from true
north. No spherical or Web-Mercator shortcut is taken: across a hospital campus (a few hundred
metres) distances are exact to well under a millimetre.

Points are taken on the ellipsoid (height 0), so the "up" component is discarded; the levels'
``elevation_m`` carries the vertical.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from floorplans.model import Georeference

__all__ = ["LocalFrame", "origin_of"]


class LocalFrame:
    """Converts between WGS84 lon/lat and local metres for one :class:`Georeference`.

    With ``e, n`` the ENU metres of a point and ``t`` the rotation (clockwise from north to
    local +y)::

        x = e cos t - n sin t        e = x cos t + y sin t
        y = e sin t + n cos t        n = -x sin t + y cos t

    Args:
        georeference: The origin (local (0, 0)) and rotation.
    """

    def __init__(self, georeference: Georeference) -> None:
        g = georeference
        if not (-90.0 <= g.origin_lat <= 90.0 and -180.0 <= g.origin_lon <= 180.0):
            raise ValueError(
                f"georeference origin ({g.origin_lat}, {g.origin_lon}) is not a valid lat/lon"
            )
        self.georeference = g
        pipeline = (
            "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
            "+step +proj=cart +ellps=WGS84 "
            f"+step +proj=topocentric +ellps=WGS84 +lat_0={g.origin_lat!r} "
            f"+lon_0={g.origin_lon!r} +h_0=0"
        )
        self._enu = Transformer.from_pipeline(pipeline)
        t = math.radians(g.rotation_deg)
        self._cos, self._sin = math.cos(t), math.sin(t)

    def to_local(
        self, lon: ArrayLike, lat: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Local metres (x, y) of WGS84 points.

        Args:
            lon: Longitudes in degrees.
            lat: Latitudes in degrees (same shape as ``lon``).

        Returns:
            Arrays x, y in metres.
        """
        lo = np.ascontiguousarray(lon, dtype=np.float64)
        la = np.ascontiguousarray(lat, dtype=np.float64)
        if lo.shape != la.shape:
            raise ValueError(f"lon and lat shapes differ: {lo.shape} vs {la.shape}")
        e, n, _ = self._enu.transform(lo, la, np.zeros_like(lo))
        e = np.asarray(e, dtype=np.float64)
        n = np.asarray(n, dtype=np.float64)
        return e * self._cos - n * self._sin, e * self._sin + n * self._cos

    def to_wgs84(
        self, x: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """WGS84 lon/lat (degrees) of local points (on the ellipsoid).

        Args:
            x: Local metres east (before rotation).
            y: Local metres north (before rotation).

        Returns:
            Arrays lon, lat in degrees.
        """
        xa = np.ascontiguousarray(x, dtype=np.float64)
        ya = np.ascontiguousarray(y, dtype=np.float64)
        if xa.shape != ya.shape:
            raise ValueError(f"x and y shapes differ: {xa.shape} vs {ya.shape}")
        e = xa * self._cos + ya * self._sin
        n = -xa * self._sin + ya * self._cos
        # A point on the ellipsoid has a small negative "up" (the surface curves away from
        # the tangent plane); find it so that the inverse lands at ellipsoidal height 0.
        u = np.zeros_like(e)
        for _ in range(4):
            lon, lat, h = self._enu.transform(e, n, u, direction="INVERSE")
            u = u - np.asarray(h, dtype=np.float64)
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def geometry_to_local(self, geom: BaseGeometry) -> BaseGeometry:
        """A copy of a lon/lat geometry in local metres (any geometry type)."""
        return shapely.transform(geom, self._transform_lonlat)

    def _transform_lonlat(self, coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = self.to_local(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])


def origin_of(geoms: Iterable[BaseGeometry]) -> Georeference:
    """A georeference (rotation 0) at the centre of the bounding box of lon/lat geometries.

    Raises:
        ValueError: There is no non-empty geometry.
    """
    bounds = [g.bounds for g in geoms if g is not None and not g.is_empty]
    if not bounds:
        raise ValueError("no geometry to place the local origin at")
    b = np.asarray(bounds, dtype=np.float64)
    lon = (float(b[:, 0].min()) + float(b[:, 2].max())) / 2.0
    lat = (float(b[:, 1].min()) + float(b[:, 3].max())) / 2.0
    return Georeference(origin_lat=round(lat, 7), origin_lon=round(lon, 7), rotation_deg=0.0)

"""Distances between two points on the Earth: the one implementation every rule uses
(ranking doctors for a patient, ordering unscheduled-care slots for a caller)."""

import math

EARTH_RADIUS_KM = 6371.009  # the mean radius geopy's great_circle uses


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance. Same formula and radius as geopy's `great_circle` (a test holds
    them equal), without its argument parsing, which was a quarter of a suggestion's time."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))

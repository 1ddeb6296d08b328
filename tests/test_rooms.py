"""Room filter: a parked tag does not flicker across a wall; a moving one follows the doors."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString, box

from floorplans.model import Building, Level, Opening, Room, Site
from floorplans.routing import room_adjacency
from floorplans.spatial import SiteIndex
from positioning.rooms import RoomFilter, RoomParams


@pytest.fixture(scope="module")
def index() -> SiteIndex:
    """Two rooms A | B side by side (wall, no door between) above a corridor, doors down."""
    site = Site.build(
        id="t", name="t",
        buildings=[Building("b", "B")],
        levels=[Level("L0", "b", 0, "0", 0.0, 4.0, box(0, 0, 10, 10))],
        rooms=[
            Room("A", "L0", "A", "patient_room", box(0, 5, 5, 10)),
            Room("B", "L0", "B", "patient_room", box(5, 5, 10, 10)),
            Room("C", "L0", "Corridor", "corridor", box(0, 0, 10, 5)),
        ],
        openings=[
            Opening("dA", "L0", LineString([(2, 5), (3, 5)])),
            Opening("dB", "L0", LineString([(7, 5), (8, 5)])),
        ],
    )
    return SiteIndex(site)


def test_adjacency_follows_doors_not_walls(index: SiteIndex) -> None:
    adj = room_adjacency(index.site)
    assert adj == [{2}, {2}, {0, 1}]


def test_adjacency_without_doors_uses_touching_rooms() -> None:
    site = Site.build(
        id="t", name="t", levels=[Level("L0", "b", 0, "0", 0, 4, box(0, 0, 20, 5))],
        rooms=[Room("A", "L0", "A", "office", box(0, 0, 5, 5)),
               Room("B", "L0", "B", "office", box(5, 0, 10, 5)),
               Room("D", "L0", "D", "office", box(15, 0, 20, 5))],
    )
    assert room_adjacency(site) == [{1}, {0}, set()]


def test_parked_tag_does_not_flicker_across_the_wall(index: SiteIndex) -> None:
    rng = np.random.default_rng(1)
    f = RoomFilter(index)
    truth = np.array([4.2, 7.5])  # in A, 0.8 m from the wall with B
    rooms, naive = [], []
    for _ in range(600):
        fx, fy = truth + rng.normal(0, 1.2, size=2)
        room, conf = f.update([0], [0], [fx], [fy], [3.0], [False], 1.0)
        rooms.append(int(room[0]))
        naive.append(int(index.room_at(fx, fy, 0)))
    naive_changes = int(np.sum(np.diff(naive) != 0))
    assert naive_changes > 100  # point-in-room alone flickers constantly
    assert rooms[20:] == [0] * (len(rooms) - 20)
    assert conf[0] > 0.6


def test_moving_tag_follows_the_corridor_into_the_next_room(index: SiteIndex) -> None:
    f = RoomFilter(index)
    path = [(2.5, 8.0)] * 5 + [(2.5, 6), (2.5, 4.5), (3.5, 3), (5, 2.5), (6.5, 3), (7.5, 4.5),
                               (7.5, 6), (7.5, 7.5)] + [(7.5, 8.0)] * 8
    seen = []
    for x, y in path:
        room, _ = f.update([3], [0], [x], [y], [1.5], [True], 1.0)
        seen.append(index.room_ids[int(room[0])])
    compact = [r for i, r in enumerate(seen) if i == 0 or r != seen[i - 1]]
    assert compact == ["A", "C", "B"]


def test_per_tag_time_steps_equal_separate_updates(index: SiteIndex) -> None:
    """A tag updated after 5 s (the engine's parked cadence) beside one updated after 1 s."""
    together, apart = RoomFilter(index), RoomFilter(index)
    xs, ys = [2.0, 4.8], [8.0, 5.5]
    for f in (together, apart):
        f.update([0, 1], [0, 0], xs, ys, [3.0, 3.0], [False, True], 1.0)
    room, conf = together.update([0, 1], [0, 0], [2.5, 5.6], [7.0, 4.0], [4.0, 4.0],
                                 [False, True], np.array([5.0, 1.0]))
    r0, c0 = apart.update([0], [0], [2.5], [7.0], [4.0], [False], 5.0)
    r1, c1 = apart.update([1], [0], [5.6], [4.0], [4.0], [True], 1.0)
    assert room.tolist() == [r0[0], r1[0]]
    assert np.allclose(conf, [c0[0], c1[0]])
    # and the time step matters: one second instead of five gives tag 0 another posterior
    once = RoomFilter(index)
    once.update([0, 1], [0, 0], xs, ys, [3.0, 3.0], [False, True], 1.0)
    _, c_once = once.update([0], [0], [2.5], [7.0], [4.0], [False], 1.0)
    assert not np.isclose(c_once[0], c0[0])


def test_level_change_resets_the_posterior() -> None:
    site = Site.build(
        id="t", name="t",
        levels=[Level("L0", "b", 0, "0", 0, 4, box(0, 0, 10, 10)),
                Level("L1", "b", 1, "1", 4, 4, box(0, 0, 10, 10))],
        rooms=[Room("A0", "L0", "A0", "office", box(0, 0, 10, 10)),
               Room("A1", "L1", "A1", "office", box(0, 0, 5, 10)),
               Room("B1", "L1", "B1", "office", box(5, 0, 10, 10))],
    )
    idx = SiteIndex(site)
    f = RoomFilter(idx)
    for _ in range(10):
        room, _ = f.update([0], [0], [7.0], [5.0], [2.0], [False], 1.0)
    assert idx.room_ids[int(room[0])] == "A0"
    room, conf = f.update([0], [1], [8.0], [5.0], [1.0], [False], 1.0)
    assert idx.room_ids[int(room[0])] == "B1" and conf[0] > 0.9


def naive_step(prior_post, counts, adj_local, stay, p: RoomParams, evidence: float = 1.0):
    n = prior_post.size
    prior = np.zeros(n)
    for j in range(n):
        if not adj_local[j]:
            prior[j] += prior_post[j]
            continue
        prior[j] += prior_post[j] * stay
        for k in adj_local[j]:
            prior[k] += prior_post[j] * (1 - stay) / len(adj_local[j])
    e = ((counts + p.alpha) / (p.samples + p.alpha * n)) ** evidence
    q = e * ((1 - p.teleport) * prior + p.teleport / n)
    return q / q.sum()


def test_kernel_matches_plain_reference(index: SiteIndex) -> None:
    p = RoomParams(samples=16)
    f = RoomFilter(index, p, seed=11)
    adj = room_adjacency(index.site)
    post = np.full(3, 1 / 3)
    rng = np.random.default_rng(5)
    for _ in range(25):
        x, y = rng.uniform(0, 10, size=2)
        moving = bool(rng.random() < 0.5)
        sigma = 2.0 / 2.4477
        px = x + sigma * f._pattern[:, 0]
        py = y + sigma * f._pattern[:, 1]
        rooms = index.room_at(px, py, 0)
        counts = np.bincount(rooms[rooms >= 0], minlength=3).astype(float)
        dt = float(rng.choice([1.0, 5.0]))
        stay = np.exp(-(p.leave_rate_moving if moving else p.leave_rate_parked) * dt)
        post = naive_step(post, counts, adj, stay, p, evidence=dt)
        room, conf = f.update([0], [0], [x], [y], [2.0], [moving], dt, evidence=[dt])
        assert int(room[0]) == int(post.argmax())
        assert conf[0] == pytest.approx(post.max(), rel=1e-9)
        assert np.allclose(f._post[0, :3], post, rtol=1e-9)


def test_rejects_bad_input(index: SiteIndex) -> None:
    f = RoomFilter(index)
    with pytest.raises(ValueError, match="one length"):
        f.update([0, 1], [0], [1.0], [1.0], [1.0], [False], 1.0)
    with pytest.raises(ValueError, match="finite"):
        f.update([0], [0], [np.nan], [1.0], [1.0], [False], 1.0)



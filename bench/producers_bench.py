"""Producers benchmarks: the photo pipeline on phone-sized photos, and concurrent commits of one listing's quantity.

Run: .venv/bin/python bench/producers_bench.py            (SQLite scratch file)
     BENCH_PG=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/producers_bench.py   (scratch PostgreSQL db)
"""

import io
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="pinbang-bench-"))
os.environ.setdefault("PINBANG_ENV", "testing")


def phone_photo(width=4000, height=3000) -> bytes:
    """A 12-megapixel JPEG with enough detail to weigh what a phone photo weighs (a few MB)."""
    from PIL import Image

    noise = Image.effect_noise((width // 4, height // 4), 60).resize((width, height)).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=92)
    return out.getvalue()


def bench_photos(app, rounds=8):
    from producers.photos import discard_files, store_photo

    data = phone_photo()
    timings = []
    with app.app_context():
        for _ in range(rounds):
            start = time.perf_counter()
            names = store_photo(data)
            timings.append(time.perf_counter() - start)
            discard_files(*names)
    timings.sort()
    print(
        f"photo pipeline: {len(data) / 1e6:.1f} MB 4000x3000 JPEG -> 1600px + 400px thumbnail: "
        f"median {timings[len(timings) // 2] * 1000:.0f} ms, worst {timings[-1] * 1000:.0f} ms ({rounds} rounds)"
    )


def bench_commits(app, threads=32, per_thread=40, quantity=1000):
    from errors import InsufficientStock
    from extensions import db
    from factories import make_listing
    from producers.models import Listing
    from producers.stock import commit_listing_quantity

    with app.app_context():
        listing_id = make_listing(status="approved", quantity=quantity).id
        db.session.remove()
    taken, refused = [], []
    barrier = threading.Barrier(threads)

    def worker():
        with app.app_context():
            barrier.wait()
            for _ in range(per_thread):
                try:
                    commit_listing_quantity(listing_id, 1)
                    db.session.commit()
                    taken.append(1)
                except InsufficientStock:
                    db.session.rollback()
                    refused.append(1)
            db.session.remove()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    with app.app_context():
        stored = db.session.get(Listing, listing_id)
        committed, status = stored.quantity_committed, stored.status
    attempts = threads * per_thread
    print(
        f"commit_listing_quantity on {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}: {threads} threads x {per_thread} "
        f"attempts of 1 against {quantity}: {len(taken)} taken, {len(refused)} refused, stored committed={committed} ({status}); "
        f"{attempts / elapsed:.0f} attempts/s"
    )
    assert committed == len(taken) == min(quantity, attempts), "oversold or lost a commit"


def main():
    from flask_migrate import upgrade

    from app import create_app

    base = os.environ.get("BENCH_PG")
    if base:
        from backends import create_scratch_postgres, drop_scratch_postgres

        url = create_scratch_postgres(base, f"pinbang_bench_{uuid.uuid4().hex[:8]}")
    else:
        url = f"sqlite:///{os.environ['INSTANCE_PATH']}/bench.sqlite3"
    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 40, "max_overflow": 0} if base else {}
    )
    try:
        with app.app_context():
            upgrade(revision="heads")
        bench_photos(app)
        bench_commits(app)
    finally:
        if base:
            from extensions import db

            with app.app_context():
                db.engine.dispose()
            drop_scratch_postgres(base, url)


if __name__ == "__main__":
    main()

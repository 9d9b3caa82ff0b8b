"""Running one job in several threads at the same moment, each in its own app context and database session."""

import threading


def run_at_once(app, job, times=2):
    """Start ``job`` ``times`` times together; returns (results, errors) once every run has ended."""
    results, errors = [], []
    barrier = threading.Barrier(times)

    def run():
        with app.app_context():
            try:
                barrier.wait()
                results.append(job())
            except Exception as error:  # noqa: BLE001 - returned to the test, which asserts on it
                errors.append(error)
            finally:
                from extensions import db

                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors

"""Printed by `make run` before the processes start: where Pinbang is and how to log in."""

import os

from demo.seed import DEMO_LOGINS, DEMO_PASSWORD

port = os.environ.get("PORT", "5000")
print()
print("  Pinbang (拼帮) is starting: web, Celery worker and beat on embedded defaults.")
print(f"  Open http://127.0.0.1:{port}/   (Ctrl-C stops everything)")
print(f"  Demo logins, password {DEMO_PASSWORD}:")
for role, phone in DEMO_LOGINS:
    print(f"    {role:<24} {phone}")
print()

#!/usr/bin/python3
"""
Migrates the project's database and creates the users given as a JSON list on
stdin ([{"username", "email", "password", "is_active"?, "is_staff"?}]), in order;
prints {"username": id, ...}. Used by ../record.ts.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conformance.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)
ids = {}
for spec in json.load(sys.stdin):
    user = get_user_model().objects.create_user(spec["username"], spec["email"], spec["password"])
    user.is_active = spec.get("is_active", True)
    user.is_staff = spec.get("is_staff", False)
    user.save()
    ids[spec["username"]] = user.id
print(json.dumps(ids))

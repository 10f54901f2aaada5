#!/usr/bin/python3
"""
Prints a SimpleJWT token pair minted by this project, as JSON:
{"access": ..., "refresh": ..., "user_id": ...}.

    SIGNING_KEY=... CONFORMANCE_DB=/tmp/x.sqlite3 /usr/bin/python3 mint.py ann [--password pw]
    SIGNING_KEY=... /usr/bin/python3 mint.py --user-id 7 [--access-lifetime 60] [--refresh-lifetime 3600]

With a username, the user is looked up in the project's database (migrated,
and the user created with --password, when missing) and the refresh token is
recorded as outstanding by the blacklist app, as a real login would. With
--user-id, no database is touched: the tokens name that id, whoever it is.
Lifetimes are in seconds (default: the project's, 15 minutes and 7 days).
"""
import argparse
import json
import os
import sys
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conformance.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("username", nargs="?")
    parser.add_argument("--user-id", type=int)
    parser.add_argument("--password")
    parser.add_argument("--access-lifetime", type=int)
    parser.add_argument("--refresh-lifetime", type=int)
    args = parser.parse_args()
    if (args.username is None) == (args.user_id is None):
        parser.error("give a username or --user-id")

    if args.user_id is not None:
        refresh = RefreshToken()
        refresh["user_id"] = args.user_id
        user_id = args.user_id
    else:
        call_command("migrate", verbosity=0)
        model = get_user_model()
        user = model.objects.filter(username=args.username).first()
        if user is None:
            if args.password is None:
                parser.error(f"no user {args.username!r}: pass --password to create it")
            user = model.objects.create_user(args.username, f"{args.username}@example.com", args.password)
        refresh = RefreshToken.for_user(user)
        user_id = user.id
    if args.refresh_lifetime is not None:
        refresh.set_exp(lifetime=timedelta(seconds=args.refresh_lifetime))
    access = refresh.access_token
    if args.access_lifetime is not None:
        access.set_exp(lifetime=timedelta(seconds=args.access_lifetime))
    print(json.dumps({"access": str(access), "refresh": str(refresh), "user_id": user_id}))


if __name__ == "__main__":
    main()

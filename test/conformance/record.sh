#!/usr/bin/env bash
# Records SimpleJWT's answers to requests.json into golden/simplejwt.json
# (see README.md). Installs Debian's Django, DRF, SimpleJWT and gunicorn when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
packages=(python3-django python3-djangorestframework python3-djangorestframework-simplejwt gunicorn)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  apt-get install -y -qq "${missing[@]}"
fi
node --import tsx test/conformance/record.ts
node --import tsx test/conformance/render.ts

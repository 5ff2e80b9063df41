#!/usr/bin/env bash
# Seven real photos for INT8 calibration and accuracy checks, from Debian's
# `darknet` package (data/*.jpg). The package is downloaded, NOT installed
# (installing it pulls in OpenCV): `apt-get download` then `dpkg-deb -x`
# into a scratch directory; the .jpg files are checked against
# scripts/photos.lock and copied to $NCORE_CACHE/photos
# (default ~/.cache/ncore/photos).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/photos.lock"
cache="${NCORE_CACHE:-$HOME/.cache/ncore}/photos"
mkdir -p "$cache"

verify() {
    local ok=0
    while read -r sum name; do
        [ -z "$sum" ] && continue
        case "$sum" in \#*) continue ;; esac
        if [ ! -f "$cache/$name" ] || [ "$(sha256sum "$cache/$name" | cut -d' ' -f1)" != "$sum" ]; then
            ok=1
        fi
    done <"$lock"
    return $ok
}

if verify; then
    echo "photos: $(grep -vc '^#' "$lock") files present in $cache"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download darknet >/dev/null 2>&1) || {
    echo "fetch_photos: 'apt-get download darknet' failed (run 'apt-get update' first?)" >&2
    exit 1
}
deb="$(ls "$tmp"/darknet_*.deb | head -n1)"
dpkg-deb -x "$deb" "$tmp/x"
while read -r sum name; do
    [ -z "$sum" ] && continue
    case "$sum" in \#*) continue ;; esac
    src="$tmp/x/usr/share/darknet/data/$name"
    if [ ! -f "$src" ]; then
        echo "fetch_photos: $name is not in $(basename "$deb")" >&2
        exit 1
    fi
    got="$(sha256sum "$src" | cut -d' ' -f1)"
    if [ "$got" != "$sum" ]; then
        echo "fetch_photos: $name: sha256 $got, scripts/photos.lock says $sum" >&2
        exit 1
    fi
    cp "$src" "$cache/$name"
done <"$lock"
echo "photos: $(grep -vc '^#' "$lock") files in $cache (from $(basename "$deb"))"

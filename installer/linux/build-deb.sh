#!/usr/bin/env bash
# Builds the Debian package of vpconnect (docs/behaviour.md §9):
#
#   installer/linux/build-deb.sh EXE VERSION OUT.deb
#
# It installs the binary as /usr/bin/vpconnect, the XDG autostart entry as
# /etc/xdg/autostart/vpconnect.desktop (the agent starts at every user's
# graphical login; GNOME runs it through systemd's autostart generator),
# the systemd user unit as /usr/lib/systemd/user/vpconnect.service (not
# enabled: for sessions without autostart, `systemctl --global enable
# vpconnect.service` and remove the autostart entry; not both), and the
# policy example under /usr/share/doc/vpconnect.
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: $0 EXE VERSION OUT.deb" >&2
  exit 2
fi
exe=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
# Debian versions start with a digit: v1.2.3 → 1.2.3, a commit → 0.0.0+g<commit>.
debver=${version#v}
[[ $debver =~ ^[0-9] ]] || debver="0.0.0+g${debver//[^A-Za-z0-9.+~]/}"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# mktemp makes it 0700, and dpkg-deb records it as the package's "./".
chmod 0755 "$root"
install -D -m 0755 "$exe" "$root/usr/bin/vpconnect"
install -D -m 0644 "$here/vpconnect.desktop" "$root/etc/xdg/autostart/vpconnect.desktop"
install -D -m 0644 "$here/vpconnect.service" "$root/usr/lib/systemd/user/vpconnect.service"
install -D -m 0644 "$here/policy.example.json" "$root/usr/share/doc/vpconnect/policy.example.json"
mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: vpconnect
Version: $debver
Architecture: amd64
Maintainer: vpconnect <support@vpconnect.example>
Section: mail
Priority: optional
Description: Microsoft 365 and Deltek Vantagepoint sync agent
 Keeps an employee's Microsoft 365 mailbox (mail, calendar, contacts) in sync
 with Deltek Vantagepoint. It starts at login for every user; each user
 activates it once. Policy: /etc/vpconnect/policy.json (see the example in
 /usr/share/doc/vpconnect).
CONTROL
echo /etc/xdg/autostart/vpconnect.desktop >"$root/DEBIAN/conffiles"
mkdir -p "$(dirname "$out")"
dpkg-deb --build --root-owner-group "$root" "$out" >/dev/null
echo "built $out (version $debver)"

#!/bin/sh
# Builds vpconnect.pkg on a Mac (docs/behaviour.md §9). The tray needs cgo on macOS, so the
# binary cannot be cross-built from Linux: run this on macOS with Go and the
# Xcode command line tools.
#
#   installer/macos/build.sh VERSION [OUT.pkg]
#
# The pkg installs /usr/local/bin/vpconnect (universal: arm64 + x86_64) and
# /Library/LaunchAgents/com.vpconnect.agent.plist, and its postinstall starts
# the agent for the user logged in at the console. Policy is delivered
# separately, as a configuration profile (example: com.vpconnect.agent.mobileconfig).
#
# Signing and notarization (recommended; Gatekeeper blocks unsigned pkgs
# downloaded from the internet):
#   APP_SIGN_ID="Developer ID Application: Example Inc (TEAMID)"   signs the binary (hardened runtime)
#   PKG_SIGN_ID="Developer ID Installer: Example Inc (TEAMID)"     signs the pkg
#   NOTARY_PROFILE=<keychain profile of `xcrun notarytool store-credentials`>  notarizes and staples
set -eu

version=${1:?usage: build.sh VERSION [OUT.pkg]}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-$root/dist/vpconnect-$version.pkg}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ldflags="-X vpconnect/agent.Version=$version"
mkdir -p "$work/root/usr/local/bin" "$work/root/Library/LaunchAgents" "$(dirname "$out")"
(cd "$root" && CGO_ENABLED=1 GOOS=darwin GOARCH=arm64 go build -ldflags "$ldflags" -o "$work/vpconnect-arm64" ./cmd/vpconnect)
(cd "$root" && CGO_ENABLED=1 GOOS=darwin GOARCH=amd64 go build -ldflags "$ldflags" -o "$work/vpconnect-amd64" ./cmd/vpconnect)
lipo -create -output "$work/root/usr/local/bin/vpconnect" "$work/vpconnect-arm64" "$work/vpconnect-amd64"
chmod 0755 "$work/root/usr/local/bin/vpconnect"
if [ -n "${APP_SIGN_ID:-}" ]; then
	codesign --force --options runtime --timestamp --sign "$APP_SIGN_ID" "$work/root/usr/local/bin/vpconnect"
fi
cp "$here/com.vpconnect.agent.plist" "$work/root/Library/LaunchAgents/"
chmod 0644 "$work/root/Library/LaunchAgents/com.vpconnect.agent.plist"
cp -R "$here/scripts" "$work/scripts"
chmod 0755 "$work/scripts/preinstall" "$work/scripts/postinstall"

pkgbuild --root "$work/root" --scripts "$work/scripts" --identifier com.vpconnect.agent.pkg \
	--version "$version" --install-location / --ownership recommended "$work/vpconnect-component.pkg"
if [ -n "${PKG_SIGN_ID:-}" ]; then
	productbuild --package "$work/vpconnect-component.pkg" --sign "$PKG_SIGN_ID" "$out"
else
	echo "not signing the pkg: set PKG_SIGN_ID (and APP_SIGN_ID) to sign it"
	productbuild --package "$work/vpconnect-component.pkg" "$out"
fi
if [ -n "${NOTARY_PROFILE:-}" ]; then
	xcrun notarytool submit "$out" --keychain-profile "$NOTARY_PROFILE" --wait
	xcrun stapler staple "$out"
fi
echo "built $out"

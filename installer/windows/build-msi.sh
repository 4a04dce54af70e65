#!/usr/bin/env bash
# Builds the vpconnect MSI on Linux (docs/behaviour.md §9):
#
#   installer/windows/build-msi.sh EXE VERSION OUT.msi
#
# EXE      vpconnect.exe, cross-built: GOOS=windows GOARCH=amd64 go build ./cmd/vpconnect
# VERSION  the build's version (git describe); the MSI's ProductVersion is its
#          leading x.y.z (v1.4.2-3-gabc → 1.4.2), or 0.0.<commit count> when it
#          has none, so that every build upgrades the one before it.
# OUT.msi  where the package goes.
#
# Needs wixl (Debian package wixl) and msibuild (Debian package msitools).
# Authenticode: with SIGN_CERT and SIGN_KEY (PEM files, SIGN_PASS for an
# encrypted key) or SIGN_PFX (with SIGN_PASS), vpconnect.exe and then the MSI
# are signed with osslsigncode; SIGN_TIMESTAMP_URL adds a timestamp
# (recommended, e.g. http://timestamp.digicert.com). Without them signing is
# skipped with a message.
set -euo pipefail

if (($# != 3)); then
  echo "usage: $0 EXE VERSION OUT.msi" >&2
  exit 2
fi
exe=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)

for tool in wixl msibuild; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: $tool is missing (Debian packages wixl and msitools)" >&2
    exit 1
  fi
done
if [[ ! -f $exe ]]; then
  echo "$0: $exe: no such file (cross-build it with GOOS=windows GOARCH=amd64 go build ./cmd/vpconnect)" >&2
  exit 1
fi

# msi_version turns a build version into Windows Installer's x.y.z
# (major ≤ 255, minor ≤ 255, build ≤ 65535; the fourth field is ignored by
# upgrades, so it is not used).
msi_version() {
  if [[ $1 =~ ^v?([0-9]+)\.([0-9]+)\.([0-9]+) ]]; then
    local a=$((10#${BASH_REMATCH[1]})) b=$((10#${BASH_REMATCH[2]})) c=$((10#${BASH_REMATCH[3]}))
    if ((a <= 255 && b <= 255 && c <= 65535)); then
      echo "$a.$b.$c"
      return
    fi
    echo "$0: version $1 is out of Windows Installer's range (255.255.65535)" >&2
    exit 1
  fi
  local n
  n=$(git -C "$here" rev-list --count HEAD 2>/dev/null || echo 0)
  echo "0.0.$((n > 65535 ? 65535 : n))"
}
msiver=$(msi_version "$version")

sign() { # sign FILE DESCRIPTION
  local args=(sign -h sha256 -n "$2" -i "https://github.com/vpconnect/vpconnect")
  if [[ -n ${SIGN_PFX:-} ]]; then
    args+=(-pkcs12 "$SIGN_PFX")
  else
    args+=(-certs "$SIGN_CERT" -key "$SIGN_KEY")
  fi
  [[ -n ${SIGN_PASS:-} ]] && args+=(-pass "$SIGN_PASS")
  [[ -n ${SIGN_TIMESTAMP_URL:-} ]] && args+=(-ts "$SIGN_TIMESTAMP_URL")
  osslsigncode "${args[@]}" -in "$1" -out "$1.signed" >/dev/null
  mv -f "$1.signed" "$1"
  echo "signed $1"
}
signing=
if [[ -n ${SIGN_PFX:-} || (-n ${SIGN_CERT:-} && -n ${SIGN_KEY:-}) ]]; then
  if ! command -v osslsigncode >/dev/null 2>&1; then
    echo "$0: a certificate is given but osslsigncode is missing (Debian package osslsigncode)" >&2
    exit 1
  fi
  signing=1
else
  echo "not signing: set SIGN_CERT and SIGN_KEY (or SIGN_PFX) to sign vpconnect.exe and the MSI with osslsigncode"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$exe" "$work/vpconnect.exe"
[[ -n $signing ]] && sign "$work/vpconnect.exe" "vpconnect"

mkdir -p "$(dirname "$out")"
# wixl finds File sources relative to the current directory only.
(cd "$work" && wixl --arch x64 -D Version="$msiver" -D Exe=vpconnect.exe -o vpconnect.msi "$here/vpconnect.wxs")

# What wixl 0.101 cannot express, written into the tables (msibuild runs SQL
# on the package):
# - the conditions of the policy components: a policy value is written only
#   when its property is set (an empty value would override the user's file);
# - our public properties in SecureCustomProperties, so that they reach the
#   elevated part of the installation when it is started from a UI;
# - HideTarget (0x2000) on the action that restores the client secret, so
#   that it is not written to a verbose log.
CONDITIONS=(
  "PolicyVpApiUrl|VP_API_URL"
  "PolicyVpDatabase|VP_DATABASE"
  "PolicyVpClientId|VP_CLIENT_ID"
  "PolicyVpClientSecret|VP_CLIENT_SECRET"
  "PolicyMsClientId|MS_CLIENT_ID"
  "PolicyMsTenant|MS_TENANT"
  "PolicyAddinOrigins|ADDIN_ORIGINS"
  "PolicyVpMaxRequests|VP_MAX_REQUESTS"
  "PolicyVpFleetSize|VP_FLEET_SIZE"
  'PolicySyncEnabledOn|SYNC_ENABLED="1" OR SYNC_ENABLED~="true"'
  'PolicySyncEnabledOff|SYNC_ENABLED="0" OR SYNC_ENABLED~="false"'
)
queries=()
for c in "${CONDITIONS[@]}"; do
  queries+=(-q "UPDATE \`Component\` SET \`Condition\` = '${c#*|}' WHERE \`Component\` = '${c%%|*}'")
done
public="VP_API_URL;VP_DATABASE;VP_CLIENT_ID;VP_CLIENT_SECRET;MS_CLIENT_ID;MS_TENANT;ADDIN_ORIGINS;VP_MAX_REQUESTS;VP_FLEET_SIZE;SYNC_ENABLED"
queries+=(-q "UPDATE \`Property\` SET \`Value\` = '$public;WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED' WHERE \`Property\` = 'SecureCustomProperties'")
queries+=(-q "UPDATE \`CustomAction\` SET \`Type\` = 10291 WHERE \`Action\` = 'RestoreVpClientSecret'")
msibuild "$work/vpconnect.msi" "${queries[@]}"

[[ -n $signing ]] && sign "$work/vpconnect.msi" "vpconnect $msiver"
mv -f "$work/vpconnect.msi" "$out"
echo "built $out (ProductVersion $msiver)"

#!/bin/sh
# Removes vpconnect installed by the pkg (run with sudo). Per-user data
# (~/Library/Application Support/vpconnect, keychain items) is kept; a user
# who wants it gone runs `vpconnect deactivate` before.
set -e
label=com.vpconnect.agent
plist=/Library/LaunchAgents/$label.plist
for uid in $(/bin/ps -axo uid= -o comm= | /usr/bin/awk '$2 ~ /vpconnect$/ {print $1}' | /usr/bin/sort -u); do
	/bin/launchctl bootout "gui/$uid/$label" 2>/dev/null || true
done
/bin/rm -f "$plist" /usr/local/bin/vpconnect
/usr/sbin/pkgutil --forget com.vpconnect.agent.pkg >/dev/null 2>&1 || true
echo "vpconnect removed"

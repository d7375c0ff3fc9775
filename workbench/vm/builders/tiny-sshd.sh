#!/bin/sh
# tiny guest: dropbear in the foreground (inittab respawns it) with the seeded ed25519 host key
# only; no password logins. Without a seeded key there is no SSH (tiny-boot.sh said why).
key=/etc/dropbear/dropbear_ed25519_host_key
[ -s "$key" ] || exec sleep 2147483647
exec /usr/sbin/dropbear -F -E -s -p 22 -r "$key"

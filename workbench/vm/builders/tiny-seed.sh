#!/bin/sh
# tiny guest: print one field of workbench's NoCloud user-data (see workbench/vm/seed.py).
# usage: seed-parse FIELD USER_DATA
#   FIELD: user | authorized_keys | host_private_key | host_public_key
# Relies on seed.py's block layout: sequences indented under their key, the host key a | block.
set -eu
exec awk -v want="$1" '
function indent(s) { match(s, /^ */); return RLENGTH }
function value(s) { sub(/^[^:]*: */, "", s); gsub(/^["\047]|["\047]$/, "", s); return s }
{ n = indent($0) }
mode != "" && $0 !~ /^ *$/ && n <= depth { mode = "" }
mode == "keys" && $0 ~ /^ *- / {
  k = $0; sub(/^ *- */, "", k); gsub(/^["\047]|["\047]$/, "", k)
  if (!(k in seen)) { seen[k] = 1; print k }
  next
}
mode == "block" {
  if (strip < 0) strip = n
  print substr($0, strip + 1)
  next
}
want == "user" && $0 ~ /^ *- name: / && !done { print value($0); done = 1; next }
want == "host_public_key" && $0 ~ /^ *ed25519_public: / { print value($0); next }
want == "authorized_keys" && $0 ~ /^ *ssh_authorized_keys: *$/ { mode = "keys"; depth = n; next }
want == "host_private_key" && $0 ~ /^ *ed25519_private: *\|/ { mode = "block"; depth = n; strip = -1; next }
' "$2"

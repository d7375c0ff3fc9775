#!/bin/sh
# tiny guest: udhcpc's event script: address, default route and DNS from the lease.
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for gateway in $router; do
      ip route replace default via "$gateway" dev "$interface"
      break
    done
    : > /run/resolv.conf
    for server in $dns; do
      echo "nameserver $server" >> /run/resolv.conf
    done
    ;;
esac
exit 0

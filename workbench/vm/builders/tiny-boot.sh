#!/bin/sh
# tiny guest, stage 2 (busybox init's sysinit): mounts, modules (those the image lists), network,
# the NoCloud seed (root's and the user's authorized key, the pinned host key), acpid (the power
# key powers off), then the ready marker.
# inittab starts dropbear (tiny-sshd.sh) once this returns.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "workbench-boot: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
grep -q "^devtmpfs /dev " /proc/mounts || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -o remount,rw /
mkdir -p /run/workbench  # readable: any login user may test for the ready marker

for module in $(cat /etc/workbench/modules); do
  modprobe "$module" || say "cannot load module $module"
done

ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
  udhcpc -i eth0 -s /etc/workbench/udhcpc -q -n -t 20 -T 1 -S || say "no DHCP lease on eth0"
else
  say "no eth0"
fi

seed_dev=$(findfs LABEL=cidata 2>/dev/null || echo /dev/vdb)
seed=/run/workbench/seed  # root only: user-data holds the host's private key
mkdir -p -m 700 "$seed"
if mount -t iso9660 -o ro "$seed_dev" "$seed"; then
  parse() { /usr/lib/workbench/seed-parse "$1" "$seed/user-data"; }
  user=$(parse user)
  hostname=$(sed -n 's/^local-hostname: *//p' "$seed/meta-data")
  [ -n "$hostname" ] && hostname "$hostname" && echo "$hostname" > /etc/hostname
  printf '127.0.0.1 localhost %s\n' "$(hostname)" > /etc/hosts

  mkdir -p /root/.ssh
  chmod 700 /root /root/.ssh
  parse authorized_keys > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys

  if [ -n "$user" ]; then
    if ! grep -q "^$user:" /etc/passwd; then
      echo "$user:x:1000:1000::/home/$user:/bin/sh" >> /etc/passwd
      echo "$user:*:19000:0:99999:7:::" >> /etc/shadow
      echo "$user:x:1000:" >> /etc/group
    fi
    mkdir -p "/home/$user/.ssh"
    parse authorized_keys > "/home/$user/.ssh/authorized_keys"
    chmod 700 "/home/$user" "/home/$user/.ssh"
    chmod 600 "/home/$user/.ssh/authorized_keys"
    chown -R 1000:1000 "/home/$user"
  fi

  umask 077
  parse host_private_key > "$seed.key"
  mkdir -p /etc/dropbear
  rm -f /etc/dropbear/dropbear_ed25519_host_key
  dropbearconvert openssh dropbear "$seed.key" \
    /etc/dropbear/dropbear_ed25519_host_key || say "cannot convert the seeded host key"
  rm -f "$seed.key"
  umask 022
  umount "$seed"
else
  say "no NoCloud seed on $seed_dev: no SSH keys"
fi

acpid
touch /run/workbench/seeded
say "ready"

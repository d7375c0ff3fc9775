#!/bin/busybox sh
# The initramfs /init of the tiny and debian-12 guests: load the modules the root disk needs,
# mount root= and switch_root to its /sbin/init. Exiting here panics the kernel, which qemu's log shows.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r module; do
  insmod "/modules/$module" || echo "workbench-initrd: cannot load $module"
done < /modules/order
root=/dev/vda
mode=ro
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="${arg#root=}" ;;
    rw) mode=rw ;;
  esac
done
tries=0
while [ ! -b "$root" ] && [ "$tries" -lt 100 ]; do
  sleep 0.1
  tries=$((tries + 1))
done
if ! mount -t ext4 -o "$mode" "$root" /newroot; then
  echo "workbench-initrd: cannot mount the root filesystem $root"
  exit 1
fi
umount /proc /sys /dev
exec switch_root /newroot /sbin/init

/**
 * The event script busybox udhcpc runs (/usr/share/udhcpc/default.script, and
 * /etc/udhcpc/default.script where Debian's busybox looks for it): applies the lease
 * to the interface, installs the default route and writes /etc/resolv.conf, so a plain
 * `udhcpc -i eth0` in the default guest gives it a working network.
 */
export const UDHCPC_SCRIPT_PATH = 'usr/share/udhcpc/default.script';
/** Debian builds busybox with this default script path: a symlink to the one above. */
export const UDHCPC_DEBIAN_PATH = 'etc/udhcpc/default.script';

export const UDHCPC_SCRIPT = `#!/bin/sh
# udhcpc event script (virtkit guest): $1 is deconfig, bound, renew or nak.
case "$1" in
deconfig)
  ifconfig "$interface" 0.0.0.0 up
  ;;
bound|renew)
  ifconfig "$interface" "$ip" netmask "\${subnet:-255.255.255.0}" \${broadcast:+broadcast "$broadcast"} up
  if [ -n "$router" ]; then
    while route del default dev "$interface" 2>/dev/null; do :; done
    for r in $router; do route add default gw "$r" dev "$interface"; break; done
  fi
  : > /etc/resolv.conf
  [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
  for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
  echo "udhcpc: $interface $ip/\${subnet:-?} router \${router:-none} dns \${dns:-none}"
  ;;
esac
exit 0
`;

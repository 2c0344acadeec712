/** `virtkit help TOPIC` texts that are not one command's --help (that is `virtkit help COMMAND`). */
import { EXIT_CANNOT_REBOOT } from './run-linux.ts';
import { EXIT_HTIF, EXIT_LIMIT } from './run.ts';
import { EXIT_NO_DAEMON } from './vm-errors.ts';

export const HELP_TOPICS: Record<string, string> = {
  'exit-status': `virtkit's exit statuses (every command):

  0    success (run: the guest powered off or was quit)
  1    a runtime failure: the guest panicked or reported failure; a disk boot's firmware found
       nothing to boot (U-Boot gave up at its prompt); a host resource is busy (a
       port in use for 'web --port' or a 'run --net' hostfwd, a disk image locked by another
       program, in 'run' and 'img' alike; a 'run --qmp' or '--console' socket another process
       listens on); a download or build failed. 'img check' and 'img compare' have their own
       meanings (see 'virtkit img help check|compare'). vm: the daemon refused the request for
       the VM's state (starting a running VM), a name is taken, or the daemon failed.
  2    bad input: an unknown flag or a bad value, a missing, unreadable, empty or malformed
       file (kernel, disk image, snapshot), a snapshot that does not fit the disks given; vm:
       no such VM or snapshot, a request the daemon found malformed or unusable
  ${EXIT_CANNOT_REBOOT}    run: a restored guest rebooted but its kernel, initrd or firmware is gone or changed
  ${EXIT_NO_DAEMON}    vm: no daemon reachable at the socket or URL (start one with 'virtkit daemon')
  ${EXIT_LIMIT}  run --firmware none: the instruction or time limit was reached, or the hart idles for good
  ${EXIT_HTIF}  run --firmware none: a request the runner does not serve (HTIF syscall, reset)
  1-123 run --firmware none: the program's own failure code
  70   internal error (a bug: please report it; VIRTKIT_DEBUG=1 prints the stack)
  141  the reader of the output went away (e.g. '| head'), as for other tools`,

  network: `virtkit run --net SPEC (repeatable; each adds a virtio-net NIC):

  user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,restrict=on]
      user-mode NAT: guest 10.0.2.15 (DHCP), gateway 10.0.2.2, DNS 10.0.2.3.
      hostfwd=tcp::8080-:80 makes host port 8080 reach guest port 80. An empty HOSTADDR binds
      127.0.0.1 (only this host can connect), where QEMU binds 0.0.0.0: write
      hostfwd=tcp:0.0.0.0:8080-:80 to accept connections from the network. GUESTADDR, if
      given, must be 10.0.2.15. restrict=on cuts the guest off from everything but forwards.
  switch=NAME              NICs with the same NAME share a LAN inside this process
  socket,path=PATH         a LAN shared by every virtkit using PATH (listen=/connect= to choose)
  mac=52:54:00:XX:XX:XX    any form; default MACs 52:54:00:12:34:56, :57, ...

QEMU's '-netdev user,id=n0,...' plus '-device virtio-net,netdev=n0' is one '--net user,...'.
A hostfwd port already in use is exit status 1 (a runtime condition), a bad SPEC is 2.`,

  snapshots: `Snapshots of a running VM:

  virtkit run --save-on-exit FILE ...   writes FILE when the VM is quit (Ctrl-A x, SIGINT or
                                        SIGTERM, or the end of piped input at the guest's prompt)
  Ctrl-A s (on a terminal)             saves now, to --save-on-exit's FILE or virtkit-TIME.snap
  virtkit run --restore FILE [--disk ...] [--net ...]
      resumes it: CPUs, memory and kernel command line come from the snapshot. Give its disks
      again with --disk in the saved order (each is checked against the snapshot's record of
      format, size and sampled contents) and as many --net as it had NICs.

Disk image snapshots (qcow2 internal snapshots) are 'virtkit img snapshot -l|-c|-a|-d'.`,
};

/** The help texts of `virtkit vm` and each of its verbs (`virtkit vm VERB --help`). */
import { EXIT_NO_DAEMON } from './vm-errors.ts';

const CONNECTION = `connection (every verb):
  --socket PATH          the daemon's unix socket (default $VIRTKIT_SOCKET, else STATE_DIR/virtkit.sock)
  --state-dir DIR        the daemon's state directory (default $XDG_DATA_HOME/virtkit, else
                         ~/.local/share/virtkit)
  --url http://HOST:PORT a daemon started with --listen, over TCP
  --token T              its bearer token (default $VIRTKIT_TOKEN; the daemon keeps it in STATE_DIR/token)`;

const OUTPUT = `  -o, --output table|json  a table (default) or the API's JSON`;

export const VM_HELP = `usage: virtkit vm VERB [options] [--socket PATH | --url URL --token T]

Creates, runs, controls and watches VMs through the manager ('virtkit daemon'), which must be
running: each VM is its own process, and keeps running when this command (or the daemon) exits.

verbs:
  create NAME [options]       define a VM (default guest, an image, or a kernel; disks, NICs)
  list                        all VMs: state, CPUs, memory, uptime
  info NAME                   one VM in full
  start NAME...               boot a stopped (or crashed) VM
  shutdown NAME [--timeout S] [--wait]   ask the guest to power off (power button); killed after S s
  stop NAME...                power off now
  pause NAME...               freeze the guest's CPUs (its memory stays)
  resume NAME...              continue a paused VM
  reboot NAME...              reset the machine
  console NAME [--watch]      the serial console (Ctrl-] detaches); --watch only watches
  snapshot create|list|revert|delete NAME [SNAP]   disk + RAM snapshots
  clone NAME NEW [--linked|--full]   a copy: linked (qcow2 overlays on NAME's disks) or full
  import FILE.ova --name NAME import an OVA (or OVF) as a new VM
  export NAME FILE.ova        write NAME as an OVA
  delete NAME... [--force]    remove a VM and the disks it owns (--force: even while it runs)
  stats [NAME...] [--watch]   instructions, MIPS, host CPU and RSS, disk and network traffic
  events [NAME] [--follow]    lifecycle events (stored; --follow streams new ones)
  backup NAME DEST [--ram] [--full]   a point-in-time backup (incremental after the first)
  restore BACKUP [--name NEW] a VM back from a backup directory (a new VM with --name)
  backup-schedule NAME [--every E --keep N --dest DIR | --remove]   scheduled backups

${CONNECTION}

Read verbs (list, info, stats, events, snapshot list) print tables; '--output json' prints the
API's JSON instead. 'virtkit vm VERB --help' describes one verb.

exit status: 0 success, 1 the daemon refused (wrong state, e.g. starting a running VM; a name
taken) or failed, 2 bad input (flags, names, no such VM or snapshot, an unusable file),
${EXIT_NO_DAEMON} no daemon reachable (start one with 'virtkit daemon').`;

export const VERB_HELP: Record<string, string> = {
  create: `usage: virtkit vm create NAME [options]

Defines a VM (it starts stopped: 'virtkit vm start NAME'). The flags mean what they mean for
'virtkit run'. NAME: 1-63 letters, digits, '.', '_', '-'.

  --memory SIZE          guest RAM, e.g. 128M, 1G; a bare number is MiB (default: the daemon's)
  --pool NAME            the resource pool it belongs to (default: 'default'; 'virtkit pool')
  --template T           a linked clone of template T ('virtkit template'): its disks, CPUs,
                         memory and NICs (--memory, --cpus, --net override them)
  --hostname H           first-boot settings for cloud-init guests: a read-only NoCloud seed
  --ssh-key FILE         disk (FAT, label CIDATA) with the host name, the public keys of FILE
  --password P           (repeatable) and a password for the user 'virtkit'
  --cpus N               number of harts (default 1)
  --image FILE[,format=F]   boot a disk image (raw, qcow2, vmdk, vpc, vhdx) instead of the default guest
  --kernel FILE          boot this kernel instead of the default guest ...
  --initrd FILE          ... with this initramfs ...
  --append TEXT          ... and this command line
  --disk FILE[,format=F][,readonly]   attach an existing image (repeatable)
  --disk size=SIZE[,format=qcow2]     attach a new qcow2 disk the VM owns (deleted with it)
  --net user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
                         a user-mode NAT NIC (repeatable); an empty HOSTADDR binds 127.0.0.1
${OUTPUT}

Paths are made absolute here: the daemon opens them, from its own directory.

${CONNECTION}`,
  list: `usage: virtkit vm list [--output table|json] [--quiet]

Lists every VM: name, state, CPUs, memory, number of disks, uptime, process id, id.

${OUTPUT}
  -q, --quiet            names only, one a line

${CONNECTION}`,
  info: `usage: virtkit vm info NAME [--output table|json]

Shows one VM: state, CPUs, memory, boot source, disks, NICs, when it was created and started.

${OUTPUT}

${CONNECTION}`,
  start: `usage: virtkit vm start NAME... [--output table|json]

Boots each VM (stopped or crashed) as its own process and prints its new state.

${OUTPUT}

${CONNECTION}`,
  shutdown: `usage: virtkit vm shutdown NAME [--timeout SECONDS]

Presses the VM's power button: the guest powers off cleanly (busybox acpid in the default
guest, systemd-logind on Debian). If it is still running after SECONDS (default 60) the daemon
powers it off.

  --timeout SECONDS      how long the guest may take (1..3600)
  --wait                 return once the VM is down (else at once, the VM 'stopping')
${OUTPUT}

${CONNECTION}`,
  stop: `usage: virtkit vm stop NAME...

Powers each VM off now, as pulling the plug does: the guest is not asked.

${OUTPUT}

${CONNECTION}`,
  pause: `usage: virtkit vm pause NAME...

Freezes each VM's CPUs (QMP 'stop'); its memory stays and 'virtkit vm resume' continues it.

${OUTPUT}

${CONNECTION}`,
  resume: `usage: virtkit vm resume NAME...

Continues each paused VM (QMP 'cont').

${OUTPUT}

${CONNECTION}`,
  reboot: `usage: virtkit vm reboot NAME...

Resets each VM's machine (QMP 'system_reset'): the guest boots again in the same process.

${OUTPUT}

${CONNECTION}`,
  console: `usage: virtkit vm console NAME [--watch]

Attaches this terminal to the VM's serial console: what the guest printed recently (the last
64 KiB), then live output; what you type goes to the guest. Ctrl-] detaches (the VM keeps
running). One client types at a time; others may watch.

  -w, --watch            watch only: nothing is typed, any number of watchers

Piped input is typed a line at a time, each line once the guest's shell shows its prompt, and
the command detaches once the last line is answered (a console silent since the VM's process
started, as after a snapshot revert, gets one Enter to show its prompt):
  printf 'uname -r\\n' | virtkit vm console NAME

${CONNECTION}`,
  snapshot: `usage: virtkit vm snapshot VERB NAME [SNAP]

  create NAME SNAP       snapshot the VM's disks, and its RAM and devices when it runs
  list NAME              the VM's snapshots (-o json for the API's JSON)
  revert NAME SNAP       go back to SNAP: a running VM is stopped first, and restarted from
                         the snapshot if the snapshot has RAM state
  delete NAME SNAP       remove a snapshot

${CONNECTION}`,
  clone: `usage: virtkit vm clone NAME NEW [--linked | --full]

Creates VM NEW with NAME's settings and a copy of its disks.

  --linked               (default) each disk of NEW is a qcow2 overlay on NAME's disk: fast
                         and small, but NAME's disks must then stay unchanged
  --full                 each disk is copied in full
${OUTPUT}

${CONNECTION}`,
  import: `usage: virtkit vm import FILE --name NAME

Creates VM NAME from an OVA (or OVF) file on the daemon's host: its CPUs, memory and disks.
Settings the OVF leaves out get defaults, listed as warnings.

  --name NAME            the new VM's name (required)
${OUTPUT}

${CONNECTION}`,
  export: `usage: virtkit vm export NAME FILE

Writes VM NAME as an OVA archive (an OVF descriptor and its disks) at FILE, a path on the
daemon's host.

${CONNECTION}`,
  delete: `usage: virtkit vm delete NAME... [--force]

Removes each VM: its definition, snapshots and the disks it owns (disks given by path stay).

  -f, --force            also delete a running VM (it is powered off first)

${CONNECTION}`,
  stats: `usage: virtkit vm stats [NAME...] [--watch [--interval SECONDS]] [--output table|json]

Shows each VM's state, uptime, guest instructions and MIPS, host CPU (% of one core) and memory
(RSS), disk bytes read/written and network bytes received/sent. With no NAME: every VM that
is running or paused.

  -w, --watch            refresh every interval until interrupted (CPU is then the use over
                         the last interval; on a single sample it is the average since start)
  --interval SECONDS     the refresh interval (default 2)
${OUTPUT}            (with --watch, one JSON document a line per sample)

${CONNECTION}`,
  events: `usage: virtkit vm events [NAME] [--follow] [--output table|json]

Prints lifecycle events (time, VM, state change, reason): NAME's stored events, or every VM's.

  --follow               then keep printing new events as they happen (until interrupted)
${OUTPUT}            (with --follow, one JSON document a line)

${CONNECTION}`,
  backup: `usage: virtkit vm backup NAME DEST [--ram] [--full] [--background]

Backs up VM NAME's disks into a new directory under DEST (a path on the daemon's host) at one
point in time: a running guest is paused only while internal snapshots are taken, then the
copy runs in the background. After the first backup in DEST, a backup copies only the clusters
the guest wrote since the previous one (a qcow2 whose backing file is the previous backup),
unless the VM process restarted since (dirty tracking lives in the VM process).

  --ram                  also save the RAM and device state (a running VM): a restore resumes it
  --full                 a full backup even when an incremental one is possible
  --background           return once the backup point is taken (default: wait for the copy)
${OUTPUT}

${CONNECTION}`,
  restore: `usage: virtkit vm restore BACKUP [--name NEW]

Brings a VM back from BACKUP (a backup directory, as 'vm backup' printed it): a new VM named
NEW (default: the backed-up VM's name), or, if a stopped VM of that name exists, its disks are
replaced. Disks are copied flat out of the backup chain. A backup with RAM state starts the VM
where the guest was.

  --name NEW             the VM to restore into
${OUTPUT}

${CONNECTION}`,
  'backup-schedule': `usage: virtkit vm backup-schedule NAME [--every E --keep N --dest DIR [--full] [--ram]]
       virtkit vm backup-schedule NAME --remove

Without options shows NAME's schedule. With --every, --keep and --dest sets it: the daemon
backs NAME up every E (seconds, or 30m, 1h, 1d, 1w) into DIR and keeps the newest N backups
(whole chains: an incremental backup keeps the backups it builds on; a new full backup starts
once a chain holds N). The schedule is kept in the daemon's database.

  --every E              the interval (at least 5 s)
  --keep N               backups to keep (1..1000)
  --dest DIR             where backups go (a path on the daemon's host)
  --full                 full backups only
  --ram                  include RAM and device state
  --remove               delete the schedule
${OUTPUT}

${CONNECTION}`,
};

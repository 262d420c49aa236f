//! The `syscall` source's field names, so that Falco's syscall rules compile today.
//!
//! No syscall events exist yet (the eBPF sensor will bring them); registering libsinsp's
//! field names and types lets those rule files load, their fields resolve, and their
//! conditions type-check, so a rule with a field we would never support is still reported.
//! The list follows libsinsp's filterchecks (event, process, thread, user, group, fd, fdlist,
//! fs.path, container, k8s, syslog, span).

use std::sync::LazyLock;

use crate::field::{ArgKind, FieldDef, FieldRegistry, FieldType};

/// The source name of node (system call) events.
pub const SYSCALL_SOURCE: &str = "syscall";

/// One field a line: `name type [flags]`; type `s`tring, `n`umber or `b`ool; flags: `L` list,
/// `I` optional index argument, `K` optional key argument, `R` argument required, `D`
/// argument may follow a dot.
const FIELDS: &str = "
evt.num n
evt.time s
evt.time.s s
evt.time.iso8601 s
evt.datetime s
evt.datetime.s s
evt.rawtime n
evt.rawtime.s n
evt.rawtime.ns n
evt.reltime n
evt.reltime.s n
evt.reltime.ns n
evt.pluginname s
evt.plugininfo s
evt.source s
evt.is_async b
evt.asynctype s
evt.hostname s
evt.latency n
evt.latency.s n
evt.latency.ns n
evt.latency.human s
evt.deltatime n
evt.deltatime.s n
evt.deltatime.ns n
evt.outputtime n
evt.dir s
evt.type s
evt.type.is s KR
evt.category s
evt.cpu n
evt.args s
evt.arg s KRD
evt.rawarg s KRD
evt.info s
evt.buffer s
evt.buflen n
evt.res s
evt.rawres n
evt.failed b
evt.is_io b
evt.is_io_read b
evt.is_io_write b
evt.io_dir s
evt.is_wait b
evt.wait_latency n
evt.is_syslog b
evt.count n
evt.count.error n
evt.count.error.file n
evt.count.error.net n
evt.count.error.memory n
evt.count.error.other n
evt.count.exit n
evt.around b K
evt.abspath s
evt.abspath.src s
evt.abspath.dst s
evt.is_open_read b
evt.is_open_write b
evt.is_open_exec b
evt.is_open_create b
proc.exe s
proc.pexe s
proc.aexe s I
proc.exepath s
proc.pexepath s
proc.aexepath s I
proc.name s
proc.pname s
proc.aname s I
proc.args s
proc.cmdline s
proc.pcmdline s
proc.acmdline s I
proc.cmdnargs n
proc.cmdlenargs n
proc.exeline s
proc.env s K
proc.aenv s K
proc.cwd s
proc.loginshellid n
proc.tty n
proc.pid n
proc.ppid n
proc.apid n I
proc.vpid n
proc.pvpid n
proc.sid n
proc.sname s
proc.sid.exe s
proc.sid.exepath s
proc.vpgid n
proc.vpgid.name s
proc.vpgid.exe s
proc.vpgid.exepath s
proc.duration n
proc.ppid.duration n
proc.pid.ts n
proc.ppid.ts n
proc.is_exe_writable b
proc.is_exe_upper_layer b
proc.is_exe_from_memfd b
proc.is_sid_leader b
proc.is_vpgid_leader b
proc.exe_ino n
proc.exe_ino.ctime n
proc.exe_ino.mtime n
proc.exe_ino.ctime_duration_proc_start n
proc.exe_ino.ctime_duration_pidns_start n
proc.pidns_init_start_ts n
proc.thread.cap_permitted s
proc.thread.cap_inheritable s
proc.thread.cap_effective s
proc.is_container_healthcheck b
proc.is_container_liveness_probe b
proc.is_container_readiness_probe b
proc.fdopencount n
proc.fdlimit n
proc.fdusage n
proc.vmsize n
proc.vmrss n
proc.vmswap n
proc.pfmajor n
proc.pfminor n
proc.stdin.type s
proc.stdout.type s
proc.stderr.type s
proc.stdin.name s
proc.stdout.name s
proc.stderr.name s
proc.cpu n
proc.cpu.user n
proc.cpu.system n
proc.nthreads n
proc.nchilds n
thread.tid n
thread.ismain b
thread.vtid n
thread.exectime n
thread.totexectime n
thread.cgroups s
thread.cgroup s KR
thread.nametid s
thread.cap_permitted s
thread.cap_inheritable s
thread.cap_effective s
thread.cpu n
thread.cpu.user n
thread.cpu.system n
thread.vmsize n
thread.vmrss n
user.uid n
user.name s
user.homedir s
user.shell s
user.loginuid n
user.loginname s
group.gid n
group.name s
fd.num n
fd.type s
fd.typechar s
fd.name s
fd.directory s
fd.filename s
fd.ip s
fd.cip s
fd.sip s
fd.lip s
fd.rip s
fd.port n
fd.cport n
fd.sport n
fd.lport n
fd.rport n
fd.l4proto s
fd.sockfamily s
fd.is_server b
fd.uid s
fd.containername s
fd.containerdirectory s
fd.proto s
fd.cproto s
fd.sproto s
fd.lproto s
fd.rproto s
fd.net s
fd.cnet s
fd.snet s
fd.lnet s
fd.rnet s
fd.connected b
fd.name_changed b
fd.cip.name s
fd.sip.name s
fd.lip.name s
fd.rip.name s
fd.dev n
fd.dev.major n
fd.dev.minor n
fd.ino n
fd.nameraw s
fd.types s L
fd.is_upper_layer b
fd.is_lower_layer b
fdlist.nums s
fdlist.names s
fdlist.cips s
fdlist.sips s
fdlist.cports s
fdlist.sports s
fs.path.name s
fs.path.nameraw s
fs.path.source s
fs.path.sourceraw s
fs.path.target s
fs.path.targetraw s
container.id s
container.full_id s
container.name s
container.image s
container.image.id s
container.type s
container.privileged b
container.mounts s
container.mount s K
container.mount.source s K
container.mount.dest s K
container.mount.mode s K
container.mount.rdwr s K
container.mount.propagation s K
container.image.repository s
container.image.tag s
container.image.digest s
container.healthcheck s
container.liveness_probe s
container.readiness_probe s
container.start_ts n
container.duration n
container.ip s
container.cni.json s
container.host_pid b
container.host_network b
container.host_ipc b
container.label s K
container.labels s
container.info s
k8s.pod.name s
k8s.pod.id s
k8s.pod.uid s
k8s.pod.sandbox_id s
k8s.pod.full_sandbox_id s
k8s.pod.label s K
k8s.pod.labels s
k8s.pod.ip s
k8s.pod.cni.json s
k8s.rc.name s
k8s.rc.id s
k8s.rc.label s K
k8s.rc.labels s
k8s.svc.name s
k8s.svc.id s
k8s.svc.label s K
k8s.svc.labels s
k8s.ns.name s
k8s.ns.id s
k8s.ns.label s K
k8s.ns.labels s
k8s.rs.name s
k8s.rs.id s
k8s.rs.label s K
k8s.rs.labels s
k8s.deployment.name s
k8s.deployment.id s
k8s.deployment.label s K
k8s.deployment.labels s
syslog.facility.str s
syslog.facility n
syslog.severity.str s
syslog.severity n
syslog.message s
span.id n
span.time s
span.ntags n
span.nargs n
span.tags s
span.tag s K
span.args s
span.arg s K
span.enterargs s
span.enterarg s K
span.duration n
span.duration.human s
";

fn parse_fields() -> Vec<FieldDef> {
    FIELDS
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let name = parts.next()?;
            let ty = match parts.next()? {
                "n" => FieldType::Num,
                "b" => FieldType::Bool,
                _ => FieldType::Str,
            };
            let flags = parts.next().unwrap_or("");
            let mut def = FieldDef::new(name.to_string(), ty);
            if flags.contains('L') {
                def = def.list();
            }
            let required = flags.contains('R');
            if flags.contains('I') {
                def = def.arg(ArgKind::Index, required);
            }
            if flags.contains('K') {
                def = def.arg(ArgKind::Key, required);
            }
            if flags.contains('D') {
                def = def.dot_arg();
            }
            Some(def)
        })
        .collect()
}

static REGISTRY: LazyLock<FieldRegistry> = LazyLock::new(|| {
    FieldRegistry::new(SYSCALL_SOURCE, parse_fields()).with_index_fields(["evt.type"])
});

/// The fields of the `syscall` source (names and types only: no event answers them yet).
pub fn syscall_registry() -> &'static FieldRegistry {
    &REGISTRY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_fields_resolve() {
        let r = syscall_registry();
        for f in [
            "proc.name",
            "fd.name",
            "evt.type",
            "container.image.repository",
        ] {
            assert!(r.resolve(f, None).is_ok(), "{f}");
        }
        assert!(r.resolve("proc.aname", Some("2")).is_ok());
        assert!(r.resolve("evt.arg.flags", None).is_ok());
        assert!(r.resolve("ka.verb", None).is_err());
    }
}

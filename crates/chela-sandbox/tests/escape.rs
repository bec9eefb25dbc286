//! The escape suite: real attempts to get out of the sandbox, each of which must fail.
//! Syscall probes are a small C program compiled with `cc` inside the sandbox.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chela_sandbox::{CommandSpec, ExitStatus, Limits, RunOutput, Sandbox, SandboxConfig};
use common::*;

const PROBE_C: &str = include_str!("probes/probe.c");

/// A workspace with the probe compiled into it, and its sandbox.
fn probe_env() -> (tempfile::TempDir, Sandbox) {
    let ws = workspace();
    std::fs::write(ws.path().join("probe.c"), PROBE_C).unwrap();
    let sb = sandbox(ws.path());
    let o = sh(&sb, "cc -O1 -w -o probe probe.c");
    assert_ok(&o);
    (ws, sb)
}

fn probe(sb: &Sandbox, args: &[&str]) -> RunOutput {
    let mut argv = vec!["/workspace/probe".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let mut spec = CommandSpec::new(argv);
    spec.timeout = Duration::from_secs(20);
    sb.run(&spec).expect("run probe")
}

fn expect_refused(sb: &Sandbox, args: &[&str]) {
    let o = probe(sb, args);
    assert_eq!(
        o.status,
        ExitStatus::Exited(0),
        "ESCAPE? {args:?}\nstdout: {}\nstderr: {}",
        out(&o),
        err(&o)
    );
    assert!(out(&o).contains("refused"), "{}", out(&o));
}

macro_rules! syscall_refused {
    ($($name:ident => $mode:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            if !unprivileged(stringify!($name)) {
                return;
            }
            let (_ws, sb) = probe_env();
            expect_refused(&sb, &[$mode]);
        }
    )*};
}

syscall_refused! {
    ptrace_attach_to_init_is_refused => "ptrace_attach_init",
    ptrace_traceme_is_refused => "ptrace_traceme",
    process_vm_readv_is_refused => "process_vm_readv",
    bpf_is_refused => "bpf",
    perf_event_open_is_refused => "perf_event_open",
    userfaultfd_is_refused => "userfaultfd",
    keyctl_is_refused => "keyctl",
    add_key_is_refused => "add_key",
    request_key_is_refused => "request_key",
    io_uring_is_refused => "io_uring_setup",
    mount_is_refused => "mount_tmpfs",
    umount_of_proc_is_refused => "umount_proc",
    pivot_root_is_refused => "pivot_root",
    fsopen_is_refused => "fsopen",
    open_tree_is_refused => "open_tree",
    move_mount_is_refused => "move_mount",
    unshare_user_ns_is_refused => "unshare_user",
    unshare_net_ns_is_refused => "unshare_net",
    unshare_mount_ns_is_refused => "unshare_mount",
    setns_into_init_net_is_refused => "setns_init_net",
    clone_new_user_ns_is_refused => "clone_newuser",
    clone_new_pid_ns_is_refused => "clone_newpid",
    clone_new_net_ns_is_refused => "clone_newnet",
    clone3_gets_enosys => "clone3",
    kexec_is_refused => "kexec_load",
    init_module_is_refused => "init_module",
    finit_module_is_refused => "finit_module",
    delete_module_is_refused => "delete_module",
    reboot_is_refused => "reboot",
    swapon_is_refused => "swapon",
    chroot_is_refused => "chroot",
    name_to_handle_at_is_refused => "name_to_handle_at",
    open_by_handle_at_is_refused => "open_by_handle_at",
    af_packet_socket_is_refused => "af_packet",
    raw_inet_socket_is_refused => "raw_inet",
    vsock_socket_is_refused => "vsock",
    tiocsti_is_refused => "tiocsti",
    syslog_is_refused => "syslog",
    iopl_is_refused => "iopl",
    setuid_root_is_refused => "setuid_root",
    sethostname_is_refused => "sethostname",
    mknod_of_dev_mem_is_refused => "mknod_mem",
    udp_to_public_dns_has_no_route => "udp_dns",
}

#[test]
fn x32_syscall_kills_the_process() {
    if !unprivileged("x32_syscall_kills_the_process") {
        return;
    }
    let (_ws, sb) = probe_env();
    let o = probe(&sb, &["x32_getpid"]);
    assert_eq!(o.status, ExitStatus::Signaled(libc::SIGSYS), "{}", out(&o));
}

#[test]
fn i386_syscall_kills_the_process() {
    if !unprivileged("i386_syscall_kills_the_process") {
        return;
    }
    let (_ws, sb) = probe_env();
    let o = probe(&sb, &["i386_getpid"]);
    assert_eq!(o.status, ExitStatus::Signaled(libc::SIGSYS), "{}", out(&o));
}

/// A directory outside the workspace holding `name` with `content` (the host's secrets).
fn host_secret(name: &str, content: &str) -> (tempfile::TempDir, String) {
    let d = tempfile::Builder::new()
        .prefix("chela-host-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = d.path().join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    (d, p.to_string_lossy().into_owned())
}

#[test]
fn cannot_read_ssh_keys() {
    if !unprivileged("cannot_read_ssh_keys") {
        return;
    }
    let (_home, key) = host_secret(
        ".ssh/id_ed25519",
        "-----BEGIN OPENSSH PRIVATE KEY----- hostkey",
    );
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        &format!("cat {key}; cat ~/.ssh/id_* /root/.ssh/* /home/*/.ssh/* 2>&1; ls -a / /home /root 2>&1; true"),
    );
    assert!(!out(&o).contains("hostkey"), "{}", out(&o));
    assert!(!err(&o).contains("hostkey"));
}

#[test]
fn cannot_read_chela_home() {
    if !unprivileged("cannot_read_chela_home") {
        return;
    }
    let (home, cfg) = host_secret("config.toml", "api_key = \"sk-chela-home-secret\"");
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        &format!(
            "cat {cfg}; ls {}; grep -rs sk-chela-home-secret / 2>/dev/null; true",
            home.path().display()
        ),
    );
    assert!(!out(&o).contains("sk-chela-home-secret"), "{}", out(&o));
}

#[test]
fn cannot_write_outside_the_workspace() {
    if !unprivileged("cannot_write_outside_the_workspace") {
        return;
    }
    let (host, _) = host_secret("keep", "x");
    let target = host.path().join("pwned");
    let ws = workspace();
    let sb = sandbox(ws.path());
    for path in [
        target.to_string_lossy().into_owned(),
        "/etc/pwned".into(),
        "/usr/pwned".into(),
        "/pwned".into(),
        "/dev/pwned".into(),
        "/proc/pwned".into(),
        "/etc/passwd".into(),
    ] {
        let o = sh(&sb, &format!("echo x > {path}"));
        assert_ne!(o.status, ExitStatus::Exited(0), "wrote {path}");
    }
    assert!(!target.exists());
}

#[test]
fn symlink_in_workspace_does_not_reach_host_files() {
    if !unprivileged("symlink_in_workspace_does_not_reach_host_files") {
        return;
    }
    let (_h, secret) = host_secret("s.txt", "symlinked-host-secret");
    let ws = workspace();
    std::os::unix::fs::symlink(&secret, ws.path().join("link")).unwrap();
    let sb = sandbox(ws.path());
    let o = sh(&sb, "cat link; true");
    assert!(!out(&o).contains("symlinked-host-secret"));
    assert!(err(&o).contains("No such file"), "{}", err(&o));
}

#[test]
fn proc_root_traversal_stays_inside() {
    if !unprivileged("proc_root_traversal_stays_inside") {
        return;
    }
    let (_h, secret) = host_secret("s.txt", "proc-root-host-secret");
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        &format!(
            "cat /proc/1/root{secret} /proc/self/root{secret} /proc/1/cwd{secret} /proc/self/root/../..{secret}; ls /proc/self/root/; ls /proc/1/root/ 2>&1; true"
        ),
    );
    assert!(!out(&o).contains("proc-root-host-secret"), "{}", out(&o));
    // /proc/self/root is the sandbox root; /proc/1/root (the run's init, which still holds
    // capabilities in the sandbox's user namespace) is not even readable.
    assert!(out(&o).contains("workspace"), "{}", out(&o));
    assert!(out(&o).contains("Permission denied"), "{}", out(&o));
}

#[test]
fn tcp_to_host_loopback_is_unreachable() {
    if !unprivileged("tcp_to_host_loopback_is_unreachable") {
        return;
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let (_ws, sb) = probe_env();
    expect_refused(&sb, &["tcp_connect", &port]);
    let o = sh(&sb, &format!("echo hi > /dev/tcp/127.0.0.1/{port} 2>&1; python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2)' 2>&1; true"));
    assert!(!out(&o).is_empty());
    assert!(
        l.accept().is_err(),
        "the host listener received a connection"
    );
}

#[test]
fn tcp_to_outside_addresses_has_no_route() {
    if !unprivileged("tcp_to_outside_addresses_has_no_route") {
        return;
    }
    let (_ws, sb) = probe_env();
    for ip in ["1.1.1.1", "10.0.0.1", "169.254.169.254"] {
        expect_refused(&sb, &["tcp_connect", "80", ip]);
    }
}

#[test]
fn abstract_unix_socket_on_host_is_unreachable() {
    if !unprivileged("abstract_unix_socket_on_host_is_unreachable") {
        return;
    }
    use std::os::linux::net::SocketAddrExt;
    let name = format!("chela-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let l = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    l.set_nonblocking(true).unwrap();
    let (_ws, sb) = probe_env();
    expect_refused(&sb, &["unix_abstract", &name]);
    assert!(l.accept().is_err());
}

#[test]
fn path_unix_socket_on_host_is_unreachable() {
    if !unprivileged("path_unix_socket_on_host_is_unreachable") {
        return;
    }
    let (d, _) = host_secret("x", "x");
    let p = d.path().join("host.sock");
    let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
    l.set_nonblocking(true).unwrap();
    let (_ws, sb) = probe_env();
    expect_refused(&sb, &["unix_path", &p.to_string_lossy()]);
    for sock in [
        "/run/dbus/system_bus_socket",
        "/var/run/docker.sock",
        "/run/systemd/private",
    ] {
        expect_refused(&sb, &["unix_path", sock]);
    }
    assert!(l.accept().is_err());
}

#[test]
fn dns_resolution_fails() {
    if !unprivileged("dns_resolution_fails") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(&sb, "getent hosts example.com");
    assert_ne!(o.status, ExitStatus::Exited(0), "{}", out(&o));
    let o = sh(
        &sb,
        "python3 -c 'import socket; socket.getaddrinfo(\"example.com\", 443)'",
    );
    assert_ne!(o.status, ExitStatus::Exited(0));
}

#[test]
fn host_processes_are_invisible() {
    if !unprivileged("host_processes_are_invisible") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let me = std::process::id();
    let o = sh(&sb, &format!("ls /proc | grep -cE '^[0-9]+$'; test -e /proc/{me} && echo VISIBLE; ps -e 2>/dev/null | wc -l"));
    let s = out(&o);
    let n: u32 = s
        .lines()
        .next()
        .unwrap_or("99")
        .trim()
        .parse()
        .unwrap_or(99);
    assert!(n <= 4, "sandbox sees {n} processes: {s}");
    assert!(!s.contains("VISIBLE"));
}

#[test]
fn cannot_signal_host_processes() {
    if !unprivileged("cannot_signal_host_processes") {
        return;
    }
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id().to_string();
    let (_ws, sb) = probe_env();
    expect_refused(&sb, &["kill_pid", &pid]);
    let o = sh(&sb, &format!("kill -9 {pid}; true"));
    let _ = o;
    assert!(
        child.try_wait().unwrap().is_none(),
        "host process was killed from the sandbox"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn cannot_read_other_processes_environment() {
    if !unprivileged("cannot_read_other_processes_environment") {
        return;
    }
    let mut child = Command::new("sleep")
        .arg("60")
        .env("SLEEPER_SECRET", "env-of-host-process-secret")
        .spawn()
        .unwrap();
    let pid = child.id();
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        &format!("cat /proc/{pid}/environ; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; true"),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out(&o).contains("env-of-host-process-secret"));
}

#[test]
fn concurrent_runs_cannot_see_each_other() {
    if !unprivileged("concurrent_runs_cannot_see_each_other") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    std::thread::scope(|s| {
        let sleeper = s.spawn(|| {
            let mut spec = CommandSpec::new(["sleep", "3"]);
            spec.env = vec![("RUN_A_SECRET".into(), "run-a-secret-value".into())];
            sb.run(&spec).unwrap()
        });
        std::thread::sleep(Duration::from_millis(500));
        let o = sh(
            &sb,
            "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; cat /proc/[0-9]*/comm",
        );
        assert!(!out(&o).contains("run-a-secret-value"));
        assert!(!out(&o).contains("sleep"), "{}", out(&o));
        sleeper.join().unwrap();
    });
}

#[test]
fn nested_namespaces_and_mount_commands_fail() {
    if !unprivileged("nested_namespaces_and_mount_commands_fail") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    for cmd in [
        "unshare -U true",
        "unshare -Urm true",
        "unshare -n true",
        "mount -t tmpfs none /tmp",
        "umount /workspace",
        "chroot / true",
        "nsenter -t 1 -m true",
    ] {
        let o = sh(&sb, cmd);
        assert_ne!(o.status, ExitStatus::Exited(0), "`{cmd}` succeeded");
        // the tool exists (util-linux/coreutils) and really tried: not "command not found"
        assert_ne!(o.status, ExitStatus::Exited(127), "`{cmd}`: {}", err(&o));
    }
}

/// Host processes whose command line contains `marker`.
fn survivors(marker: &str) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(e.path().join("cmdline")) {
            let _ = f.read_to_string(&mut s);
        }
        if s.contains(marker) {
            v.push(format!(
                "{}: {}",
                e.file_name().to_string_lossy(),
                s.replace('\0', " ")
            ));
        }
    }
    v
}

#[test]
fn fork_bomb_is_contained_and_cleaned_up() {
    if !unprivileged("fork_bomb_is_contained_and_cleaned_up") {
        return;
    }
    let ws = workspace();
    let mut cfg = SandboxConfig::new(ws.path());
    cfg.limits = Limits {
        max_processes: 64,
        ..Limits::default()
    };
    let sb = Sandbox::new(cfg).unwrap();
    let marker = format!("bomb{}", std::process::id());
    std::fs::write(
        ws.path().join(format!("{marker}.sh")),
        "b(){ b | b & }; b; sleep 30\n",
    )
    .unwrap();
    let mut spec = CommandSpec::new(["sh", &format!("{marker}.sh")]);
    spec.timeout = Duration::from_secs(3);
    let t = Instant::now();
    let o = sb.run(&spec).unwrap();
    assert!(t.elapsed() < Duration::from_secs(15));
    assert!(
        matches!(o.status, ExitStatus::TimedOut | ExitStatus::Exited(_)),
        "{:?}",
        o.status
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(survivors(&marker), Vec::<String>::new());
    assert_ok(&sh(&sb, "echo still usable"));
}

#[test]
fn memory_bomb_is_refused() {
    if !unprivileged("memory_bomb_is_refused") {
        return;
    }
    let ws = workspace();
    let mut cfg = SandboxConfig::new(ws.path());
    cfg.limits = Limits {
        address_space_bytes: 1 << 30,
        ..Limits::default()
    };
    let sb = Sandbox::new(cfg).unwrap();
    let o = sh(
        &sb,
        "python3 -c 'x = bytearray(3 << 30); print(\"allocated\")'",
    );
    assert_ne!(o.status, ExitStatus::Exited(0));
    assert!(!out(&o).contains("allocated"));
    assert!(err(&o).contains("MemoryError"), "{}", err(&o));
}

#[test]
fn setsid_daemon_dies_with_the_timeout() {
    if !unprivileged("setsid_daemon_dies_with_the_timeout") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let marker = format!("1000.{}1", std::process::id());
    let mut spec = CommandSpec::new([
        "sh",
        "-c",
        &format!(
            "setsid sh -c 'sleep {marker}' & nohup sleep {marker} >/dev/null 2>&1 & sleep 100"
        ),
    ]);
    spec.timeout = Duration::from_millis(800);
    let o = sb.run(&spec).unwrap();
    assert_eq!(o.status, ExitStatus::TimedOut);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(survivors(&marker), Vec::<String>::new());
}

#[test]
fn daemon_does_not_outlive_a_normal_exit() {
    if !unprivileged("daemon_does_not_outlive_a_normal_exit") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let marker = format!("999.{}2", std::process::id());
    let o = sh(
        &sb,
        &format!("(setsid sleep {marker} >/dev/null 2>&1 &); exit 0"),
    );
    assert_ok(&o);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(survivors(&marker), Vec::<String>::new());
}

#[test]
fn host_environment_does_not_leak() {
    if !unprivileged("host_environment_does_not_leak") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(&sb, "env");
    let s = out(&o);
    assert!(!s.contains(HOST_SECRET), "{s}");
    assert!(!s.contains(HOST_SECRET_VAR), "{s}");
    assert!(!s.contains("CARGO"), "{s}");
    for line in s.lines() {
        let k = line.split('=').next().unwrap_or_default();
        assert!(
            [
                "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "PWD",
                "SHLVL", "_"
            ]
            .contains(&k),
            "unexpected variable {line}"
        );
    }
}

#[test]
fn no_capabilities_no_new_privs_seccomp_on() {
    if !unprivileged("no_capabilities_no_new_privs_seccomp_on") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status",
    );
    let s = out(&o);
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(s.contains(&format!("{cap}:\t0000000000000000")), "{s}");
    }
    assert!(s.contains("NoNewPrivs:\t1"), "{s}");
    assert!(s.contains("Seccomp:\t2"), "{s}");
    // a setuid-root binary gains nothing
    let o = sh(&sb, "su -c id root </dev/null 2>&1; true");
    assert!(!out(&o).contains("uid=0"), "{}", out(&o));
}

#[test]
fn kernel_interfaces_are_absent_or_read_only() {
    if !unprivileged("kernel_interfaces_are_absent_or_read_only") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(&sb, "ls /sys 2>&1; ls /dev | tr '\\n' ' '");
    let s = out(&o);
    assert!(s.contains("No such file"), "{s}");
    for dev in ["sda", "vda", "mem", "kmsg", "kvm", "fuse", "net"] {
        assert!(
            !s.split_whitespace().any(|w| w == dev),
            "/dev/{dev} visible: {s}"
        );
    }
    for cmd in [
        "echo 1 > /proc/sys/kernel/sysrq",
        "dmesg",
        "cat /proc/kmsg",
        "echo c > /proc/sysrq-trigger",
    ] {
        let o = sh(&sb, cmd);
        assert_ne!(o.status, ExitStatus::Exited(0), "`{cmd}` succeeded");
    }
}

#[test]
fn host_tmp_is_not_shared() {
    if !unprivileged("host_tmp_is_not_shared") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let name = format!("chela-tmp-probe-{}", std::process::id());
    let o = sh(&sb, &format!("echo inside > /tmp/{name}; ls /tmp"));
    assert_ok(&o);
    assert!(!Path::new("/tmp").join(&name).exists());
    let host_file = tempfile::NamedTempFile::new().unwrap();
    let o = sh(&sb, &format!("ls {}", host_file.path().display()));
    assert_ne!(o.status, ExitStatus::Exited(0));
}

/// Not a test on its own: runs `sleep <marker>` through `run_cli` when asked to by
/// `runs_die_when_their_caller_dies` (which then kills this process).
#[test]
fn helper_sleep_until_killed() {
    let Ok(marker) = std::env::var("CHELA_TEST_SLEEP_MARKER") else {
        return;
    };
    let ws = std::env::var("CHELA_TEST_WS").unwrap();
    chela_sandbox::run_cli(
        Path::new(&ws),
        Duration::from_secs(600),
        vec![],
        vec!["sleep".into(), marker],
    );
}

#[test]
fn runs_die_when_their_caller_dies() {
    if !unprivileged("runs_die_when_their_caller_dies") {
        return;
    }
    for cold in [false, true] {
        let ws = workspace();
        let marker = format!("777.{}{}", std::process::id(), cold as u8);
        let mut cmd = Command::new(exe_copy());
        cmd.args(["helper_sleep_until_killed", "--exact", "--test-threads=1"])
            .env("CHELA_TEST_SLEEP_MARKER", &marker)
            .env("CHELA_TEST_WS", ws.path());
        if cold {
            cmd.env("CHELA_SANDBOX_COLD", "1");
        }
        let mut child = cmd.spawn().unwrap();
        let t = Instant::now();
        while survivors(&marker).is_empty() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !survivors(&marker).is_empty(),
            "the sandboxed sleep never started"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let t = Instant::now();
        while !survivors(&marker).is_empty() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(survivors(&marker), Vec::<String>::new(), "cold={cold}");
    }
}

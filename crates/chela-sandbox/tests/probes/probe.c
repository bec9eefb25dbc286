/* Escape-attempt probe for the chela-sandbox escape suite.
 * Usage: probe MODE [ARG]. Exit 0 when the attempt was refused, 1 when it SUCCEEDED (an
 * escape), 2 on a usage error. Modes marked "killed" expect the process to die of SIGSYS. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int refused(const char *what, long r) {
    if (r == -1) {
        printf("%s: refused errno=%d (%s)\n", what, errno, strerror(errno));
        return 0;
    }
    printf("%s: SUCCEEDED r=%ld\n", what, r);
    return 1;
}

/* refused specifically by the seccomp filter (EPERM), not by a later kernel check */
static int filtered(const char *what, long r, int want) {
    if (r == -1 && errno == want) {
        printf("%s: refused by filter errno=%d (%s)\n", what, errno, strerror(errno));
        return 0;
    }
    printf("%s: NOT refused by the filter r=%ld errno=%d\n", what, r, errno);
    return 1;
}

static long raw_clone(unsigned long flags) {
    long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, 0, 0);
    return r;
}

static int connect_to(const char *what, int fam, struct sockaddr *a, socklen_t l, int type) {
    int s = socket(fam, type, 0);
    if (s < 0) return refused(what, -1);
    return refused(what, connect(s, a, l));
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *m = argv[1];
    const char *arg = argc > 2 ? argv[2] : "";
    char buf[256] = {0};
    if (!strcmp(m, "ptrace_attach_init")) return filtered(m, ptrace(PTRACE_ATTACH, 1, 0, 0), EPERM);
    if (!strcmp(m, "ptrace_traceme")) return filtered(m, ptrace(PTRACE_TRACEME, 0, 0, 0), EPERM);
    if (!strcmp(m, "process_vm_readv")) {
        struct iovec l = {buf, 8}, r = {(void *)main, 8};
        return filtered(m, process_vm_readv(1, &l, 1, &r, 1, 0), EPERM);
    }
    if (!strcmp(m, "bpf")) return filtered(m, syscall(SYS_bpf, 0, buf, 48), EPERM);
    if (!strcmp(m, "perf_event_open")) {
        unsigned int attr[32] = {0};
        attr[1] = sizeof attr;
        return filtered(m, syscall(SYS_perf_event_open, attr, 0, -1, -1, 0), EPERM);
    }
    if (!strcmp(m, "userfaultfd")) return filtered(m, syscall(SYS_userfaultfd, 0), EPERM);
    if (!strcmp(m, "keyctl")) return filtered(m, syscall(SYS_keyctl, 0, -3, 0), EPERM);
    if (!strcmp(m, "add_key")) return filtered(m, syscall(SYS_add_key, "user", "k", "v", 1, -3), EPERM);
    if (!strcmp(m, "request_key")) return filtered(m, syscall(SYS_request_key, "user", "k", 0, 0), EPERM);
    if (!strcmp(m, "io_uring_setup")) {
        char params[120] = {0};
        return filtered(m, syscall(SYS_io_uring_setup, 8, params), EPERM);
    }
    if (!strcmp(m, "mount_tmpfs")) return filtered(m, mount("none", "/tmp", "tmpfs", 0, 0), EPERM);
    if (!strcmp(m, "umount_proc")) return filtered(m, umount2("/proc", MNT_DETACH), EPERM);
    if (!strcmp(m, "pivot_root")) return filtered(m, syscall(SYS_pivot_root, "/tmp", "/tmp"), EPERM);
    if (!strcmp(m, "fsopen")) return filtered(m, syscall(SYS_fsopen, "tmpfs", 0), EPERM);
    if (!strcmp(m, "open_tree")) return filtered(m, syscall(SYS_open_tree, AT_FDCWD, "/", 1), EPERM);
    if (!strcmp(m, "move_mount")) return filtered(m, syscall(SYS_move_mount, -1, "", AT_FDCWD, "/tmp", 0), EPERM);
    if (!strcmp(m, "unshare_user")) return filtered(m, unshare(CLONE_NEWUSER), EPERM);
    if (!strcmp(m, "unshare_net")) return filtered(m, unshare(CLONE_NEWNET), EPERM);
    if (!strcmp(m, "unshare_mount")) return filtered(m, unshare(CLONE_NEWNS), EPERM);
    if (!strcmp(m, "setns_init_net")) {
        int fd = open("/proc/1/ns/net", O_RDONLY);
        if (fd < 0) return refused(m, -1);
        return filtered(m, setns(fd, 0), EPERM);
    }
    if (!strcmp(m, "clone_newuser")) return filtered(m, raw_clone(CLONE_NEWUSER), EPERM);
    if (!strcmp(m, "clone_newpid")) return filtered(m, raw_clone(CLONE_NEWPID), EPERM);
    if (!strcmp(m, "clone_newnet")) return filtered(m, raw_clone(CLONE_NEWNET), EPERM);
    if (!strcmp(m, "clone3")) {
        char args[88] = {0};
        return filtered(m, syscall(SYS_clone3, args, sizeof args), ENOSYS);
    }
    if (!strcmp(m, "kexec_load")) return filtered(m, syscall(SYS_kexec_load, 0, 0, 0, 0), EPERM);
    if (!strcmp(m, "init_module")) return filtered(m, syscall(SYS_init_module, buf, 0, ""), EPERM);
    if (!strcmp(m, "finit_module")) return filtered(m, syscall(SYS_finit_module, 0, "", 0), EPERM);
    if (!strcmp(m, "delete_module")) return filtered(m, syscall(SYS_delete_module, "ext4", 0), EPERM);
    if (!strcmp(m, "reboot")) return filtered(m, syscall(SYS_reboot, 0xfee1dead, 672274793, 0, 0), EPERM);
    if (!strcmp(m, "swapon")) return filtered(m, syscall(SYS_swapon, "/tmp/swap", 0), EPERM);
    if (!strcmp(m, "chroot")) return filtered(m, chroot("/tmp"), EPERM);
    if (!strcmp(m, "name_to_handle_at")) {
        int mid;
        unsigned int fh[34] = {128};
        return filtered(m, syscall(SYS_name_to_handle_at, AT_FDCWD, "/", fh, &mid, 0), EPERM);
    }
    if (!strcmp(m, "open_by_handle_at")) {
        unsigned int fh[34] = {8, 1};
        return filtered(m, syscall(SYS_open_by_handle_at, AT_FDCWD, fh, O_RDONLY), EPERM);
    }
    if (!strcmp(m, "af_packet")) return filtered(m, socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)), EAFNOSUPPORT);
    if (!strcmp(m, "raw_inet")) return filtered(m, socket(AF_INET, SOCK_RAW, 1), EPERM);
    if (!strcmp(m, "vsock")) return filtered(m, socket(40, SOCK_STREAM, 0), EAFNOSUPPORT);
    if (!strcmp(m, "tiocsti")) {
        char c = 'x';
        return filtered(m, ioctl(0, TIOCSTI, &c), EPERM);
    }
    if (!strcmp(m, "syslog")) return filtered(m, syscall(SYS_syslog, 3, buf, sizeof buf), EPERM);
    if (!strcmp(m, "iopl")) return filtered(m, syscall(SYS_iopl, 3), EPERM);
    if (!strcmp(m, "x32_getpid")) { /* killed */
        long r = syscall(0x40000000 | 39);
        printf("x32 syscall returned %ld\n", r);
        return 1;
    }
    if (!strcmp(m, "i386_getpid")) { /* killed */
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
        printf("int 0x80 returned %ld\n", r);
        return 1;
    }
    if (!strcmp(m, "setuid_root")) return refused(m, setuid(0));
    if (!strcmp(m, "sethostname")) return refused(m, sethostname("evil", 4));
    if (!strcmp(m, "mknod_mem")) return refused(m, mknod("/tmp/mem", S_IFCHR | 0666, makedev(1, 1)));
    if (!strcmp(m, "tcp_connect")) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(arg))};
        inet_pton(AF_INET, argc > 3 ? argv[3] : "127.0.0.1", &a.sin_addr);
        return connect_to(m, AF_INET, (struct sockaddr *)&a, sizeof a, SOCK_STREAM);
    }
    if (!strcmp(m, "udp_dns")) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
        inet_pton(AF_INET, "8.8.8.8", &a.sin_addr);
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        return refused(m, sendto(s, "q", 1, 0, (struct sockaddr *)&a, sizeof a));
    }
    if (!strcmp(m, "unix_abstract")) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t n = strlen(arg);
        memcpy(a.sun_path + 1, arg, n);
        return connect_to(m, AF_UNIX, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + 1 + n, SOCK_STREAM);
    }
    if (!strcmp(m, "unix_path")) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, arg, sizeof a.sun_path - 1);
        return connect_to(m, AF_UNIX, (struct sockaddr *)&a, sizeof a, SOCK_STREAM);
    }
    if (!strcmp(m, "kill_pid")) return refused(m, kill(atoi(arg), SIGKILL));
    printf("unknown mode %s\n", m);
    return 2;
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A static C program that tries, from inside a process or container sandbox, what a shell cannot: ptrace
 * and signals at the server, mounts, setuid, namespaces, raw sockets, device nodes, the host's unix
 * sockets, the control-plane port and a listener on the host's own address. It prints one JSON object,
 * `{"<check>": "denied:<errno or reason>" | "ESCAPED:<detail>", ...}`.
 *
 * Usage: `probe <serverPid> <controlPort> <dataDir> <dbPath> <hostIp> <hostPort>`.
 */
const PROBE_SOURCE = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

static int first = 1;
static void report(const char *check, int ok, const char *detail) {
  printf("%s\"%s\":\"%s:%s\"", first ? "{" : ",", check, ok ? "ESCAPED" : "denied", detail);
  first = 0;
}
static const char *err(void) { static char buf[64]; snprintf(buf, sizeof buf, "%s", strerrorname_np(errno) ? strerrorname_np(errno) : "E?"); return buf; }
static void result(const char *check, int rc) { if (rc == 0) report(check, 1, "succeeded"); else report(check, 0, err()); }

static int tcp(const char *ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, ip, &a.sin_addr);
  int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
  int saved = errno; close(fd); errno = saved;
  return rc;
}

static char sockets_reached[2048];
static int unix_sockets_tried = 0;
static void try_unix_sockets(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (d == NULL || depth > 4) { if (d) closedir(d); return; }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char p[1024]; snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) { try_unix_sockets(p, depth + 1); continue; }
    if (!S_ISSOCK(st.st_mode)) continue;
    unix_sockets_tried++;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", p);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && strlen(sockets_reached) + strlen(p) + 2 < sizeof sockets_reached) {
      strcat(sockets_reached, p); strcat(sockets_reached, " ");
    }
    close(fd);
  }
  closedir(d);
}

int main(int argc, char **argv) {
  if (argc < 7) { fprintf(stderr, "usage\n"); return 2; }
  int server = atoi(argv[1]), port = atoi(argv[2]), host_port = atoi(argv[6]);
  const char *data_dir = argv[3], *db = argv[4], *host_ip = argv[5];
  char p[512];

  result("ptrace_attach_server", (int)ptrace(PTRACE_ATTACH, server, 0, 0));
  result("signal_server", kill(server, 0));
  snprintf(p, sizeof p, "/proc/%d/environ", server);
  { int fd = open(p, O_RDONLY); result("read_server_environ", fd >= 0 ? 0 : -1); if (fd >= 0) close(fd); }
  snprintf(p, sizeof p, "/proc/%d/ns/net", server);
  { int fd = open(p, O_RDONLY); int rc = fd >= 0 ? setns(fd, 0) : -1; result("setns_server_net", rc); }
  { int fd = open(db, O_RDONLY); result("open_sqlite_file", fd >= 0 ? 0 : -1); if (fd >= 0) close(fd); }
  {
    DIR *d = opendir(data_dir); int entries = 0; struct dirent *e;
    if (d) { while ((e = readdir(d)) != NULL) if (e->d_name[0] != '.') entries++; closedir(d); }
    if (d && entries > 0) report("list_data_dir", 1, "entries visible"); else report("list_data_dir", 0, d ? "empty" : err());
  }
  result("connect_control_plane", tcp("127.0.0.1", port));
  result("connect_host_listener", tcp(host_ip, host_port));
  result("setuid_root", setuid(0));
  result("setgid_root", setgid(0));
  mkdir("/tmp/probe-mnt", 0755);
  result("mount_tmpfs", mount("none", "/tmp/probe-mnt", "tmpfs", 0, ""));
  result("remount_root_rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
  result("chroot", chroot("/tmp"));
  result("unshare_mount_ns", unshare(CLONE_NEWNS));
  { int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP); result("raw_socket", fd >= 0 ? 0 : -1); if (fd >= 0) close(fd); }
  result("mknod_mem", mknod("/tmp/probe-mem", S_IFCHR | 0600, makedev(1, 1)));
  { int fd = open("/proc/sysrq-trigger", O_WRONLY); result("write_sysrq_trigger", fd >= 0 ? 0 : -1); if (fd >= 0) close(fd); }
  { int fd = open("/proc/sys/kernel/core_pattern", O_WRONLY); result("write_core_pattern", fd >= 0 ? 0 : -1); if (fd >= 0) close(fd); }
  { int fd = open("/etc/strato-probe", O_WRONLY | O_CREAT, 0644); result("write_host_etc", fd >= 0 ? 0 : -1); if (fd >= 0) close(fd); }
  {
    const char *procs[] = { "/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/unified/cgroup.procs", "/sys/fs/cgroup/memory/cgroup.procs", "/sys/fs/cgroup/pids/cgroup.procs" };
    int opened = 0;
    for (unsigned i = 0; i < sizeof procs / sizeof *procs; i++) { int fd = open(procs[i], O_WRONLY); if (fd >= 0) { opened = 1; close(fd); } }
    if (opened) report("join_root_cgroup", 1, "a root cgroup.procs is writable"); else report("join_root_cgroup", 0, err());
  }
  try_unix_sockets("/run", 0);
  try_unix_sockets("/var/run", 0);
  if (sockets_reached[0] != 0) report("connect_host_unix_sockets", 1, sockets_reached);
  else { char d[32]; snprintf(d, sizeof d, "%d tried", unix_sockets_tried); report("connect_host_unix_sockets", 0, d); }
  printf("}\n");
  return 0;
}
`;

let compiled: Buffer | undefined;

/** The probe, compiled statically once per test process (it runs in a busybox image too). */
export function syscallProbeBinary(): Buffer {
  compiled ??= compileStatic(PROBE_SOURCE);
  return compiled;
}

/** A static binary of C `source` (gcc -static), so that it runs in any image. */
export function compileStatic(source: string): Buffer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-probe-src-'));
  try {
    writeFileSync(path.join(dir, 'probe.c'), source);
    execFileSync('gcc', ['-static', '-O1', '-o', path.join(dir, 'probe'), path.join(dir, 'probe.c')]);
    return readFileSync(path.join(dir, 'probe'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Checks the probe must report denied on every sandboxing tier. */
export const SYSCALL_CHECKS = [
  'ptrace_attach_server',
  'signal_server',
  'read_server_environ',
  'setns_server_net',
  'open_sqlite_file',
  'list_data_dir',
  'connect_control_plane',
  'connect_host_listener',
  'setuid_root',
  'setgid_root',
  'mount_tmpfs',
  'remount_root_rw',
  'chroot',
  'unshare_mount_ns',
  'raw_socket',
  'mknod_mem',
  'write_sysrq_trigger',
  'write_core_pattern',
  'write_host_etc',
  'join_root_cgroup',
  'connect_host_unix_sockets',
] as const;

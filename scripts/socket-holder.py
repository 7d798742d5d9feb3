#!/usr/bin/env python3
"""Hold orderd's listening socket and run orderd on it, the way systemd socket activation does, so that
a restart fails no request: connections wait in the socket's backlog while processes change.

  scripts/socket-holder.py --socket PATH [--mode 0660] [--group G] [--backlog 1024] -- COMMAND [ARG...]

The socket is created once (a stale socket file is replaced, any other file is refused) and passed to
COMMAND as fd 3 with LISTEN_FDS=1, LISTEN_FDNAMES=orderd and LISTEN_PID set to COMMAND's own pid, plus a
NOTIFY_SOCKET on which COMMAND reports READY=1, like under systemd.

Signals to the holder:
  SIGUSR2         restart: start a new COMMAND on the same socket, wait until it reports READY=1
                  (both accept meanwhile), then SIGTERM the old one, which drains and exits.
  SIGHUP          forwarded to COMMAND (orderd re-reads its INI file).
  SIGTERM/SIGINT  forwarded to COMMAND; the holder waits for it and exits with its status.
COMMAND exiting on its own: status 0 ends the holder; anything else is restarted after 1 s (like
Restart=on-failure). The holder prints `holder: ...` lines on stderr; COMMAND's output is its own.
"""
import argparse
import grp
import os
import signal
import socket
import stat
import sys
import time

def say(text):
    print(f"holder: {text}", file=sys.stderr, flush=True)

def make_listener(path, mode, group, backlog):
    try:
        info = os.lstat(path)
        if not stat.S_ISSOCK(info.st_mode):
            sys.exit(f"holder: {path} exists and is not a socket; refusing to replace it")
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~mode)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, mode)
    if group:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    listener.listen(backlog)
    return listener

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--mode", default="0660")
    parser.add_argument("--group", default="")
    parser.add_argument("--backlog", type=int, default=1024)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND after --")
    # Processes started by some runners inherit blocked signals; the holder needs them.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR2, signal.SIGCHLD})

    listener = make_listener(args.socket, int(args.mode, 8), args.group, args.backlog)
    notify_path = f"{args.socket}.notify"
    try:
        os.unlink(notify_path)
    except FileNotFoundError:
        pass
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.setblocking(False)

    def spawn():
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(listener.fileno(), 3)  # dup2 leaves fd 3 inheritable
                os.set_inheritable(3, True)
                env = dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="orderd", LISTEN_PID=str(os.getpid()),
                           NOTIFY_SOCKET=notify_path)
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                os.execvpe(command[0], command, env)
            except Exception as error:  # exec failed
                print(f"holder: cannot run {command[0]}: {error}", file=sys.stderr, flush=True)
            os._exit(127)
        say(f"started {command[0]} (pid {pid})")
        return pid

    def ready_pids():
        pids = set()
        while True:
            try:
                data, _ = notify.recvfrom(4096)
            except BlockingIOError:
                return pids
            text = data.decode(errors="replace")
            main_pid = next((line.split("=", 1)[1] for line in text.splitlines() if line.startswith("MAINPID=")), None)
            if "READY=1" in text.splitlines() and main_pid:
                pids.add(int(main_pid))

    pending = []
    signal.signal(signal.SIGCHLD, lambda *_: None)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR2):
        signal.signal(number, lambda n, _frame: pending.append(n))

    current = spawn()
    replacing = None    # new pid during a restart, until it is ready
    retiring = set()    # old pids that were sent SIGTERM
    stopping = False
    exit_status = 0
    while True:
        while pending:
            number = pending.pop(0)
            if number in (signal.SIGTERM, signal.SIGINT):
                stopping = True
                for pid in [current, replacing, *retiring]:
                    if pid:
                        os.kill(pid, signal.SIGTERM)
            elif number == signal.SIGHUP and current:
                os.kill(current, signal.SIGHUP)
            elif number == signal.SIGUSR2 and current and not replacing and not stopping:
                say(f"restart: starting a new process beside pid {current}")
                replacing = spawn()
        if replacing:
            if replacing in ready_pids():
                say(f"restart: pid {replacing} is ready; stopping pid {current}")
                os.kill(current, signal.SIGTERM)
                retiring.add(current)
                current, replacing = replacing, None
        else:
            ready_pids()  # drain READY/STATUS datagrams
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid, status = 0, 0
        if pid:
            code = os.waitstatus_to_exitcode(status)
            if pid in retiring:
                retiring.discard(pid)
                say(f"pid {pid} exited ({code}) after its restart")
            elif pid == replacing:
                say(f"restart failed: the new process exited ({code}) before it was ready; pid {current} keeps serving")
                replacing = None
            elif pid == current:
                if stopping:
                    exit_status = code
                    current = None
                elif code == 0:
                    say(f"pid {pid} exited (0)")
                    current = None
                    stopping = True
                else:
                    say(f"pid {pid} exited ({code}); restarting in 1 s")
                    time.sleep(1)
                    current = spawn()
        if stopping and not current and not replacing and not retiring:
            break
        time.sleep(0.02)
    os.unlink(args.socket)
    os.unlink(notify_path)
    sys.exit(exit_status if exit_status >= 0 else 128 - exit_status)

if __name__ == "__main__":
    main()

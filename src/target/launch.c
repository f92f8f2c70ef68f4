/* SPDX-License-Identifier: MIT */
/* Starting a command as pytrace's traced child, ending it, and breakpoints in
 * it: the one launcher `stacks` and `flow` share. */
#include "error.h"
#include "target/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The launched command is pytrace's child
 * ---------------------------------------
 * As with strace, the command lives inside pytrace's lifetime: pytrace
 * waits for it and exits with its status; signals pytrace gets are passed
 * on to it (pt_launch_shutdown), and what does not end within the grace
 * period is killed. pytrace never exits leaving it running.
 *
 * What pytrace's death does
 * -------------------------
 * If pytrace is SIGKILLed (or crashes) the command is SIGKILLed too, at
 * every instant:
 *   - between fork and the child's prctl: the child checks getppid() right
 *     after PR_SET_PDEATHSIG and kills itself if pytrace is already gone;
 *   - from then on PR_SET_PDEATHSIG(SIGKILL) holds, across exec (but for a
 *     set-user-ID or file-capability program), traced or not: it is what
 *     ends a command that `flow` no longer traces;
 *   - while it is traced, PTRACE_O_EXITKILL also sends SIGKILL before the
 *     kernel would let it run again: so a breakpoint still planted, a step
 *     under way or a thread sent into injected code never runs on without
 *     its tracer (which is what killed it with SIGTRAP or SIGSEGV before).
 * Both are sent by the kernel from pytrace's exit, so no window is left
 * where the command runs on alone or dies of anything but SIGKILL.
 */

enum { STAGE_EXEC = 0, STAGE_FILTER = 1 };

/* --- the child, between fork and exec: async-signal-safe calls only ------- */

static void child_report(int fd, int stage, int e)
{
	int msg[2] = { stage, e };

	(void)!write(fd, msg, sizeof(msg));
}

/* The filter is for tracing, not confinement: SPEC_ALLOW keeps the kernel
 * from switching on speculative-store-bypass mitigation for the command
 * (which slows it down on CPUs where that mitigation is per task). Without
 * CAP_SYS_ADMIN the kernel wants no_new_privs first; with it we leave the
 * command's privileges alone. */
static int child_install_filter(const struct sock_fprog *prog)
{
	unsigned flags = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
	bool nnp = false;

	for (;;) {
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog) == 0)
			return 0;
		if (errno == EINVAL && flags) {
			flags = 0;  /* before Linux 4.17 */
		} else if (errno == EACCES && !nnp) {
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
				return -1;
			nnp = true;
		} else {
			return -1;
		}
	}
}

static _Noreturn void child_run(const struct pt_launch_opts *opts, const char *path,
				char *const argv[], pid_t parent, int report_fd)
{
	sigset_t none;

	/* pytrace ignores SIGPIPE and handles the others; the command gets
	 * the defaults and blocks nothing. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Dies with pytrace; if pytrace died before this line, now. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		kill(getpid(), SIGKILL);
	/* Wait here until the parent has seized us. */
	raise(SIGSTOP);
	if (opts->filter && child_install_filter(opts->filter) < 0) {
		child_report(report_fd, STAGE_FILTER, errno);
		_exit(126);
	}
	if (opts->search_path)
		execvp(path, argv);
	else
		execv(path, argv);
	int e = errno;
	child_report(report_fd, STAGE_EXEC, e);
	_exit(e == ENOENT ? 127 : 126);
}

/* --- starting ----------------------------------------------------------------- */

int pt_launch_spawn(const struct pt_launch_opts *opts, const char *path, char *const argv[],
		    struct pt_launch *l, struct pt_error *err)
{
	pid_t parent = getpid();
	int pfd[2], status, rc;

	memset(l, 0, sizeof(*l));
	l->pid = -1;
	l->status = -1;
	l->exec_fd = -1;
	snprintf(l->path, sizeof(l->path), "%s", path);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return pt_error_set(err, PT_E_INTERNAL, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		rc = pt_error_set(err, PT_E_INTERNAL, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	if (pid == 0)
		child_run(opts, path, argv, parent, pfd[1]);
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	l->exec_fd = pfd[0];
	l->pid = pid;

	while (waitpid(pid, &status, WUNTRACED) < 0) {
		if (errno != EINTR) {
			rc = pt_error_set(err, PT_E_INTERNAL, "waitpid: %s", strerror(errno));
			goto fail_kill;
		}
	}
	if (!WIFSTOPPED(status)) {
		l->status = status;
		pt_launch_close(l);
		return pt_error_set(err, PT_E_INTERNAL, "the child died before it could be traced");
	}
	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(opts->ptrace_options | PTRACE_O_EXITKILL)) < 0) {
		int e = errno;
		rc = pt_error_set(err, e == EPERM ? PT_E_PERM : PT_E_INTERNAL,
				  "cannot trace the command (PTRACE_SEIZE: %s)%s", strerror(e),
				  e == EPERM ? "; is ptrace forbidden here (container seccomp "
					       "policy, Yama ptrace_scope 3)?" : "");
		goto fail_kill;
	}
	l->traced = true;
	kill(pid, SIGCONT);
	return 0;

fail_kill:
	kill(pid, SIGKILL);
	for (pid_t r; (r = waitpid(pid, &status, __WALL)) != pid;)
		if (r < 0 && errno != EINTR) {
			status = -1;
			break;
		}
	l->status = status;
	pt_launch_close(l);
	return rc;
}

void pt_launch_close(struct pt_launch *l)
{
	if (l->exec_fd >= 0)
		close(l->exec_fd);
	l->exec_fd = -1;
}

int pt_launch_exec_error(struct pt_launch *l, struct pt_error *err)
{
	int msg[2];

	if (l->exec_fd < 0 || read(l->exec_fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg) || !msg[1])
		return 0;
	if (msg[0] == STAGE_FILTER)
		return pt_error_set(err, 126, "cannot install the seccomp filter for %s: %s", l->path,
				    strerror(msg[1]));
	return pt_error_set(err, msg[1] == ENOENT ? 127 : 126, "cannot execute %s: %s", l->path,
			    strerror(msg[1]));
}

/* --- ending ---------------------------------------------------------------------- */

static long ms_since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - a->tv_sec) * 1000 + (now.tv_nsec - a->tv_nsec) / 1000000;
}

void pt_launch_shutdown(struct pt_launch *l, int sig, bool forward, unsigned grace_ms)
{
	if (l->killed)
		return;
	if (l->shutting_down) {
		/* A second interrupt: the grace period ends now. */
		l->deadline = (struct timespec){ 0, 0 };
		return;
	}
	if (l->status == -1 && l->pid > 0) {
		kill(l->pid, SIGCONT);
		if (forward)
			kill(l->pid, sig ? sig : SIGTERM);
	}
	l->signal = sig;
	l->shutting_down = true;
	clock_gettime(CLOCK_MONOTONIC, &l->deadline);
	l->deadline.tv_sec += grace_ms / 1000;
	l->deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000;
	if (l->deadline.tv_nsec >= 1000000000) {
		l->deadline.tv_sec++;
		l->deadline.tv_nsec -= 1000000000;
	}
}

bool pt_launch_grace_over(const struct pt_launch *l)
{
	return l->shutting_down && ms_since(&l->deadline) >= 0;
}

void pt_launch_kill(struct pt_launch *l)
{
	if (l->status != -1 || l->pid <= 0)
		return;
	kill(l->pid, SIGKILL);
	l->killed = true;
}

/* The caller's interrupt flag, then the grace period. */
static void launch_check(struct pt_launch *l)
{
	if (l->interrupted && *l->interrupted) {
		int sig = *l->interrupted;
		bool terminal = l->from_terminal && *l->from_terminal;
		*l->interrupted = 0;
		pt_launch_shutdown(l, sig, !terminal, l->grace_ms);
	}
	if (!l->killed && pt_launch_grace_over(l))
		pt_launch_kill(l);
}

/* waitpid for the command, acting on interrupts meanwhile; polls once the
 * grace period runs so that its end is noticed. */
static pid_t launch_waitpid(struct pt_launch *l, int *status)
{
	for (;;) {
		launch_check(l);
		bool poll = l->shutting_down && !l->killed;
		pid_t r = waitpid(l->pid, status, __WALL | (poll ? WNOHANG : 0));
		if (r == l->pid)
			return r;
		if (r == 0) {
			const struct timespec pause = { 0, 1000 * 1000 };
			nanosleep(&pause, NULL);
			continue;
		}
		if (errno == EINTR)
			continue;
		return -1;
	}
}

bool pt_launch_poll(struct pt_launch *l)
{
	int status;

	if (l->status != -1)
		return false;
	launch_check(l);
	pid_t r = waitpid(l->pid, &status, WNOHANG);
	if (r == l->pid && (WIFEXITED(status) || WIFSIGNALED(status))) {
		l->status = status;
		l->traced = false;
		return false;
	}
	return !(r < 0 && errno == ECHILD);
}

void pt_launch_wait_exit(struct pt_launch *l)
{
	int status;

	while (l->status == -1) {
		if (launch_waitpid(l, &status) < 0)
			return;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			l->status = status;
			l->traced = false;
		} else if (WIFSTOPPED(status) && l->traced) {
			ptrace(PTRACE_CONT, l->pid, NULL,
			       (void *)(long)((unsigned)status >> 16 ? 0 : WSTOPSIG(status)));
		}
	}
}

/* --- the traced child ------------------------------------------------------------- */

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

enum pt_launch_event pt_launch_wait(struct pt_launch *l)
{
	int status;

	for (;;) {
		if (launch_waitpid(l, &status) < 0) {
			l->traced = false;
			return PT_LAUNCH_EXITED;  /* ECHILD: gone, status unknown */
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			l->status = status;
			l->traced = false;
			return PT_LAUNCH_EXITED;
		}
		if (!WIFSTOPPED(status))
			continue;
		int sig = WSTOPSIG(status);
		unsigned event = (unsigned)status >> 16;
		if (event == PTRACE_EVENT_EXEC) {
			l->execed = true;
			return PT_LAUNCH_EXEC;
		}
		if (event == PTRACE_EVENT_STOP && is_stop_signal(sig)) {
			/* A group stop (SIGSTOP & co) stays one. */
			ptrace(PTRACE_LISTEN, l->pid, NULL, NULL);
			continue;
		}
		if (event) {
			/* The seize's first stop, or an event we did not ask for. */
			ptrace(PTRACE_CONT, l->pid, NULL, NULL);
			continue;
		}
		if (sig == SIGTRAP)
			return PT_LAUNCH_TRAP;
		/* A signal for the command: delivered, and on as before. */
		ptrace(l->stepping ? PTRACE_SINGLESTEP : PTRACE_CONT, l->pid, NULL, (void *)(long)sig);
	}
}

enum pt_launch_event pt_launch_resume(struct pt_launch *l, bool step, int sig)
{
	l->stepping = step;
	/* ESRCH: killed meanwhile; the wait reports its exit. */
	ptrace(step ? PTRACE_SINGLESTEP : PTRACE_CONT, l->pid, NULL, (void *)(long)sig);
	return pt_launch_wait(l);
}

void pt_launch_detach(struct pt_launch *l)
{
	if (l->traced)
		ptrace(PTRACE_DETACH, l->pid, NULL, NULL);
	l->traced = false;
}

/* --- breakpoints -------------------------------------------------------------------- */

static int peek_word(pid_t tid, uint64_t addr, uint64_t *word)
{
	errno = 0;
	long v = ptrace(PTRACE_PEEKTEXT, tid, (void *)addr, NULL);
	if (errno)
		return -errno;
	*word = (uint64_t)v;
	return 0;
}

static int poke_word(pid_t tid, uint64_t addr, uint64_t word)
{
	return ptrace(PTRACE_POKETEXT, tid, (void *)addr, (void *)word) < 0 ? -errno : 0;
}

int pt_breakpoint_insert(struct pt_breakpoint *bp, pid_t tid, uint64_t addr)
{
	int rc;

	bp->tid = tid;
	bp->addr = addr;
	bp->set = false;
	if ((rc = peek_word(tid, addr, &bp->word)) < 0)
		return rc;
	if ((rc = poke_word(tid, addr, (bp->word & ~0xffull) | 0xcc)) < 0)
		return rc;
	bp->set = true;
	return 0;
}

int pt_breakpoint_remove(struct pt_breakpoint *bp)
{
	uint64_t cur = 0;
	int rc;

	if (!bp->set)
		return 0;
	bp->set = false;
	/* Only our byte goes back: the other seven are read again. */
	if ((rc = peek_word(bp->tid, bp->addr, &cur)) < 0)
		return rc;
	return poke_word(bp->tid, bp->addr, (cur & ~0xffull) | (bp->word & 0xff));
}

void pt_breakpoint_forget(struct pt_breakpoint *bp)
{
	bp->set = false;
}

bool pt_breakpoint_hit(struct pt_breakpoint *bp, struct user_regs_struct *regs)
{
	if (!bp->set || regs->rip != bp->addr + 1)
		return false;
	regs->rip = bp->addr;
	return ptrace(PTRACE_SETREGS, bp->tid, NULL, regs) == 0;
}

enum pt_launch_event pt_breakpoint_step_over(struct pt_breakpoint *bp, struct pt_launch *l)
{
	pt_breakpoint_remove(bp);
	enum pt_launch_event ev = pt_launch_resume(l, true, 0);
	if (ev == PT_LAUNCH_TRAP)
		pt_breakpoint_insert(bp, bp->tid, bp->addr);
	return ev;
}

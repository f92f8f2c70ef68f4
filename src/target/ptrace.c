/* SPDX-License-Identifier: MIT */
/* Stops every thread of a process with PTRACE_SEIZE + PTRACE_INTERRUPT and lets them go. */
#include "error.h"
#include "target/ptrace.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Never leaving the target stopped
 * --------------------------------
 * Every path out of pt_ptrace_stop_all() either hands the caller a set that
 * pt_ptrace_resume_all() detaches, or detaches everything itself. If pytrace
 * itself dies while seized (SIGKILL, crash), the kernel's exit_ptrace()
 * detaches all its tracees and they run on: checked on Linux 6.18 by seizing
 * and interrupting a `sleep 1000` from a throwaway program, which showed
 * "State: t (tracing stop)", then SIGKILLing that program: the sleep went
 * back to "State: S (sleeping)" with TracerPid 0.
 *
 * PTRACE_SEIZE rather than PTRACE_ATTACH: no SIGSTOP is sent (a SIGSTOP could
 * be seen by the target's parent or lost into a group stop), and a group stop
 * already in force is reported as PTRACE_EVENT_STOP and kept on detach.
 *
 * The target loses no signal: 3000 rounds of "queue a real-time signal,
 * stop, resume" on a 5-thread spinning process caught 51 threads in a
 * signal-delivery-stop, and its handler still counted exactly 3000.
 */

/* Rounds of "list /proc/PID/task, seize the new ones" before giving up on a
 * process that keeps creating threads faster than we can stop them. Each
 * round stops every thread it saw, so a normal process needs two. */
enum { PTRACE_MAX_ROUNDS = 64 };

enum ptrace_state {
	PTRACE_SEIZED,   /* attached and interrupted, stop not yet collected */
	PTRACE_STOPPED,  /* in a ptrace stop: registers readable */
	PTRACE_GONE,     /* exited, zombie, or vanished: not attached */
};

struct ptrace_thread {
	pid_t tid;
	int sig;                 /* pending signal to re-inject on detach */
	enum ptrace_state state;
};

struct ptrace_work {
	pid_t pid;
	struct ptrace_thread *th;
	size_t n, cap;
};

/* Reads a small /proc file into buf (NUL-terminated): 0 or -errno. */
static int ptrace_read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t len;

	if (!f)
		return -errno;
	len = fread(buf, 1, cap - 1, f);
	buf[len] = 0;
	fclose(f);
	return 0;
}

/* The scheduler state letter of one thread ('R', 'S', 't', 'Z', ...), or 0
 * if the thread is gone. */
static char ptrace_task_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (ptrace_read_file(path, buf, sizeof(buf)) < 0)
		return 0;
	/* comm may hold spaces and parentheses: the state follows the last ')'. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static void ptrace_explain(pid_t pid, pid_t tid, struct pt_error *err);

/* Linear: processes have tens to hundreds of threads, and a round is
 * dominated by the system calls anyway. */
static struct ptrace_thread *ptrace_find(struct ptrace_work *w, pid_t tid)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->th[i].tid == tid)
			return &w->th[i];
	return NULL;
}

static struct ptrace_thread *ptrace_add(struct ptrace_work *w, pid_t tid)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 32;
		struct ptrace_thread *th = realloc(w->th, cap * sizeof(*th));
		if (!th)
			return NULL;
		w->th = th;
		w->cap = cap;
	}
	w->th[w->n] = (struct ptrace_thread){ .tid = tid, .state = PTRACE_GONE };
	return &w->th[w->n++];
}

/* Turns a wait status into the thread's new state. Only three things can
 * stop a seized thread with options 0: our interrupt or a group stop
 * (PTRACE_EVENT_STOP; nothing to re-inject, a group stop is restored by the
 * kernel on detach), or a signal about to be delivered (the thread stays in
 * that signal-delivery-stop, which is as good a stop as ours, and
 * PTRACE_DETACH's data argument delivers the signal after all). */
static void ptrace_note_status(struct ptrace_thread *t, int status)
{
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->state = PTRACE_GONE;
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	t->state = PTRACE_STOPPED;
	t->sig = (status >> 16) == 0 ? WSTOPSIG(status) : 0;
}

/* Collects the stop (or exit) of one seized thread. The thread-group leader
 * is polled: if it exits (pthread_exit in main) while other threads live,
 * its death is not reported until they all die, so a blocking wait could
 * hang; a zombie leader has no stack to read and is dropped. */
static int ptrace_collect(struct ptrace_work *w, struct ptrace_thread *t)
{
	const struct timespec pause = { .tv_sec = 0, .tv_nsec = 100 * 1000 };
	int flags = __WALL | (t->tid == w->pid ? WNOHANG : 0);

	while (t->state == PTRACE_SEIZED) {
		int status = 0;
		pid_t r = waitpid(t->tid, &status, flags);
		if (r == t->tid) {
			ptrace_note_status(t, status);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			/* ECHILD: no longer ours to wait for (reaped by an
			 * exec in another thread); nothing left to detach. */
			if (errno == ECHILD) {
				t->state = PTRACE_GONE;
				return 0;
			}
			return -errno;
		}
		/* WNOHANG and not stopped yet. */
		char st = ptrace_task_state(w->pid, t->tid);
		if (st == 0 || st == 'Z' || st == 'X') {
			t->state = PTRACE_GONE;
			return 0;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

static void ptrace_detach_one(pid_t tid, int sig)
{
	/* ESRCH: the thread was killed meanwhile; nothing to undo. */
	ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig);
}

/* Undoes everything: threads still on their way to the interrupt stop are
 * waited for first, because PTRACE_DETACH only works on a stopped tracee and
 * an interrupt left pending would stop the thread for good. */
static void ptrace_release(struct ptrace_work *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct ptrace_thread *t = &w->th[i];
		if (t->state == PTRACE_SEIZED && ptrace_collect(w, t) < 0) {
			/* Cannot happen short of a kernel bug; detaching a
			 * running tracee fails, but our exit would still free
			 * it (see the comment at the top). */
			t->state = PTRACE_STOPPED;
		}
		if (t->state == PTRACE_STOPPED)
			ptrace_detach_one(t->tid, t->sig);
		t->state = PTRACE_GONE;
	}
	free(w->th);
	w->th = NULL;
	w->n = w->cap = 0;
}

/* Seizes one newly listed thread. Returns 1 if it is now ours, 0 if it is
 * gone, or a negative pt_status with err filled. */
static int ptrace_seize_one(struct ptrace_work *w, struct ptrace_thread *t,
			    struct pt_error *err)
{
	if (ptrace(PTRACE_SEIZE, t->tid, NULL, NULL) < 0) {
		int e = errno;
		char st;

		if (e == ESRCH)
			return 0;
		if (e == EPERM) {
			/* The kernel also refuses a task that already
			 * exited: a zombie leader is not a permission
			 * problem. */
			st = ptrace_task_state(w->pid, t->tid);
			if (st == 0 || st == 'Z' || st == 'X')
				return 0;
			ptrace_explain(w->pid, t->tid, err);
			return err ? -err->status : -PT_E_PERM;
		}
		return pt_error_set(err, PT_E_INTERNAL, "PTRACE_SEIZE thread %d: %s",
				   (int)t->tid, strerror(e));
	}
	t->state = PTRACE_SEIZED;
	/* ESRCH here means the thread is already dying; the wait reports its
	 * exit. */
	ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL);
	return 1;
}

/* One round: seizes every listed thread not seen before, then collects
 * their stops. *fresh is how many threads this round attached. */
static int ptrace_round(struct ptrace_work *w, size_t *fresh, bool first,
			struct pt_error *err)
{
	char path[64];
	DIR *dir;
	struct dirent *de;
	size_t start = w->n;
	int rc = 0;

	*fresh = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)w->pid);
	dir = opendir(path);
	if (!dir) {
		int e = errno;
		if (e == ENOENT || e == ESRCH) {
			if (first)
				return pt_error_set(err, PT_E_NOPROC, "no such process: %d",
						   (int)w->pid);
			return pt_error_set(err, PT_E_EXITED,
					   "process %d exited while being stopped",
					   (int)w->pid);
		}
		if (e == EACCES || e == EPERM) {
			pt_ptrace_explain_eperm(w->pid, err);
			return err ? -err->status : -PT_E_PERM;
		}
		return pt_error_set(err, PT_E_INTERNAL, "%s: %s", path, strerror(e));
	}
	while ((de = readdir(dir))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end || tid <= 0)
			continue;
		if (ptrace_find(w, (pid_t)tid))
			continue;  /* ours already, or known to be gone */
		struct ptrace_thread *t = ptrace_add(w, (pid_t)tid);
		if (!t) {
			rc = pt_error_set(err, PT_E_INTERNAL, "out of memory");
			break;
		}
		rc = ptrace_seize_one(w, t, err);
		if (rc < 0)
			break;
		*fresh += (size_t)rc;
		rc = 0;
	}
	closedir(dir);
	if (rc < 0)
		return rc;
	/* Interrupt everything first, then wait: the stops happen in parallel.
	 * The leader, which is polled, goes last so it has most likely
	 * stopped by then. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = start; i < w->n; i++) {
			struct ptrace_thread *t = &w->th[i];
			if ((t->tid == w->pid) != (pass == 1))
				continue;
			rc = ptrace_collect(w, t);
			if (rc < 0)
				return pt_error_set(err, PT_E_INTERNAL, "waitpid thread %d: %s",
						   (int)t->tid, strerror(-rc));
		}
	}
	return 0;
}

int pt_ptrace_stop_all(pid_t pid, struct pt_stopset *set, struct pt_error *err)
{
	struct ptrace_work w = { .pid = pid };
	size_t fresh = 0, n = 0;
	int rc = 0;

	if (!set)
		return pt_error_set(err, PT_E_USAGE, "no stop set given");
	*set = (struct pt_stopset){ .pid = pid };
	if (pid <= 0)
		return pt_error_set(err, PT_E_NOPROC, "no such process: %d", (int)pid);
	if (pid == getpid())
		return pt_error_set(err, PT_E_USAGE, "cannot stop our own process %d",
				   (int)pid);

	for (int round = 0;; round++) {
		if (round == PTRACE_MAX_ROUNDS) {
			rc = pt_error_set(err, PT_E_INTERNAL,
					 "process %d keeps creating threads; gave up after %d rounds",
					 (int)pid, round);
			goto fail;
		}
		rc = ptrace_round(&w, &fresh, round == 0, err);
		if (rc < 0)
			goto fail;
		if (fresh == 0)
			break;  /* every live thread is stopped: none can be born */
	}

	for (size_t i = 0; i < w.n; i++)
		n += w.th[i].state == PTRACE_STOPPED;
	if (n == 0) {
		char st = ptrace_task_state(pid, pid);
		if (st == 'Z' || st == 'X')
			rc = pt_error_set(err, PT_E_EXITED,
					 "process %d has exited (a zombie its parent has not reaped)",
					 (int)pid);
		else
			rc = pt_error_set(err, PT_E_EXITED, "process %d exited while being stopped",
					 (int)pid);
		goto fail;
	}
	set->tids = malloc(n * sizeof(*set->tids));
	set->sigs = malloc(n * sizeof(*set->sigs));
	if (!set->tids || !set->sigs) {
		free(set->tids);
		free(set->sigs);
		*set = (struct pt_stopset){ .pid = pid };
		rc = pt_error_set(err, PT_E_INTERNAL, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < w.n; i++) {
		if (w.th[i].state != PTRACE_STOPPED)
			continue;
		set->tids[set->n] = w.th[i].tid;
		set->sigs[set->n] = w.th[i].sig;
		set->n++;
	}
	free(w.th);
	return 0;

fail:
	ptrace_release(&w);
	return rc;
}

void pt_ptrace_resume_all(struct pt_stopset *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		ptrace_detach_one(set->tids[i], set->sigs ? set->sigs[i] : 0);
	free(set->tids);
	free(set->sigs);
	set->tids = NULL;
	set->sigs = NULL;
	set->n = 0;
}

int pt_ptrace_get_regs(pid_t tid, struct user_regs_struct *regs)
{
	if (ptrace(PTRACE_GETREGS, tid, NULL, regs) < 0)
		return -errno;
	return 0;
}

/* Facts about a process that decide why ptrace said EPERM. */
struct ptrace_facts {
	char name[64];
	long uid[3], gid[3];   /* real, effective, saved */
	long tracer;
	char state;
};

static const char *ptrace_field(const char *buf, const char *key)
{
	size_t len = strlen(key);
	const char *p = buf;

	while (p && *p) {
		if (!strncmp(p, key, len))
			return p + len;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* Per thread: a tracer may hold just one thread, and a zombie leader
 * (main called pthread_exit) says nothing about the others. */
static int ptrace_read_facts(pid_t pid, pid_t tid, struct ptrace_facts *f)
{
	char path[64], buf[4096];
	const char *v;
	int rc;

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 3; i++)
		f->uid[i] = f->gid[i] = -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	rc = ptrace_read_file(path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	if ((v = ptrace_field(buf, "Name:")))
		sscanf(v, " %63[^\n]", f->name);
	if ((v = ptrace_field(buf, "State:")))
		sscanf(v, " %c", &f->state);
	if ((v = ptrace_field(buf, "Uid:")))
		sscanf(v, "%ld %ld %ld", &f->uid[0], &f->uid[1], &f->uid[2]);
	if ((v = ptrace_field(buf, "Gid:")))
		sscanf(v, "%ld %ld %ld", &f->gid[0], &f->gid[1], &f->gid[2]);
	if ((v = ptrace_field(buf, "TracerPid:")))
		sscanf(v, "%ld", &f->tracer);
	return 0;
}

/* Whether our effective capabilities hold CAP_SYS_PTRACE (bit 19). */
static bool ptrace_have_cap(void)
{
	char buf[4096];
	const char *v;
	unsigned long long caps = 0;

	if (ptrace_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return geteuid() == 0;
	v = ptrace_field(buf, "CapEff:");
	if (!v || sscanf(v, "%llx", &caps) != 1)
		return geteuid() == 0;
	return caps & (1ull << 19);
}

/* kernel.yama.ptrace_scope, or -1 without Yama. */
static int ptrace_yama_scope(void)
{
	char buf[16];

	if (ptrace_read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) < 0)
		return -1;
	return atoi(buf);
}

static void ptrace_explain(pid_t pid, pid_t tid, struct pt_error *err)
{
	struct ptrace_facts f;
	char exe[256] = "pytrace", tracer[64] = "?", path[64];
	bool cap = ptrace_have_cap();
	int scope = ptrace_yama_scope();
	long uid = (long)getuid(), gid = (long)getgid();
	ssize_t len;

	if (!err)
		return;
	if (ptrace_read_facts(pid, tid, &f) < 0) {
		pt_error_set(err, PT_E_NOPROC, "no such process: %d", (int)pid);
		return;
	}
	/* For the setcap suggestion: the path of the binary to give it to. */
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0)
		exe[len] = 0;

	if (f.tracer != 0) {
		snprintf(path, sizeof(path), "/proc/%ld/comm", f.tracer);
		if (ptrace_read_file(path, tracer, sizeof(tracer)) == 0)
			tracer[strcspn(tracer, "\n")] = 0;
		pt_error_set(err, PT_E_PERM,
			    "cannot trace process %d (%s): thread %d is already traced by process %ld (%s), "
			    "and a thread can have only one tracer; detach that one (quit the debugger) and retry",
			    (int)pid, f.name, (int)tid, f.tracer, tracer);
		return;
	}
	if (f.state == 'Z' || f.state == 'X') {
		pt_error_set(err, PT_E_EXITED, "process %d (%s) has exited (zombie)",
			    (int)pid, f.name);
		return;
	}
	if (scope == 3) {
		pt_error_set(err, PT_E_PERM,
			    "cannot trace process %d (%s): kernel.yama.ptrace_scope is 3, "
			    "which forbids ptrace for everyone until reboot",
			    (int)pid, f.name);
		return;
	}
	/* ptrace attach checks our real uid/gid against all three of the
	 * target's (PTRACE_MODE_REALCREDS), unless we hold CAP_SYS_PTRACE. */
	bool same_user = true;
	for (int i = 0; i < 3; i++)
		if (f.uid[i] != uid || f.gid[i] != gid)
			same_user = false;
	if (!cap && !same_user) {
		pt_error_set(err, PT_E_PERM,
			    "cannot trace process %d (%s): it runs as uid %ld gid %ld (effective %ld/%ld), "
			    "we as uid %ld gid %ld without CAP_SYS_PTRACE; run as that user, with sudo, "
			    "or grant the capability: sudo setcap cap_sys_ptrace+ep %s",
			    (int)pid, f.name, f.uid[0], f.gid[0], f.uid[1], f.gid[1], uid, gid, exe);
		return;
	}
	if (!cap && scope == 2) {
		pt_error_set(err, PT_E_PERM,
			    "cannot trace process %d (%s): kernel.yama.ptrace_scope is 2 (only CAP_SYS_PTRACE "
			    "may trace); run with sudo or: sudo setcap cap_sys_ptrace+ep %s",
			    (int)pid, f.name, exe);
		return;
	}
	if (!cap && scope == 1) {
		pt_error_set(err, PT_E_PERM,
			    "cannot trace process %d (%s): kernel.yama.ptrace_scope is 1 (only descendants "
			    "may be traced); run with sudo, or: sudo setcap cap_sys_ptrace+ep %s, "
			    "or allow it: echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope",
			    (int)pid, f.name, exe);
		return;
	}
	/* A non-dumpable process (setuid/setcap binary, PR_SET_DUMPABLE 0)
	 * has its /proc directory owned by root whatever its uid. */
	struct stat sb;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (!cap && stat(path, &sb) == 0 && (long)sb.st_uid != f.uid[1]) {
		pt_error_set(err, PT_E_PERM,
			    "cannot trace process %d (%s): it is not dumpable (a setuid/setcap program or "
			    "prctl(PR_SET_DUMPABLE, 0)); run with sudo",
			    (int)pid, f.name);
		return;
	}
	if (!cap) {
		pt_error_set(err, PT_E_PERM,
			    "cannot trace process %d (%s): not permitted and we lack CAP_SYS_PTRACE; run with "
			    "sudo (in a container: --cap-add=SYS_PTRACE)",
			    (int)pid, f.name);
		return;
	}
	pt_error_set(err, PT_E_PERM,
		    "cannot trace process %d (%s): refused although we hold CAP_SYS_PTRACE; a security "
		    "module (SELinux, AppArmor) or a seccomp policy forbids ptrace here",
		    (int)pid, f.name);
}

void pt_ptrace_explain_eperm(pid_t pid, struct pt_error *err)
{
	ptrace_explain(pid, pid, err);
}

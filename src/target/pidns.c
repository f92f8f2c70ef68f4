/* SPDX-License-Identifier: MIT */
/* Thread ids across PID namespaces, from /proc. */
#include "target/pidns.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool pt_pidns_differs(pid_t pid)
{
	char path[64];
	struct stat mine, theirs;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (stat("/proc/self/ns/pid", &mine) != 0 || stat(path, &theirs) != 0)
		return false;
	return mine.st_dev != theirs.st_dev || mine.st_ino != theirs.st_ino;
}

/* The first and last ids of an "NSpid:" line: ours (this /proc's
 * namespace) and the thread's own. */
static bool task_nspid(pid_t pid, const char *task, long *ours, long *own)
{
	char path[320], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, task);
	if (!(f = fopen(path, "re")))
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;
		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		*ours = *own = strtol(p, &end, 10);
		found = end != p;
		for (p = end; found; p = end) {
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			*own = v;
		}
	}
	fclose(f);
	return found;
}

pid_t pt_pidns_own_tid(pid_t pid, pid_t our_tid)
{
	char task[24];
	long ours, own;

	snprintf(task, sizeof(task), "%d", (int)our_tid);
	return task_nspid(pid, task, &ours, &own) ? (pid_t)own : our_tid;
}

pid_t pt_pidns_our_tid(pid_t pid, pid_t ns_tid)
{
	char path[64];
	struct dirent *d;
	pid_t found = ns_tid;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(dir = opendir(path)))
		return ns_tid;
	while ((d = readdir(dir))) {
		long ours, own;
		if (d->d_name[0] == '.' || !task_nspid(pid, d->d_name, &ours, &own))
			continue;
		if (own == ns_tid) {
			found = (pid_t)ours;
			break;
		}
	}
	closedir(dir);
	return found;
}

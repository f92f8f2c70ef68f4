/* SPDX-License-Identifier: MIT */
/* Value-to-name tables for decoded arguments (flags, modes, families),
 * built from the constants in the system headers, and the two ways of
 * rendering a value with one. */
#ifndef PYTRACE_SYSCALLS_XLAT_H
#define PYTRACE_SYSCALLS_XLAT_H

#include <stddef.h>
#include <stdint.h>

struct pt_xlat {
	uint64_t val;
	const char *name;
};

/* Each table ends with { 0, NULL }. */
extern const struct pt_xlat pt_xlat_open_access[];   /* O_RDONLY O_WRONLY O_RDWR */
extern const struct pt_xlat pt_xlat_open_flags[];
extern const struct pt_xlat pt_xlat_at_flags[];      /* stat family, linkat, fchownat */
extern const struct pt_xlat pt_xlat_unlinkat_flags[];
extern const struct pt_xlat pt_xlat_faccessat_flags[];
extern const struct pt_xlat pt_xlat_access_mode[];
extern const struct pt_xlat pt_xlat_rename_flags[];
extern const struct pt_xlat pt_xlat_seek_whence[];
extern const struct pt_xlat pt_xlat_prot[];
extern const struct pt_xlat pt_xlat_map_flags[];
extern const struct pt_xlat pt_xlat_clone_flags[];
extern const struct pt_xlat pt_xlat_address_family[];
extern const struct pt_xlat pt_xlat_socket_type[];
extern const struct pt_xlat pt_xlat_socket_type_flags[];
extern const struct pt_xlat pt_xlat_msg_flags[];
extern const struct pt_xlat pt_xlat_wait_options[];
extern const struct pt_xlat pt_xlat_fcntl_cmd[];
extern const struct pt_xlat pt_xlat_shutdown_how[];
extern const struct pt_xlat pt_xlat_dup3_flags[];    /* O_CLOEXEC, also pipe2 */
extern const struct pt_xlat pt_xlat_clockid[];
extern const struct pt_xlat pt_xlat_timer_flags[];

/* The name of val in an enumeration table, or NULL. */
const char *pt_xlat_name(const struct pt_xlat *table, uint64_t val);

/* "A|B|0x40": every table entry whose bits are all set in val, in table
 * order (so list multi-bit values before their parts), then what is left
 * in hex. val 0 prints zero_name, or "0". Returns the length written
 * (truncated to cap-1). */
size_t pt_xlat_flags(char *dst, size_t cap, const struct pt_xlat *table, uint64_t val,
		     const char *zero_name);

#endif

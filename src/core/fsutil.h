/* File-system helpers for private files in the data directory. */
#ifndef IOTVAULT_CORE_FSUTIL_H
#define IOTVAULT_CORE_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

/* IV_ERR_PERMISSIONS when PATH is accessible to group/others or owned by
 * another user; IV_ERR_NOT_FOUND when missing. */
int fs_check_private(const char *path, int is_dir) IV_WUR;
/* Writes a 0600 file durably (fsync file and directory). EXCLUSIVE: fail if
 * it exists; otherwise replace atomically through a temporary file. */
int fs_write_private(const char *path, const void *data, size_t len, int exclusive) IV_WUR;
/* Reads exactly LEN bytes from a private file. */
int fs_read_private(const char *path, uint8_t *out, size_t len) IV_WUR;
/* Overwrites and removes a key file. */
int fs_remove_private(const char *path) IV_WUR;

#endif

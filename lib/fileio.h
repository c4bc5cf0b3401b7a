/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Read from fd until EOF or until size bytes are in buf, retrying on EINTR;
 * *ret_n is the number of bytes read. A caller that caps its input at max
 * reads max + 1 bytes: *ret_n > max means the input is too large. */
int fileio_read_upto(int fd, void *buf, size_t size, size_t *ret_n);

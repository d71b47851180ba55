#ifndef CZLIB_H
#define CZLIB_H

#include <stddef.h>
#include <stdint.h>

/// Results of czlib_gunzip.
enum {
    CZLIB_OK = 0,
    /// The input is not a complete, valid gzip (or zlib) stream.
    CZLIB_CORRUPT = 1,
    /// The output would be larger than the limit.
    CZLIB_TOO_LARGE = 2,
    /// Out of memory.
    CZLIB_NO_MEMORY = 3,
};

/// Compresses `input` into a gzip stream. On success returns 0 and sets
/// `*output` (to be freed with `free`) and `*output_length`.
int czlib_gzip(const uint8_t *input, size_t input_length, int level, uint8_t **output, size_t *output_length);

/// Decompresses a gzip or zlib stream, refusing output larger than `limit`
/// bytes. On success returns CZLIB_OK and sets `*output` (to be freed with
/// `free`) and `*output_length`; on failure `*consumed` tells how many input
/// bytes were read before the failure.
int czlib_gunzip(const uint8_t *input, size_t input_length, size_t limit, uint8_t **output, size_t *output_length,
                 size_t *consumed);

#endif

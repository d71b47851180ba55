#include "czlib.h"

#include <stdlib.h>
#include <zlib.h>

int czlib_gzip(const uint8_t *input, size_t input_length, int level, uint8_t **output, size_t *output_length) {
    z_stream stream = {0};
    // 15 window bits + 16: write a gzip header and trailer.
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return CZLIB_NO_MEMORY;
    size_t capacity = deflateBound(&stream, (uLong)input_length) + 32;
    uint8_t *buffer = malloc(capacity);
    if (!buffer) {
        deflateEnd(&stream);
        return CZLIB_NO_MEMORY;
    }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)input_length;
    stream.next_out = buffer;
    stream.avail_out = (uInt)capacity;
    int status = deflate(&stream, Z_FINISH);
    if (status != Z_STREAM_END) {
        deflateEnd(&stream);
        free(buffer);
        return CZLIB_CORRUPT;
    }
    *output_length = stream.total_out;
    *output = buffer;
    deflateEnd(&stream);
    return CZLIB_OK;
}

int czlib_gunzip(const uint8_t *input, size_t input_length, size_t limit, uint8_t **output, size_t *output_length,
                 size_t *consumed) {
    z_stream stream = {0};
    *consumed = 0;
    // 15 window bits + 32: detect gzip or zlib headers.
    if (inflateInit2(&stream, 15 + 32) != Z_OK) return CZLIB_NO_MEMORY;
    size_t capacity = input_length * 4 + 1024;
    if (capacity > limit + 1) capacity = limit + 1;
    uint8_t *buffer = malloc(capacity);
    if (!buffer) {
        inflateEnd(&stream);
        return CZLIB_NO_MEMORY;
    }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)input_length;
    size_t produced = 0;
    int result = CZLIB_OK;
    for (;;) {
        stream.next_out = buffer + produced;
        stream.avail_out = (uInt)(capacity - produced);
        int status = inflate(&stream, Z_NO_FLUSH);
        produced = capacity - stream.avail_out;
        if (status == Z_STREAM_END) {
            // Trailing bytes after the stream are not part of a valid body.
            if (stream.avail_in != 0) result = CZLIB_CORRUPT;
            break;
        }
        if (produced > limit) {
            result = CZLIB_TOO_LARGE;
            break;
        }
        if (status == Z_BUF_ERROR && stream.avail_in == 0) {
            result = CZLIB_CORRUPT;  // truncated
            break;
        }
        if (status != Z_OK && status != Z_BUF_ERROR) {
            result = status == Z_MEM_ERROR ? CZLIB_NO_MEMORY : CZLIB_CORRUPT;
            break;
        }
        if (stream.avail_out == 0) {
            size_t grown = capacity * 2;
            if (grown > limit + 1) grown = limit + 1;
            if (grown <= capacity) {
                result = CZLIB_TOO_LARGE;
                break;
            }
            uint8_t *bigger = realloc(buffer, grown);
            if (!bigger) {
                result = CZLIB_NO_MEMORY;
                break;
            }
            buffer = bigger;
            capacity = grown;
        }
    }
    if (result == CZLIB_OK && produced > limit) result = CZLIB_TOO_LARGE;
    *consumed = stream.total_in;
    inflateEnd(&stream);
    if (result != CZLIB_OK) {
        free(buffer);
        return result;
    }
    *output = buffer;
    *output_length = produced;
    return CZLIB_OK;
}

/* YAML to JSON for `djs submit -f`, over libyaml's event parser.
 *
 * One document; mappings with string keys (no duplicates), sequences and
 * scalars, nested at most DJS_CLIENT_YAMLJSON_MAX_DEPTH deep. Plain scalars are typed
 * as in YAML 1.2's core schema: null (~, null, empty), true/false,
 * integers (decimal, 0x, 0o), floats; everything else, and every quoted or
 * block scalar, is a string. Explicit tags !!str, !!int, !!float, !!bool
 * and !!null are honoured. Aliases, merge keys and other tags are refused
 * (an alias can blow up exponentially once expanded into JSON). */
#ifndef DJS_TOOLS_CLIENT_YAMLJSON_H
#define DJS_TOOLS_CLIENT_YAMLJSON_H

#include <jansson.h>
#include <stddef.h>

#define DJS_CLIENT_YAMLJSON_MAX_DEPTH 64

/* A new JSON value, or NULL with err set ("line L column C: why"). */
json_t *djs_client_yamljson_parse(const char *text, size_t len, char *err, size_t errlen);

#endif

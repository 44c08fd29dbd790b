// "Text transforms": a Dapr output binding written in C, as a wasmplug component
// (world `output-binding-component` of wit/, package wasmplug:dapr@0.1.0).
//
// Component metadata:
//   maxBytes  optional, a positive decimal integer (default 1048576 = 1 MiB): an invoke
//             whose data is larger fails with invalid-argument. Keys match
//             case-insensitively, the last occurrence wins; every other key is ignored
//             (daprd passes many).
//
// Operations (list-operations): the response is `text/plain` with metadata
// `operation` = the operation.
//   upper    ASCII letters to upper case; every other byte unchanged
//   lower    ASCII letters to lower case; every other byte unchanged
//   reverse  the bytes in reverse order
//   length   the data's length in bytes, in decimal
// Any other operation is `unimplemented`, naming it.
//
// Memory, in the wit-bindgen C ABI (see ../README.md):
// - Arguments of exported functions are owned by this code: every byte of them is freed
//   (or moved into the result) before returning.
// - Results and errors are owned by the generated bindings once returned: they free every
//   non-empty string and list with free() after the host has copied them out (the
//   `cabi_post_*` functions). So everything returned must come from malloc (never a string
//   literal) unless its length is 0, and nothing returned may be freed here.
// - Allocation failure is reported as an error where the function has one; an error whose
//   message cannot be allocated is returned with an empty message.

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output_binding_component.h"

typedef output_binding_component_string_t string_t;
typedef output_binding_component_list_u8_t bytes_t;
typedef exports_wasmplug_dapr_output_binding_metadata_t metadata_t;
typedef exports_wasmplug_dapr_output_binding_error_t wit_error_t;
typedef exports_wasmplug_dapr_output_binding_invoke_request_t request_t;
typedef exports_wasmplug_dapr_output_binding_invoke_response_t response_t;

#define MAX_BYTES_KEY "maxBytes"
#define DEFAULT_MAX_BYTES ((uint64_t)1 << 20)
#define CONTENT_TYPE "text/plain"
// Longest input string quoted in an error message; a longer one is described, not quoted.
#define MAX_QUOTED 256

// The operations, in the order list-operations reports them.
static const char *const OPERATIONS[] = {"upper", "lower", "reverse", "length"};
#define OPERATION_COUNT (sizeof(OPERATIONS) / sizeof(OPERATIONS[0]))

// Set by init; a re-init (hot reload) replaces it. Guests are single-threaded.
static uint64_t max_bytes = DEFAULT_MAX_BYTES;

// --- small helpers ---------------------------------------------------------------------

// A malloc'd copy of `len` bytes of `s` into `out`. A zero length allocates nothing.
static bool dup_n(string_t *out, const void *s, size_t len) {
  out->ptr = NULL;
  out->len = 0;
  if (len == 0) {
    return true;
  }
  uint8_t *p = malloc(len);
  if (p == NULL) {
    return false;
  }
  memcpy(p, s, len);
  out->ptr = p;
  out->len = len;
  return true;
}

static bool dup_cstr(string_t *out, const char *s) { return dup_n(out, s, strlen(s)); }

static bool equals(const string_t *s, const char *lit) {
  size_t n = strlen(lit);
  return s->len == n && memcmp(s->ptr, lit, n) == 0;
}

static bool equals_ignore_ascii_case(const string_t *s, const char *lit) {
  size_t n = strlen(lit);
  if (s->len != n) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t a = s->ptr[i], b = (uint8_t)lit[i];
    if (a >= 'A' && a <= 'Z') a += 'a' - 'A';
    if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
    if (a != b) {
      return false;
    }
  }
  return true;
}

// Fill `err` with error case `tag` and a printf-formatted message; always returns false, so
// a function can `return fail(err, ...)`. `%.*s` arguments must be whole WIT strings (valid
// UTF-8) of at most MAX_QUOTED bytes: the message is a WIT string, so it is never truncated.
__attribute__((format(printf, 3, 4))) static bool fail(wit_error_t *err, uint8_t tag,
                                                       const char *fmt, ...) {
  string_t msg = {NULL, 0};
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n > 0) {
    char *p = malloc((size_t)n + 1);
    if (p != NULL) {
      va_start(ap, fmt);
      vsnprintf(p, (size_t)n + 1, fmt, ap);
      va_end(ap);
      msg.ptr = (uint8_t *)p;
      msg.len = (size_t)n;
    }
  }
  err->tag = tag;
  switch (tag) {
    case WASMPLUG_DAPR_TYPES_ERROR_UNIMPLEMENTED:
      err->val.unimplemented = msg;
      break;
    case WASMPLUG_DAPR_TYPES_ERROR_INVALID_ARGUMENT:
      err->val.invalid_argument = msg;
      break;
    default:
      err->tag = WASMPLUG_DAPR_TYPES_ERROR_OTHER;
      err->val.other = msg;
      break;
  }
  return false;
}

static bool out_of_memory(wit_error_t *err, const char *what) {
  return fail(err, WASMPLUG_DAPR_TYPES_ERROR_OTHER, "out of memory: %s", what);
}

// Frees every field of an invoke request. Field by field on purpose: the generated
// exports_..._invoke_request_free (wit-bindgen 0.63) does not free `data`.
static void request_free(request_t *request) {
  output_binding_component_string_free(&request->operation);
  output_binding_component_list_u8_free(&request->data);
  exports_wasmplug_dapr_output_binding_metadata_free(&request->metadata);
}

// Frees every field of a response built here that will not be returned (same reason).
static void response_free(response_t *response) {
  output_binding_component_list_u8_free(&response->data);
  exports_wasmplug_dapr_output_binding_metadata_free(&response->metadata);
  output_binding_component_option_string_free(&response->content_type);
}

// Parses a positive decimal integer with no sign, spaces or overflow.
static bool parse_positive_u64(const string_t *s, uint64_t *out) {
  if (s->len == 0) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < s->len; i++) {
    uint8_t c = s->ptr[i];
    if (c < '0' || c > '9') {
      return false;
    }
    uint64_t digit = (uint64_t)(c - '0');
    if (v > (UINT64_MAX - digit) / 10) {
      return false;
    }
    v = v * 10 + digit;
  }
  if (v == 0) {
    return false;
  }
  *out = v;
  return true;
}

// --- the exported interface ------------------------------------------------------------

static bool init(const metadata_t *metadata, wit_error_t *err) {
  const string_t *value = NULL;
  for (size_t i = 0; i < metadata->len; i++) {
    if (equals_ignore_ascii_case(&metadata->ptr[i].f0, MAX_BYTES_KEY)) {
      value = &metadata->ptr[i].f1;
    }
  }
  uint64_t limit = DEFAULT_MAX_BYTES;
  if (value != NULL && !parse_positive_u64(value, &limit)) {
    if (value->len > MAX_QUOTED) {
      return fail(err, WASMPLUG_DAPR_TYPES_ERROR_INVALID_ARGUMENT,
                  "metadata " MAX_BYTES_KEY " must be a positive decimal integer");
    }
    return fail(err, WASMPLUG_DAPR_TYPES_ERROR_INVALID_ARGUMENT,
                "metadata " MAX_BYTES_KEY " must be a positive decimal integer, got \"%.*s\"",
                (int)value->len, (const char *)value->ptr);
  }
  max_bytes = limit;
  return true;
}

bool exports_wasmplug_dapr_output_binding_init(metadata_t *metadata, wit_error_t *err) {
  bool ok = init(metadata, err);
  exports_wasmplug_dapr_output_binding_metadata_free(metadata);
  return ok;
}

void exports_wasmplug_dapr_output_binding_list_operations(
    output_binding_component_list_string_t *ret) {
  string_t *names = calloc(OPERATION_COUNT, sizeof(string_t));
  if (names == NULL) {
    // No error case to report it with, and an empty list would tell daprd that no
    // operation exists: trap instead (the host fails this call and rebuilds the instance).
    abort();
  }
  for (size_t i = 0; i < OPERATION_COUNT; i++) {
    if (!dup_cstr(&names[i], OPERATIONS[i])) {
      abort();
    }
  }
  ret->ptr = names;
  ret->len = OPERATION_COUNT;
}

// Applies `operation` to `request->data` (which it may take) and fills `response->data`.
static bool transform(const string_t *operation, request_t *request, response_t *response,
                      wit_error_t *err) {
  bytes_t *data = &request->data;
  if (equals(operation, "upper") || equals(operation, "lower")) {
    bool upper = equals(operation, "upper");
    for (size_t i = 0; i < data->len; i++) {
      uint8_t c = data->ptr[i];
      if (upper && c >= 'a' && c <= 'z') data->ptr[i] = c - ('a' - 'A');
      if (!upper && c >= 'A' && c <= 'Z') data->ptr[i] = c + ('a' - 'A');
    }
  } else if (equals(operation, "reverse")) {
    for (size_t i = 0, j = data->len; i + 1 < j; i++, j--) {
      uint8_t c = data->ptr[i];
      data->ptr[i] = data->ptr[j - 1];
      data->ptr[j - 1] = c;
    }
  } else {  // length
    char text[24];  // UINT64_MAX has 20 digits
    int n = snprintf(text, sizeof text, "%llu", (unsigned long long)data->len);
    string_t out;
    if (n <= 0 || !dup_n(&out, text, (size_t)n)) {
      return out_of_memory(err, "length text");
    }
    response->data.ptr = out.ptr;
    response->data.len = out.len;
    return true;
  }
  // Transformed in place: move the request's buffer into the response.
  response->data = *data;
  data->ptr = NULL;
  data->len = 0;
  return true;
}

static bool invoke(request_t *request, response_t *ret, wit_error_t *err) {
  const string_t *operation = &request->operation;
  bool known = false;
  for (size_t i = 0; i < OPERATION_COUNT; i++) {
    known = known || equals(operation, OPERATIONS[i]);
  }
  if (!known && operation->len > MAX_QUOTED) {
    return fail(err, WASMPLUG_DAPR_TYPES_ERROR_UNIMPLEMENTED,
                "operation of %llu bytes is not supported (supported: upper, lower, reverse, "
                "length)",
                (unsigned long long)operation->len);
  }
  if (!known) {
    return fail(err, WASMPLUG_DAPR_TYPES_ERROR_UNIMPLEMENTED,
                "operation \"%.*s\" is not supported (supported: upper, lower, reverse, length)",
                (int)operation->len, (const char *)operation->ptr);
  }
  if ((uint64_t)request->data.len > max_bytes) {
    return fail(err, WASMPLUG_DAPR_TYPES_ERROR_INVALID_ARGUMENT,
                "data is %llu bytes, more than " MAX_BYTES_KEY " (%llu)",
                (unsigned long long)request->data.len, (unsigned long long)max_bytes);
  }

  // Built here and handed over only when complete; zeroed so response_free is always safe.
  response_t response;
  memset(&response, 0, sizeof response);
  response.metadata.ptr = calloc(1, sizeof *response.metadata.ptr);
  if (response.metadata.ptr == NULL) {
    return out_of_memory(err, "response metadata");
  }
  response.metadata.len = 1;
  if (!dup_cstr(&response.metadata.ptr[0].f0, "operation") ||
      !dup_n(&response.metadata.ptr[0].f1, operation->ptr, operation->len) ||
      !dup_cstr(&response.content_type.val, CONTENT_TYPE)) {
    response_free(&response);
    return out_of_memory(err, "response metadata");
  }
  response.content_type.is_some = true;
  if (!transform(operation, request, &response, err)) {
    response_free(&response);
    return false;
  }
  *ret = response;
  return true;
}

bool exports_wasmplug_dapr_output_binding_invoke(request_t *request, response_t *ret,
                                                 wit_error_t *err) {
  bool ok = invoke(request, ret, err);
  request_free(request);
  return ok;
}

bool exports_wasmplug_dapr_output_binding_ping(wit_error_t *err) {
  (void)err;
  return true;
}

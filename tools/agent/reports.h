/* Batched reports of the worker agent: the starts, completions and
 * failures ready at once go in one request body {"reports":[...]}
 * (carried by a poll, or POST /workers/{id}/reports), and each is answered
 * on its own in {"results":[...]}, in order. Pure: JSON in, JSON out; the
 * agent keeps which job is in which batch.
 *
 * A batch holds at most DJS_AGENT_BATCH_MAX reports and DJS_AGENT_BATCH_MAX_BYTES
 * of body (the server's limits: 1,000 reports, bodies up to 1 MiB); the
 * first report always goes in, whatever its size. Embedded struct:
 * djs_agent_batch_init, then djs_agent_batch_add per report, then
 * djs_agent_batch_finish (which disposes it). */
#ifndef DJS_TOOLS_AGENT_REPORTS_H
#define DJS_TOOLS_AGENT_REPORTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define DJS_AGENT_BATCH_MAX 1000
#define DJS_AGENT_BATCH_MAX_BYTES (512u << 10)

/* One report: {"jobId","attempt","action"} and, for "complete", its
 * "result" (a new reference is taken), for "fail" its "error". A new
 * reference. action is "start", "complete" or "fail". */
json_t *djs_agent_report_item(const char *job_id, uint32_t attempt, const char *action, json_t *result, const char *error);

typedef struct djs_agent_batch {
    djs_buf_t text; /* the body so far */
    uint32_t n;     /* reports in it */
} djs_agent_batch_t;

void djs_agent_batch_init(djs_agent_batch_t *b);
/* Add item (borrowed) at the end: 0, or the batch is full and the item is
 * not in it (it goes in a next batch): DJS_ELIMIT at DJS_AGENT_BATCH_MAX
 * reports, DJS_ETOOBIG when its text would pass DJS_AGENT_BATCH_MAX_BYTES;
 * DJS_EINVAL if item cannot be encoded. */
int djs_agent_batch_add(djs_agent_batch_t *b, const json_t *item);
/* The body {"reports":[...]} (djs_free it); b is disposed. */
char *djs_agent_batch_finish(djs_agent_batch_t *b);

/* The answer to report i of a batch whose request got status and body
 * ans (parsed, or NULL): on a 2xx, results[i].status (missing: 0, so
 * retried); otherwise the request's own status for every report. Returns
 * djs_agent_answer_class of it (retry.h) and its status in *status; on a
 * final refusal inside a 2xx, why gets "STATUS TYPE: DETAIL" of that
 * result (why is left alone otherwise). */
int djs_agent_batch_result(long status, const json_t *ans, size_t i, long *item_status, char *why, size_t whylen);

#endif

#include "tools/agent/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tools/agent/retry.h"

json_t *djs_agent_report_item(const char *job_id, uint32_t attempt, const char *action, json_t *result, const char *error)
{
    json_t *o = json_pack("{s:s, s:i, s:s}", "jobId", job_id, "attempt", (int)attempt, "action", action);
    if (strcmp(action, "complete") == 0)
        json_object_set(o, "result", result);
    else if (strcmp(action, "fail") == 0)
        json_object_set_new(o, "error", json_string(error));
    return o;
}

void djs_agent_batch_init(djs_agent_batch_t *b)
{
    b->n = 0;
    djs_buf_init(&b->text);
    djs_buf_append(&b->text, "{\"reports\":[", 12);
}

int djs_agent_batch_add(djs_agent_batch_t *b, const json_t *item)
{
    if (b->n >= DJS_AGENT_BATCH_MAX)
        return DJS_ELIMIT;
    char *t = json_dumps(item, JSON_COMPACT);
    size_t tl = t ? strlen(t) : 0;
    int rc = t == NULL ? DJS_EINVAL : b->n > 0 && b->text.len + tl + 3 > DJS_AGENT_BATCH_MAX_BYTES ? DJS_ETOOBIG : 0;
    if (rc != 0) {
        free(t);
        return rc;
    }
    if (b->n > 0)
        djs_buf_append(&b->text, ",", 1);
    djs_buf_append(&b->text, t, tl);
    free(t);
    b->n++;
    return 0;
}

char *djs_agent_batch_finish(djs_agent_batch_t *b)
{
    djs_buf_append(&b->text, "]}", 3); /* with its NUL */
    char *body = djs_strndup((const char *)b->text.base, b->text.len - 1);
    djs_buf_dispose(&b->text);
    return body;
}

int djs_agent_batch_result(long status, const json_t *ans, size_t i, long *item_status, char *why, size_t whylen)
{
    int cls = djs_agent_answer_class(status);
    if (cls != DJS_AGENT_ANS_OK) {
        *item_status = status;
        return cls;
    }
    json_t *r = json_array_get(json_object_get(ans, "results"), i);
    long st = (long)json_integer_value(json_object_get(r, "status"));
    int c = djs_agent_answer_class(st);
    if (c == DJS_AGENT_ANS_FINAL) {
        const char *type = json_string_value(json_object_get(r, "type")), *detail = json_string_value(json_object_get(r, "detail"));
        snprintf(why, whylen, "%ld %s: %s", st, type ? type : "", detail ? detail : "");
    }
    *item_status = st;
    return c;
}

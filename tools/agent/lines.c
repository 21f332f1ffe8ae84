#include "tools/agent/lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void djs_agent_lines_init(djs_agent_lines_t *l)
{
    memset(l, 0, sizeof(*l));
    djs_buf_init(&l->line);
    djs_buf_init(&l->last);
    l->pct = -1;
}

void djs_agent_lines_dispose(djs_agent_lines_t *l)
{
    djs_buf_dispose(&l->line);
    djs_buf_dispose(&l->last);
}

int djs_agent_progress_parse(const char *s, size_t n, int *pct, char *step, size_t steplen)
{
    static const char prefix[] = "::progress";
    size_t pl = sizeof(prefix) - 1;
    if (n <= pl || memcmp(s, prefix, pl) != 0 || (s[pl] != ' ' && s[pl] != '\t'))
        return 0;
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(n - pl), s + pl);
    char *end;
    double v = strtod(tmp, &end);
    if (end == tmp || v != v)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    *pct = v < 0 ? 0 : v > 100 ? 100 : (int)(v + 0.5);
    snprintf(step, steplen, "%s", end);
    return 1;
}

static void line_done(djs_agent_lines_t *l)
{
    const char *s = (const char *)l->line.base;
    size_t n = l->line.len;
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    size_t lead = 0;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
        lead++;
    if (!l->line_long && n > lead) {
        djs_buf_reset(&l->last);
        djs_buf_append(&l->last, s + lead, n - lead);
        if (djs_agent_progress_parse(s + lead, n - lead, &l->pct, l->step, sizeof(l->step)))
            l->pending = 1;
    } else if (l->line_long) {
        djs_buf_reset(&l->last); /* an overlong last line is no result */
    }
    djs_buf_reset(&l->line);
    l->line_long = 0;
}

void djs_agent_lines_feed(djs_agent_lines_t *l, const char *p, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl ? (size_t)(nl - p) : len;
        if (!l->line_long && l->line.len + n <= DJS_AGENT_LINE_MAX)
            djs_buf_append(&l->line, p, n);
        else
            l->line_long = 1;
        if (nl == NULL)
            return;
        line_done(l);
        p += n + 1;
        len -= n + 1;
    }
}

void djs_agent_lines_end(djs_agent_lines_t *l)
{
    if (l->line.len > 0)
        line_done(l);
}

/* The job kinds the agent knows (kinds.c): a payload's "kind" names one.
 * To add one, see kinds.c and docs/worker.md. */
#ifndef DJS_TOOLS_AGENT_KINDS_H
#define DJS_TOOLS_AGENT_KINDS_H

#include "tools/agent/kind.h"

/* The kind table, NULL-name terminated, and lookup by name (NULL if none). */
extern const agent_kind_t agent_kinds[];
const agent_kind_t *agent_kind_find(const char *name);

#endif

/* The job kinds the agent knows (kinds.c): a payload's "kind" names one.
 * To add one, see kinds.c and docs/worker.md. */
#ifndef DJS_TOOLS_AGENT_KINDS_H
#define DJS_TOOLS_AGENT_KINDS_H

#include "tools/agent/kind.h"

/* The kind of that name (a row of kinds.c's table), or NULL if none. */
const djs_agent_kind_t *djs_agent_kind_find(const char *name);

#endif

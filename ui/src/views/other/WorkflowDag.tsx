// The workflow's DAG (loaded lazily: xyflow is not in the initial bundle):
// dagre lays the jobs out left to right, nodes are coloured by status, the
// critical path is highlighted, and a node opens its job.
import dagre from '@dagrejs/dagre';
import { Handle, Position, ReactFlow, Controls, type Edge as FlowEdge, type Node, type NodeProps } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useNavigate } from '@tanstack/react-router';
import { useMemo } from 'react';
import { fmtDuration } from '../../app/format';
import type { JobLite } from './api';
import { edgesOf, runSeconds } from './dag';
import { useColorMode } from './theme';

const W = 180;
const H = 52;

interface JobData extends Record<string, unknown> {
  job: JobLite;
  critical: boolean;
  seconds: number | null;
}

type JobNode = Node<JobData, 'job'>;

function JobNodeView({ data }: NodeProps<JobNode>) {
  const j = data.job;
  return (
    <div
      className={`o-dag-node${data.critical ? ' o-critical' : ''}`}
      data-testid="dag-node"
      data-status={j.status}
      data-job-id={j.id}
      title={`${j.name} · ${j.status}${data.critical ? ' · on the critical path' : ''}`}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="o-dag-node-name">{j.name}</div>
      <div className="o-dag-node-meta">
        <span>{j.status}</span>
        <span>{data.seconds === null ? '' : fmtDuration(data.seconds)}</span>
      </div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

const nodeTypes = { job: JobNodeView };

export interface DagProps {
  jobs: readonly JobLite[];
  critical: ReadonlySet<string>;
  now: number;
  at: number | undefined;
}

export default function WorkflowDag({ jobs, critical, now, at }: DagProps) {
  const navigate = useNavigate();
  const theme = useColorMode();

  // the layout depends on the graph's shape only, not on statuses
  const shape = jobs.map((j) => `${j.id}<${(j.dependencies ?? []).join(',')}`).join(';');
  const positions = useMemo(() => {
    const g = new dagre.graphlib.Graph<object, { width: number; height: number; x?: number; y?: number }, object>();
    g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 60, marginx: 10, marginy: 10 });
    g.setDefaultEdgeLabel(() => ({}));
    const parsed = shape ? shape.split(';').map((s) => s.split('<') as [string, string]) : [];
    const ids = new Set(parsed.map(([id]) => id));
    for (const [id] of parsed) g.setNode(id, { width: W, height: H });
    for (const [id, deps] of parsed) for (const d of deps ? deps.split(',') : []) if (ids.has(d)) g.setEdge(d, id);
    dagre.layout(g);
    const out = new Map<string, { x: number; y: number }>();
    let bottom = 0;
    for (const id of ids) {
      const n = g.node(id);
      out.set(id, { x: (n?.x ?? 0) - W / 2, y: (n?.y ?? 0) - H / 2 });
      bottom = Math.max(bottom, (n?.y ?? 0) + H / 2);
    }
    return { at: out, height: Math.min(560, Math.max(220, bottom + 60)) };
  }, [shape]);

  const nodes: JobNode[] = jobs.map((j) => ({
    id: j.id,
    type: 'job',
    position: positions.at.get(j.id) ?? { x: 0, y: 0 },
    data: { job: j, critical: critical.has(j.id), seconds: runSeconds(j, now) },
    draggable: false,
    connectable: false,
    ariaLabel: `${j.name}, ${j.status}: open the job`,
  }));
  const edges: FlowEdge[] = edgesOf(jobs).map((e) => {
    const onPath = critical.has(e.from) && critical.has(e.to);
    return {
      id: `${e.from}>${e.to}`,
      source: e.from,
      target: e.to,
      className: onPath ? 'o-critical-edge' : undefined,
      animated: jobs.find((j) => j.id === e.to)?.status === 'RUNNING',
    };
  });

  return (
    <div className="o-dag" aria-label="Workflow graph" style={{ height: positions.height }}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        minZoom={0.2}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable
        colorMode={theme}
        onNodeClick={(_e, n) => void navigate({ to: `/jobs/${n.id}` as string, search: { at } as never })}
      >
        <Controls showInteractive={false} position="top-right" />
      </ReactFlow>
    </div>
  );
}

import type { TopLevelSpec } from 'vega-lite';
import type { BenchmarkResults } from '../results.js';
import { mean } from '../results.js';
import { summaryColumns, summaryRows } from './summary.js';

/** A chart of the report: a title, a caption and a vega-lite spec (rendered to SVG without a browser). */
export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

const okMethods = (results: BenchmarkResults) => Object.entries(results.methods).filter(([, r]) => r.seeds.length > 0);

/** Every chart the results support, in report order. */
export function buildCharts(results: BenchmarkResults): Chart[] {
  return [lossCurves(results), deltaMBars(results), accuracyVsTime(results), ...affinityHeatmaps(results), ...groupTimelines(results), lambdaCurves(results), architectureTrees(results)].filter(
    (c): c is Chart => c !== undefined,
  );
}

function lossCurves(results: BenchmarkResults): Chart | undefined {
  const values: { method: string; task: string; epoch: number; loss: number }[] = [];
  for (const [method, r] of okMethods(results)) {
    const epochs = Math.max(0, ...r.seeds.map((s) => s.history.length));
    for (let e = 0; e < epochs; e++) {
      const tasks = new Set(r.seeds.flatMap((s) => Object.keys(s.history[e]?.trainLoss ?? {})));
      for (const task of tasks) {
        // Positive values only: the axis is logarithmic.
        const losses = r.seeds.map((s) => s.history[e]?.trainLoss[task]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
        if (losses.length) values.push({ method, task, epoch: e + 1, loss: mean(losses) });
      }
    }
  }
  if (!values.length) return undefined;
  return {
    id: 'loss-curves',
    title: 'Training loss per task',
    caption: 'Mean training loss of each task per epoch (mean over seeds).',
    spec: {
      data: { values },
      facet: { column: { field: 'task', type: 'nominal', title: null } },
      spec: {
        width: 260,
        height: 200,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
          y: { field: 'loss', type: 'quantitative', scale: { type: 'log' } },
          color: { field: 'method', type: 'nominal', scale: { scheme: 'tableau20' } },
        },
      },
    },
  };
}

function deltaMBars(results: BenchmarkResults): Chart | undefined {
  const rows = summaryRows(results).filter((r) => r.deltaM && r.method !== 'STL');
  if (!rows.length) return undefined;
  const values = rows.map((r) => ({ method: r.method, deltaM: r.deltaM!.mean, lo: r.deltaM!.mean - r.deltaM!.std, hi: r.deltaM!.mean + r.deltaM!.std })).sort((a, b) => b.deltaM - a.deltaM);
  return {
    id: 'delta-m',
    title: 'Δm against single-task learning',
    caption: 'Mean relative change of the test metrics against STL, in % (positive is better); error bars: ± one standard deviation over seeds.',
    spec: {
      data: { values },
      width: 420,
      height: 24 * values.length,
      encoding: { y: { field: 'method', type: 'nominal', sort: values.map((v) => v.method), title: null } },
      layer: [
        { mark: 'bar', encoding: { x: { field: 'deltaM', type: 'quantitative', title: 'Δm (%)' }, color: { condition: { test: 'datum.deltaM >= 0', value: '#4c78a8' }, value: '#e45756' } } },
        { mark: { type: 'rule' }, encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } },
      ],
    },
  };
}

function accuracyVsTime(results: BenchmarkResults): Chart | undefined {
  const columns = summaryColumns(results);
  const first = columns[0];
  if (!first) return undefined;
  const metric = first.metric;
  const indices = columns.map((c, i) => (c.metric === metric ? i : -1)).filter((i) => i >= 0);
  const values = summaryRows(results)
    .filter((r) => r.seeds > 0)
    .map((r) => ({ method: r.method, seconds: r.wallSeconds, score: mean(indices.map((i) => r.cells[i]!.mean)) * (metric === 'accuracy' ? 100 : 1) }))
    .filter((v) => Number.isFinite(v.score) && Number.isFinite(v.seconds));
  if (!values.length) return undefined;
  const label = `mean test ${metric}${metric === 'accuracy' ? ' (%)' : ''} over target tasks`;
  return {
    id: 'accuracy-vs-time',
    title: `${metric === 'accuracy' ? 'Accuracy' : metric} vs wall time`,
    caption: `${label} against the wall time of one job (mean over seeds; timings depend on the machine and how many jobs ran at once).`,
    spec: {
      data: { values },
      width: 420,
      height: 280,
      encoding: { x: { field: 'seconds', type: 'quantitative', title: 'wall time per job (s)', scale: { zero: false } }, y: { field: 'score', type: 'quantitative', title: label, scale: { zero: false } } },
      layer: [{ mark: { type: 'point', filled: true, size: 60 }, encoding: { color: { field: 'method', type: 'nominal', legend: null, scale: { scheme: 'tableau20' } } } }, { mark: { type: 'text', dx: 6, align: 'left' }, encoding: { text: { field: 'method' } } }],
    },
  };
}

function affinityHeatmaps(results: BenchmarkResults): Chart[] {
  const charts: Chart[] = [];
  for (const [method, r] of okMethods(results)) {
    const records = r.seeds.map((s) => s.affinity).filter((a) => a !== undefined);
    if (!records.length) continue;
    const tasks = records[0]!.tasks;
    const values = tasks.flatMap((source, i) => tasks.map((target, j) => ({ source, target, value: mean(records.map((a) => a.matrix[i]?.[j] ?? NaN)) })));
    const kind = records[0]!.kind ?? 'inter-task';
    // A symmetric colour domain keeps 0 white whatever the signs of the values.
    const extent = Math.max(1e-12, ...values.map((v) => Math.abs(v.value)).filter(Number.isFinite));
    charts.push({
      id: `affinity-${slug(method)}`,
      title: `${method}: ${kind} affinity`,
      caption: `Affinity of the row task onto the column task, averaged over training and seeds (${kind}; positive: a step on the source lowers the target's loss).`,
      spec: {
        data: { values },
        width: Math.max(160, 40 * tasks.length),
        height: Math.max(160, 40 * tasks.length),
        encoding: { x: { field: 'target', type: 'nominal', sort: [...tasks], title: 'target task' }, y: { field: 'source', type: 'nominal', sort: [...tasks], title: 'source task' } },
        layer: [
          { mark: 'rect', encoding: { color: { field: 'value', type: 'quantitative', scale: { scheme: 'redblue', domain: [-extent, extent] }, title: 'affinity' } } },
          { mark: { type: 'text', fontSize: 10 }, encoding: { text: { field: 'value', type: 'quantitative', format: '.3~g' } } },
        ],
      },
    });
  }
  return charts;
}

function groupTimelines(results: BenchmarkResults): Chart[] {
  const charts: Chart[] = [];
  for (const [method, r] of okMethods(results)) {
    const seed = r.seeds.find((s) => s.groups && s.groups.length > 0);
    if (!seed?.groups) continue;
    // Each record holds until the next one (the last record marks the end of training).
    const records = seed.groups;
    const values = records.flatMap((g, i) =>
      g.groups.flatMap((group) => group.map((task) => ({ step: g.step, end: records[i + 1]?.step ?? g.step + 1, task, members: group.join(' + ') }))),
    );
    charts.push({
      id: `groups-${slug(method)}`,
      title: `${method}: task groups over training`,
      caption: `Which group each task was updated in, at the recorded steps (seed ${seed.seed}); tasks of one colour at one step were updated together.`,
      spec: {
        data: { values },
        width: 480,
        height: Math.max(80, 22 * new Set(values.map((v) => v.task)).size),
        mark: { type: 'rect' },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'training step', axis: { format: 'd' } },
          x2: { field: 'end' },
          y: { field: 'task', type: 'nominal' },
          color: { field: 'members', type: 'nominal', title: 'group', scale: { scheme: 'tableau20' } },
        },
      },
    });
  }
  return charts;
}

function lambdaCurves(results: BenchmarkResults): Chart | undefined {
  const values = okMethods(results).flatMap(([method, r]) => r.seeds.flatMap((s) => (s.lambdas ?? []).map((lambda, round) => ({ method, seed: `seed ${s.seed}`, round: round + 1, lambda }))));
  if (!values.length) return undefined;
  return {
    id: 'forkmerge-lambdas',
    title: 'ForkMerge: λ per merge',
    caption: 'λ* chosen at each merge (weight moved off the first branch; 0: the auxiliary updates were discarded).',
    spec: {
      data: { values },
      width: 420,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: { x: { field: 'round', type: 'quantitative', title: 'merge round', axis: { tickMinStep: 1 } }, y: { field: 'lambda', type: 'quantitative', scale: { domain: [0, 1] }, title: 'λ*' }, color: { field: 'seed', type: 'nominal' }, strokeDash: { field: 'method', type: 'nominal' } },
    },
  };
}

function architectureTrees(results: BenchmarkResults): Chart | undefined {
  const values = okMethods(results).flatMap(([method, r]) =>
    // Branch point p (1-based, as in the paper): the task shares the first p − 1 modules and owns the rest.
    r.seeds.flatMap((s) => (s.architecture ? Object.entries(s.architecture.branchPoints).map(([task, point]) => ({ method, seed: s.seed, task, shared: point - 1, label: `${task} (seed ${s.seed})` })) : [])),
  );
  if (!values.length) return undefined;
  return {
    id: 'derived-architecture',
    title: 'CoNAL: derived tree',
    caption: 'Where each task branches off the shared trunk in the derived network: the number of all-shared modules before its branch point (the task owns every module after it).',
    spec: {
      data: { values },
      width: 420,
      height: Math.max(60, 22 * values.length),
      encoding: { y: { field: 'label', type: 'nominal', title: null }, x: { field: 'shared', type: 'quantitative', title: 'shared modules before the branch point', axis: { tickMinStep: 1 } } },
      layer: [{ mark: 'bar', encoding: { color: { field: 'task', type: 'nominal', legend: null } } }, { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { text: { field: 'shared' } } }],
    },
  };
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/**
 * The VM page's metric charts (uPlot): host CPU %, MIPS, memory, disk and network rates, drawn
 * from a StatsHistory (at most the last hour). Each chart follows its box's width.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatBytes, type Series, type StatsHistory } from './stats.ts';
import { h } from './dom.ts';

interface ChartDef {
  title: string;
  series: { key: Series; label: string; color: string }[];
  format: (v: number) => string;
}

const rate = (v: number) => `${formatBytes(v)}/s`;

const CHARTS: ChartDef[] = [
  {
    title: 'Host CPU (%, 100 = one core)',
    series: [{ key: 'cpu', label: 'CPU %', color: '#4f8cff' }],
    format: (v) => v.toFixed(0),
  },
  {
    title: 'Guest instructions (MIPS)',
    series: [{ key: 'mips', label: 'MIPS', color: '#c792ea' }],
    format: (v) => v.toFixed(0),
  },
  {
    title: 'Memory (VM process RSS, MiB)',
    series: [{ key: 'rss', label: 'RSS MiB', color: '#7fd962' }],
    format: (v) => v.toFixed(0),
  },
  {
    title: 'Disk I/O',
    series: [
      { key: 'diskRd', label: 'read', color: '#ffcb6b' },
      { key: 'diskWr', label: 'write', color: '#ff6b6b' },
    ],
    format: rate,
  },
  {
    title: 'Network',
    series: [
      { key: 'netRx', label: 'rx', color: '#89ddff' },
      { key: 'netTx', label: 'tx', color: '#f78c6c' },
    ],
    format: rate,
  },
];

const HEIGHT = 140;

export class Charts {
  private readonly plots: { plot: uPlot; def: ChartDef; box: HTMLElement }[] = [];
  private readonly observer: ResizeObserver;

  constructor(
    container: HTMLElement,
    private readonly history: StatsHistory,
  ) {
    for (const def of CHARTS) {
      const box = h('div', { class: 'chart' });
      container.append(box);
      const axis = { stroke: '#9aa3b2', grid: { stroke: '#2c3340' }, ticks: { stroke: '#2c3340' } };
      const plot = new uPlot(
        {
          title: def.title,
          width: Math.max(200, box.clientWidth),
          height: HEIGHT,
          scales: { x: { time: true } },
          axes: [axis, { ...axis, size: 70, values: (_u, vals) => vals.map((v) => (v == null ? '' : def.format(v))) }],
          series: [
            {},
            ...def.series.map((s) => ({
              label: s.label,
              stroke: s.color,
              width: 1.5,
              spanGaps: false,
              value: (_u: uPlot, v: number | null) => (v == null ? '–' : def.format(v)),
            })),
          ],
        },
        history.columns(def.series.map((s) => s.key)) as uPlot.AlignedData,
        box,
      );
      this.plots.push({ plot, def, box });
    }
    this.observer = new ResizeObserver(() => {
      for (const p of this.plots) {
        const width = Math.max(200, p.box.clientWidth);
        if (width !== p.plot.width) p.plot.setSize({ width, height: HEIGHT });
      }
    });
    this.observer.observe(container);
  }

  /** Redraws from the history (after a new sample). */
  update(): void {
    for (const p of this.plots)
      p.plot.setData(this.history.columns(p.def.series.map((s) => s.key)) as uPlot.AlignedData);
  }

  dispose(): void {
    this.observer.disconnect();
    for (const p of this.plots) p.plot.destroy();
  }
}

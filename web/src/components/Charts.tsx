/** Chart.js through react-chartjs-2: line and bar charts that fit their card on any screen. */
import {
  BarElement,
  CategoryScale,
  Chart as ChartJS,
  Filler,
  Legend,
  LinearScale,
  LineElement,
  PointElement,
  Tooltip,
  type ChartOptions,
} from "chart.js";
import { Bar, Line } from "react-chartjs-2";

ChartJS.register(CategoryScale, LinearScale, PointElement, LineElement, BarElement, Filler, Tooltip, Legend);

export const PALETTE = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b"];

export interface Series {
  label: string;
  data: (number | null)[];
}

function scales(format: (v: number) => string, horizontal: boolean) {
  const valueAxis = { beginAtZero: true, ticks: { callback: (v: string | number) => format(Number(v)) } };
  const labelAxis = { ticks: { autoSkip: true, maxRotation: 0 } };
  return horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis };
}

const common = { responsive: true, maintainAspectRatio: false, animation: false } as const;

function lineOptions(format: (v: number) => string): ChartOptions<"line"> {
  return {
    ...common,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label ?? ""}: ${format(Number(ctx.parsed.y))}` } } },
    scales: scales(format, false),
  };
}

function barOptions(format: (v: number) => string, horizontal: boolean): ChartOptions<"bar"> {
  return {
    ...common,
    indexAxis: horizontal ? "y" : "x",
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom" },
      tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label ?? ""}: ${format(Number(horizontal ? ctx.parsed.x : ctx.parsed.y))}` } },
    },
    scales: scales(format, horizontal),
  };
}

export function LineChart(props: { labels: string[]; series: Series[]; format: (v: number) => string; height?: number; label: string }) {
  const data = {
    labels: props.labels,
    datasets: props.series.map((s, i) => ({
      label: s.label,
      data: s.data,
      borderColor: PALETTE[i % PALETTE.length],
      backgroundColor: `${PALETTE[i % PALETTE.length]}22`,
      fill: props.series.length === 1,
      tension: 0.25,
      pointRadius: 2,
      spanGaps: true,
    })),
  };
  return (
    <div className="chart" style={{ height: props.height ?? 240 }} role="img" aria-label={props.label}>
      <Line data={data} options={lineOptions(props.format)} />
    </div>
  );
}

export function BarChart(props: { labels: string[]; series: Series[]; format: (v: number) => string; height?: number; horizontal?: boolean; label: string }) {
  const data = {
    labels: props.labels,
    datasets: props.series.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: PALETTE[i % PALETTE.length], borderRadius: 3 })),
  };
  return (
    <div className="chart" style={{ height: props.height ?? 240 }} role="img" aria-label={props.label}>
      <Bar data={data} options={barOptions(props.format, props.horizontal ?? false)} />
    </div>
  );
}

import { useState } from "react";

export interface PeriodChoice {
  from?: string;
  to?: string;
  label: string;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const minus = (days: number) => day(new Date(Date.now() - days * 86_400_000));

export function presets(): PeriodChoice[] {
  const today = day(new Date());
  return [
    { label: "Last 30 days", from: minus(29), to: today },
    { label: "Last 90 days", from: minus(89), to: today },
    { label: "Last 12 months", from: minus(364), to: today },
    { label: "Year to date", from: `${today.slice(0, 4)}-01-01`, to: today },
    { label: "All time" },
  ];
}

export function PeriodPicker(props: { value: PeriodChoice; onChange: (p: PeriodChoice) => void }) {
  const [from, setFrom] = useState(props.value.from ?? "");
  const [to, setTo] = useState(props.value.to ?? "");
  return (
    <div className="period" role="group" aria-label="Period">
      <select
        aria-label="Preset period"
        value={props.value.label}
        onChange={(e) => {
          const p = presets().find((x) => x.label === e.target.value);
          if (p) {
            setFrom(p.from ?? "");
            setTo(p.to ?? "");
            props.onChange(p);
          }
        }}
      >
        {presets().map((p) => (
          <option key={p.label}>{p.label}</option>
        ))}
        {props.value.label === "Custom" ? <option>Custom</option> : null}
      </select>
      <form
        className="custom-period"
        onSubmit={(e) => {
          e.preventDefault();
          props.onChange({ label: "Custom", ...(from ? { from } : {}), ...(to ? { to } : {}) });
        }}
      >
        <input type="date" aria-label="From" value={from} onChange={(e) => setFrom(e.target.value)} />
        <span aria-hidden="true">→</span>
        <input type="date" aria-label="To" value={to} onChange={(e) => setTo(e.target.value)} />
        <button type="submit" className="secondary">
          Apply
        </button>
      </form>
    </div>
  );
}

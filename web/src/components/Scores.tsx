/** How stages, RFM segments and churn signals look wherever they appear. */
import type { Stage, StoredScore } from "../types.ts";

export const STAGE_LABELS: Record<Stage, string> = {
  prospect: "Prospect",
  "first-time buyer": "First-time buyer",
  repeat: "Repeat",
  loyal: "Loyal / VIP",
  "at risk": "At risk",
  lapsed: "Lapsed",
  "won back": "Won back",
};

export const SIGNAL_LABELS: Record<keyof StoredScore["signals"], string> = {
  buysLessOften: "Buys less often",
  buysCheaper: "Buys cheaper items",
  returnsMore: "Returns more",
  bigSpenderRare: "Big spender, buys rarely",
};

export const SIGNAL_KEYS = ["buysLessOften", "buysCheaper", "returnsMore", "bigSpenderRare"] as const;

export function StageBadge({ stage }: { stage: Stage }) {
  return <span className={`badge stage-${stage.replace(/[^a-z]+/g, "-")}`}>{STAGE_LABELS[stage]}</span>;
}

export function SignalMarks({ signals }: { signals: StoredScore["signals"] }) {
  const on = SIGNAL_KEYS.filter((k) => signals[k]);
  if (on.length === 0) return null;
  return (
    <span className="signals">
      {on.map((k) => (
        <span key={k} className={k === "bigSpenderRare" ? "badge info" : "badge warn"}>
          {SIGNAL_LABELS[k]}
        </span>
      ))}
    </span>
  );
}

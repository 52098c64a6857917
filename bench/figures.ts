/**
 * The figures of `deno task bench`: each suite reports DES next to a
 * baseline measured in the same run, with the ratio read in the sense of its
 * goal, and the runner prints them all as one table.
 *
 * @module
 */

/** One figure: DES against its baseline. */
export interface Figure {
  /** Suite that measured it (`format`, `mark`, `pack`, `read`, `serve`, `scale`, `audit`). */
  suite: string;
  /** What is compared, e.g. `hot reads on S3, req/s`. */
  name: string;
  /** The DES value, as printed. */
  des: string;
  /** The baseline value, as printed (or the goal's reference when there is no baseline). */
  baseline: string;
  /** DES / baseline in the sense of the goal (× of the baseline's throughput or latency). */
  ratio?: number;
  /** The goal on the ratio, if any. */
  goal?: { op: ">=" | "<="; value: number };
}

/** Whether a figure meets its goal (`undefined` without a goal or ratio). */
export function goalMet(f: Figure): boolean | undefined {
  if (!f.goal || f.ratio === undefined || !Number.isFinite(f.ratio)) return undefined;
  return f.goal.op === ">=" ? f.ratio >= f.goal.value : f.ratio <= f.goal.value;
}

/** The figures as one Markdown table (aligned, so it reads in a terminal too). */
export function figureTable(figures: Figure[]): string[] {
  const rows = figures.map((f) => {
    const met = goalMet(f);
    return [
      f.suite,
      f.name,
      f.des,
      f.baseline,
      f.ratio === undefined ? "" : `${f.ratio.toFixed(2)}×`,
      f.goal ? `${f.goal.op === ">=" ? "≥" : "≤"} ${f.goal.value}×` : "",
      met === undefined ? "" : met ? "met" : "**missed**",
    ];
  });
  const head = ["suite", "figure", "DES", "baseline", "ratio", "goal", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `| ${
      cells.map((c, i) => i >= 2 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i])).join(
        " | ",
      )
    } |`;
  const rule = `| ${
    widths.map((w, i) => (i >= 2 && i <= 5 ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")
  } |`;
  return [line(head), rule, ...rows.map(line)];
}

/** `1,234` for counts. */
export function count(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

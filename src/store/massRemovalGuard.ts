/** What a full snapshot would do to the people its source lists now (SPEC §3.8). */
export interface MassRemovalReview {
  /** People the source lists now. */
  existing: number;
  wouldRemove: number;
  wouldDeactivate: number;
  /** The connection's threshold, a fraction. */
  threshold: number;
}

/**
 * The mass-removal guard's decision, shared by real runs (evaluateAndApply) and dry runs: a full snapshot that would
 * remove or deactivate more than the threshold of a non-empty source is held.
 */
export function massRemovalVerdict(r: MassRemovalReview): { held: boolean; reason: string | null } {
  const held = r.existing > 0 && (r.wouldRemove + r.wouldDeactivate) / Math.max(r.existing, 1) > r.threshold;
  return {
    held,
    reason: held
      ? `this full snapshot would remove ${r.wouldRemove} and deactivate ${r.wouldDeactivate} of ${r.existing} people (more than ${Math.round(r.threshold * 100)} %)`
      : null,
  };
}

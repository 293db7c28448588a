// "Did you mean" suggestions: the closest candidate by edit distance, when it is close enough
// to be a plausible typo rather than a different word.

/** Levenshtein distance with a single reused row (inputs are short keys and enum values). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      const substitution = diagonal + (a[i - 1] === b[j - 1] ? 0 : 1);
      row[j] = Math.min(above + 1, row[j - 1]! + 1, substitution);
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * The candidate closest to `input`: one it starts with (or that starts with it), else the
 * nearest within a third of its length (at least 2 edits).
 */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const lowered = input.toLowerCase();
  // A shortened or lengthened word ("warning" for "warn") is a typo whatever its edit distance.
  const prefixMatch = candidates.find(
    (candidate) => lowered.startsWith(candidate.toLowerCase()) || candidate.toLowerCase().startsWith(lowered),
  );
  if (prefixMatch !== undefined && lowered.length >= 3) return prefixMatch;
  const budget = Math.max(2, Math.floor(input.length / 3));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lowered, candidate.toLowerCase());
    if (distance <= budget && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

// The categories a bar chart names: the largest few, the rest summed into one bar.

/** One bar: a category and its value. */
export interface CategoryValue {
  name: string;
  value: number;
}

/**
 * The `limit` largest categories by value (ties by name), then, when more remain, one bar
 * "N others" holding their sum, so the bars always add up to the total. An empty name reads
 * `emptyName`.
 */
export function topCategories(rows: readonly CategoryValue[], limit: number, emptyName: string): CategoryValue[] {
  const sorted = [...rows].sort((a, b) => b.value - a.value || a.name.localeCompare(b.name)).map((r) => ({ name: r.name || emptyName, value: r.value }));
  if (sorted.length <= limit) return sorted;
  const rest = sorted.slice(limit - 1);
  return [...sorted.slice(0, limit - 1), { name: `${rest.length} others`, value: rest.reduce((n, r) => n + r.value, 0) }];
}

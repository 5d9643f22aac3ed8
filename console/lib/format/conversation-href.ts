// Links to a conversation's traces. Pure functions.

/** The trace list filtered to one conversation's traces (cursor paging and every other filter there). */
export function conversationTracesHref(conversationId: string, keep: { range?: string; tenant?: string | undefined }): string {
  const q = new URLSearchParams({ attr: `gen_ai.conversation.id=${conversationId}` });
  if (keep.tenant !== undefined) q.set("tenant", keep.tenant);
  if (keep.range !== undefined) q.set("range", keep.range);
  return `/traces?${q.toString()}`;
}

import { Skeleton } from "../../../../components/ui";

/** Shown while a console page renders on the server. */
export default function Loading() {
  return (
    <div aria-busy="true" aria-live="polite" style={{ display: "flex", flexDirection: "column", gap: 20 }}>
      <span className="visually-hidden">Loading…</span>
      <Skeleton height={28} width={240} />
      <div className="grid grid-4">
        {[0, 1, 2, 3].map((i) => <div key={i} className="card stat"><Skeleton height={14} width={90} /><div style={{ height: 10 }} /><Skeleton height={26} width={120} /></div>)}
      </div>
      <div className="card card-body"><Skeleton height={220} /></div>
      <div className="card card-body"><Skeleton height={160} /></div>
    </div>
  );
}

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Card, EmptyState, PageHeader } from "../../../../components/ui";
import { loadConfig } from "../../../../lib/config";
import { inlineCode, readmeSection, type DocBlock } from "../../../../lib/docs/readme-section";

export const metadata: Metadata = { title: "Control plane" };

/** The "In short" section of docs/control-plane.md: how runtimes follow the settings operators set here. */
export default async function ControlPlaneHelpPage() {
  const markdown = await readFile(join(loadConfig().docsDir, "control-plane.md"), "utf8").catch(() => null);
  const blocks = markdown ? readmeSection(markdown, "In short") : null;
  return (
    <>
      <PageHeader title="Control plane" description="From docs/control-plane.md: how runtimes follow the tenant settings set in this console" />
      <Card>
        {blocks ? (
          <div className="doc" data-testid="readme-section">{blocks.map(render)}</div>
        ) : (
          <EmptyState title="The docs are not part of this deployment">
            Read docs/control-plane.md in the Troupe repository: a runtime follows its tenants&apos; settings when it is started with
            <span className="mono"> followControlPlane</span> and a service key.
          </EmptyState>
        )}
      </Card>
    </>
  );
}

function inline(text: string): ReactNode[] {
  return inlineCode(text).map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part.replace(/\*\*|\[([^\]]+)\]\([^)]+\)/g, (m, label: string | undefined) => label ?? "")));
}

function render(block: DocBlock, i: number): ReactNode {
  switch (block.kind) {
    case "heading": return <h3 key={i}>{inline(block.text)}</h3>;
    case "paragraph": return <p key={i}>{inline(block.text)}</p>;
    case "list": return <ul key={i}>{block.items.map((item, j) => <li key={j}>{inline(item)}</li>)}</ul>;
    case "code": return <pre key={i} className="secret">{block.text}</pre>;
    case "table":
      return (
        <div key={i} className="table-wrap">
          <table className="data">
            <tbody>{block.rows.map((row, j) => <tr key={j}>{row.map((cell, k) => (j === 0 ? <th key={k}>{inline(cell)}</th> : <td key={k} style={{ whiteSpace: "normal" }}>{inline(cell)}</td>))}</tr>)}</tbody>
          </table>
        </div>
      );
  }
}

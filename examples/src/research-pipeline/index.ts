// The research pipeline example (@troupe/examples/research-pipeline): planner → researcher
// (with a per-tenant search tool) → writer, written only on @troupe/runtime's public API.
export { registerResearchPipeline, runResearch, RESEARCH_AGENT_TYPES } from "./research-pipeline.js";
export type { ResearchPipelineOptions, ResearchReport, ResearchFinding } from "./research-pipeline.js";
export { DEFAULT_RESEARCH_CORPUS, researchCorpus } from "./corpus.js";
export type { CorpusDocument } from "./corpus.js";
export { searchToolRegistration } from "./search-tool.js";
export type { SearchResult } from "./search-tool.js";
export { simulatedResearchModel } from "./simulated-model.js";
export { PROMPTS } from "./prompts.js";

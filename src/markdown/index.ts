// The Markdown engine every relay renders with: one parse, one splitter; exported for custom relays.
export { parseMarkdown, type MarkdownTree, type Token, type Tokens } from './parse.js'
export { type Flow, type Unit, type Gap, type Fence, Rank, FlowBuilder, joinFlows, textFlow } from './flow.js'
export { splitFlow, type Post, type PostLimits, type Segment } from './split.js'
export { MarkdownWriter, type Container } from './writer.js'
export {
  graphemes,
  graphemeCut,
  shorten,
  linkDestination,
  displayWidth,
  plainInline,
  monospaceTable,
  cellText,
  type Align
} from './text.js'
export { terminalSafe, renderTerminal } from './terminal.js'

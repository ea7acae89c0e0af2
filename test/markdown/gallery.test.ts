import { systemClock } from '../../src/clock.js'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import discordPlugin from '../../plugins/discord/index.js'
import slackPlugin from '../../plugins/slack/index.js'
import { renderForTerminal } from '../../plugins/console/index.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { FakeSlack, fakeChannel, fakeToken, relayMessage, type PostedMessage } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { decodeReferences } from '../../src/markdown/parse.js'
import { deliveryContext, recordingLogger, relayMessage as discordMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

/*
 * The gallery: realistic answers (English, Chinese, Japanese, mixed; code, tables, lists, links,
 * emoji, very long ones), each relayed through the real SDKs to the strict fakes. Every post must
 * be accepted, every letter of the answer must arrive in order, and what each platform shows must
 * match the reviewed snapshot beside the answer (`<name>.slack.txt`, `.discord.txt`, `.console.txt`).
 * After a deliberate change, GALLERY_UPDATE=1 rewrites the snapshots: read them before committing.
 */

const dir = join(import.meta.dirname, '../fixtures/markdown')
const answers = readdirSync(dir)
  .filter(name => name.endsWith('.md'))
  .map(name => ({ name: name.replace(/\.md$/, ''), text: readFileSync(join(dir, name), 'utf8') }))
const update = process.env.GALLERY_UPDATE === '1'

/** The letters and digits of a text, in order: what no rendering may lose. */
const letters = (text: string) => text.match(/[\p{L}\p{N}]/gu) ?? []
const source = (text: string) => letters(decodeReferences(text).replace(/^(\s*(?:[-*+]|\d+\.)\s+)\[[ xX]\]/gm, '$1'))

function inOrder(wanted: string[], shown: string[]): string | undefined {
  let j = 0
  for (const [i, c] of wanted.entries()) {
    while (j < shown.length && shown[j] !== c) j++
    if (j === shown.length)
      return `letter ${i} (${c}) of ${JSON.stringify(wanted.slice(i, i + 20).join(''))} is missing`
    j++
  }
  return undefined
}

function snapshot(t: Pick<typeof import('tap').default, 'equal'>, file: string, actual: string): void {
  const path = join(dir, file)
  if (update) writeFileSync(path, actual)
  t.equal(actual, readFileSync(path, 'utf8'), file)
}

type RichElement = { type: string; text?: string; url?: string; style?: Record<string, boolean> }
type SlackCell = { type: 'raw_text'; text: string } | { type: 'rich_text'; elements: { elements: RichElement[] }[] }

/** A table cell as a reader sees it: rich text's styles marked as *bold*, _italic_, ~strike~, `code`, <url|label>. */
function shownCell(cell: SlackCell): string {
  if (cell.type === 'raw_text') return cell.text
  return cell.elements
    .flatMap(section => section.elements)
    .map(element => {
      let text =
        element.type === 'link' ? `<${element.url}${element.text ? `|${element.text}` : ''}>` : String(element.text)
      if (element.style?.code) text = `\`${text}\``
      if (element.style?.strike) text = `~${text}~`
      if (element.style?.italic) text = `_${text}_`
      if (element.style?.bold) text = `*${text}*`
      return text
    })
    .join('')
}

/** A table block's words in the order the source has them: a link's label before its URL. */
function tableWords(table: { rows: SlackCell[][] }): string {
  const cell = (c: SlackCell) =>
    c.type === 'raw_text'
      ? c.text
      : c.elements
          .flatMap(section => section.elements)
          .map(e => (e.type === 'link' ? `${e.text ?? ''} ${e.url}` : e.text))
          .join('')
  return table.rows.map(row => row.map(cell).join(' ')).join('\n')
}

function slackShown(posts: PostedMessage[]): string {
  return posts
    .map((post, i) => {
      const blocks = (post.blocks ?? []).map(block => {
        if (block.type === 'markdown') return `[markdown]\n${String(block.text)}`
        if (block.type === 'table') {
          const rows = (block as { rows: SlackCell[][] }).rows
          const settings = (block as { column_settings?: unknown }).column_settings
          return `[table${settings ? ` ${JSON.stringify(settings)}` : ''}]\n${rows.map(row => row.map(shownCell).join(' ┃ ')).join('\n')}`
        }
        return `[${block.type}]`
      })
      return `━━ post ${i + 1} ━━ text: ${JSON.stringify(post.text)}\n${blocks.join('\n')}`
    })
    .join('\n')
}

const slack = await FakeSlack.start({ rateLimit: false })
const discord = await new FakeDiscord().start()
t.teardown(async () => {
  await slack.close()
  await discord.close()
})

t.ok(answers.length >= 30, `${answers.length} answers in the gallery`)

for (const answer of answers) {
  t.test(answer.name, async t => {
    // Slack, through the real WebClient, customize on so posts hold only the answer.
    const slackRelay = await slackPlugin.create(
      {
        token: fakeToken,
        channel: fakeChannel,
        apiUrl: slack.apiUrl,
        customize: true,
        pace: { intervalMs: 0, burst: 1 }
      },
      { name: 'slack.gallery', logger: recordingLogger(), configDir: '.', clock: systemClock }
    )
    const before = slack.messages.length
    const outcome = await deliverOne(slackRelay, relayMessage({ text: answer.text }), deliveryContext(memoryState()))
    t.equal(outcome.status, 'delivered', 'Slack accepted every post')
    const posts = slack.messages.slice(before).filter(m => m.thread_ts)
    const slackText = posts
      .flatMap(p => p.blocks ?? [])
      .map(b => (b.type === 'table' ? tableWords(b as { rows: SlackCell[][] }) : String(b.text ?? '')))
      .join('\n')
    t.equal(inOrder(source(answer.text), letters(slackText)), undefined, 'Slack: every letter, in order')
    snapshot(t, `${answer.name}.slack.txt`, slackShown(posts))

    // Discord, through @discordjs/rest, as a webhook-free bot in channel mode.
    const channel = discord.addChannel(ChannelType.Text)
    const discordRelay = await discordPlugin.create(
      { token: discord.token, channel: channel.id, mode: 'channel', apiUrl: discord.api },
      { name: 'discord.gallery', logger: recordingLogger(), configDir: '.', clock: systemClock }
    )
    const delivered = await deliverOne(
      discordRelay,
      discordMessage({ text: answer.text }),
      deliveryContext(memoryState())
    )
    t.equal(delivered.status, 'delivered', 'Discord accepted every post')
    const contents = discord.messagesIn(channel.id).map(m => m.content ?? '')
    t.ok(
      contents.every(c => c.length <= 2000),
      'within 2,000 characters'
    )
    t.equal(inOrder(source(answer.text), letters(contents.join('\n'))), undefined, 'Discord: every letter, in order')
    snapshot(t, `${answer.name}.discord.txt`, contents.map((c, i) => `━━ post ${i + 1} ━━\n${c}`).join('\n'))

    const terminal = renderForTerminal(relayMessage({ messageId: 'm', text: answer.text }))
    t.equal(inOrder(source(answer.text), letters(terminal)), undefined, 'console: every letter, in order')
    snapshot(t, `${answer.name}.console.txt`, terminal)
  })
}

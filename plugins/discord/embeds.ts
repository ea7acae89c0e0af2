import type { APIEmbed } from 'discord-api-types/v10'
import type { FlowOutput } from '../../src/message.js'
import { linkDestination, shorten } from '../../src/markdown/text.js'
import { discordTexts } from './markdown.js'

/** Discord's embed limits (platforms.md); every embed the relay builds stays within them. */
export const EmbedLimit = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  author: 256,
  perMessage: 10,
  perMessageChars: 6000
} as const

/** The parts of Discord's embed the relay fills. */
export type Embed = Pick<APIEmbed, 'title' | 'description' | 'color' | 'footer' | 'author' | 'fields'>

/** The characters Discord counts towards the 6,000 of a message (title, description, fields, footer, author). */
export function embedChars(embed: Embed): number {
  let chars = (embed.title?.length ?? 0) + (embed.description?.length ?? 0)
  for (const field of embed.fields ?? []) chars += field.name.length + field.value.length
  return chars + (embed.footer?.text.length ?? 0) + (embed.author?.name.length ?? 0)
}

export { shorten }

// Labels are this short so the words they carry always fit as title and footer.
const SHORT_LABEL = 200

function audioLines(audio: FlowOutput['audio']): string[] {
  return audio.map((clip, i) => {
    const label = audio.length === 1 ? 'Audio' : `Audio ${i + 1}`
    const link = /^https?:\/\//i.test(clip.url)
      ? `🔊 [${label}](${linkDestination(clip.url)})`
      : `🔊 ${label}: \`${clip.url.replace(/`/g, '')}\``
    const transcript = clip.transcript?.trim()
    return transcript
      ? `${link}\n${transcript
          .split('\n')
          .map(line => `> ${line}`)
          .join('\n')}`
      : link
  })
}

/**
 * One flow component's output as embeds: its name as the title, its text and audio (a link and
 * the transcript) in descriptions split within the limit, its branch in the footer. Nothing is
 * cut off: a name or branch too long for its slot moves into the description.
 */
export function flowEmbeds(entry: FlowOutput, color: number): Embed[] {
  const blocks: string[] = []
  let title = entry.componentName?.trim() || undefined
  if (title && title.length > SHORT_LABEL) {
    blocks.push(`**${title}**`)
    title = shorten(title, SHORT_LABEL)
  }
  let footer = entry.branch ? `branch ${entry.branch}` : undefined
  const body = [entry.content?.trim() ? entry.content : undefined, ...audioLines(entry.audio)].filter(Boolean)
  if (body.length === 0) return []
  blocks.push(...(body as string[]))
  if (footer && footer.length > SHORT_LABEL) {
    blocks.push(`-# ${footer}`)
    footer = undefined
  }
  const descriptions = discordTexts(blocks.join('\n\n'), EmbedLimit.description)
  return descriptions.map((description, i) => {
    const embed: Embed = { description, color }
    if (i === 0 && title) embed.title = title
    if (i === descriptions.length - 1 && footer) embed.footer = { text: footer }
    return embed
  })
}

/** Groups embeds, in order, into messages of at most 10 embeds and 6,000 characters. */
export function packEmbeds(embeds: Embed[]): Embed[][] {
  const batches: Embed[][] = []
  let batch: Embed[] = []
  let chars = 0
  for (const embed of embeds) {
    const size = embedChars(embed)
    if (batch.length > 0 && (batch.length === EmbedLimit.perMessage || chars + size > EmbedLimit.perMessageChars)) {
      batches.push(batch)
      batch = []
      chars = 0
    }
    batch.push(embed)
    chars += size
  }
  if (batch.length > 0) batches.push(batch)
  return batches
}
